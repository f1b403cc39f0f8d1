"""What the messaging app tells a member's tabs (docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from chatspheres.realtime.protocol import Event


class MessageCard(msgspec.Struct, kw_only=True):
    """One message as a thread shows it; ``html`` is escaped text with plain links and cards."""

    id: int
    key: str
    mine: bool
    author: str
    html: str
    created: datetime


class MessageNew(Event, tag="message.new"):
    """A message in the thread with ``with_handle``, to both people's tabs once it is saved."""

    with_handle: str
    message: MessageCard
    unread: int


class MessageSeen(Event, tag="message.seen"):
    """The other read up to ``upto`` (sent only when both turned read receipts on)."""

    with_handle: str
    upto: int


class MessagesUnread(Event, tag="messages.unread"):
    """The member's unread message count changed (read elsewhere), or a resynced tab needs it."""

    unread: int
