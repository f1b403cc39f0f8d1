"""What safety tells other apps, so that it never imports them.

``block_made`` is sent inside ``block_create``'s transaction with
``blocker_id`` and ``blocked_id``: the connections app ends the pair's
follows, wishes and rings (a receiver that fails undoes the block).
"""

from __future__ import annotations

from django.dispatch import Signal

block_made = Signal()
