"""Real-time events that leave only after the database has committed.

Services call :func:`send_event_on_commit`; if the transaction rolls back, the
event is never announced (Zulip's ``send_event_on_commit`` is the model). The
event goes to the hub of the running server, which fans it out to every
connection subscribed to the channel, on whichever process it lives.
"""

from __future__ import annotations

from functools import partial

from django.db import transaction

from chatspheres.realtime.hub import Envelope
from chatspheres.realtime.runtime import publish_from_thread


def send_event_on_commit(channel: str, envelope: Envelope) -> None:
    """Publish ``envelope`` on ``channel`` once the current transaction commits."""
    transaction.on_commit(partial(publish_from_thread, channel, envelope))


def user_channel(user_id: int) -> str:
    """Every tab of one member listens here."""
    return f"user:{user_id}"


def connection_channel(ticket: str) -> str:
    """Only one tab (one WebSocket) listens here."""
    return f"conn:{ticket}"


def sphere_channel(sphere_id: int) -> str:
    """Tabs looking at a sphere listen here for its online counts."""
    return f"sphere:{sphere_id}"
