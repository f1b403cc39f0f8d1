"""Where other apps plug into calls, so calls never imports them.

- ``conversation_started`` and ``conversation_rated`` are sent inside the
  service's transaction (a receiver that fails undoes the change);
- the recap shown on a partner card comes from the provider registered with
  :func:`recap_provider_register` (the connections app's, once it is ready).
"""

from __future__ import annotations

from collections.abc import Callable

from django.dispatch import Signal

from chatspheres.calls.events import Recap

# Both sent with sender=Conversation; kwargs: conversation, and user_id for a rating.
conversation_started = Signal()
conversation_rated = Signal()

RecapProvider = Callable[[int, int], Recap]
_recap_provider: RecapProvider | None = None


def recap_provider_register(provider: RecapProvider | None) -> None:
    """Say who tells a viewer what they shared with a partner before (None: nobody)."""
    global _recap_provider
    _recap_provider = provider


def recap_between(*, viewer_id: int, partner_id: int) -> Recap:
    """The viewer's recap of the partner, or an empty one when no app provides it."""
    if _recap_provider is None:
        return Recap()
    return _recap_provider(viewer_id, partner_id)
