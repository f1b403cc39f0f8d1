"""Notifications over the socket: each arrives live (``notification.new``, logged, so a tab
that reconnects catches up); a tab that missed too much is sent its unread count again."""

from __future__ import annotations

from chatspheres.notifications.events import NotificationUnread
from chatspheres.notifications.selectors import unread_count
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.registry import registry
from chatspheres.realtime.tab import Tab


@registry.on_tab_resync
async def resend_unread(tab: Tab) -> None:
    """A tab back too late to catch up learns the member's unread count now."""
    unread = await run_in_db(unread_count, user_id=tab.user_id)
    await tab.send(NotificationUnread(unread=unread))
