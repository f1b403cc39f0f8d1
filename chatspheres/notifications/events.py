"""What the notifications app tells a member's tabs (docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime

import msgspec

from chatspheres.realtime.protocol import Event


class NotificationCard(msgspec.Struct, kw_only=True):
    """One notification as a tab shows it: the words, where it leads, when."""

    id: int
    kind: str
    text: str
    url: str
    created: datetime
    read: bool = False


class NotificationNew(Event, tag="notification.new"):
    """Something happened for the member; ``unread`` is their unread count now."""

    notification: NotificationCard
    unread: int


class NotificationUnread(Event, tag="notification.unread"):
    """The member's unread count changed (read in another tab), or a resynced tab needs it."""

    unread: int
