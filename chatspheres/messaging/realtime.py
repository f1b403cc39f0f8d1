"""Messages over the socket: each new message arrives live (``message.new``, logged per member,
so a tab that reconnects catches up); a tab that missed too much is sent its unread count again
and reloads the thread it shows. Sending and reading go over HTTP, so a message is acknowledged
only once it is saved, and nothing here takes a thread from the client."""

from __future__ import annotations

from chatspheres.messaging.events import MessagesUnread
from chatspheres.messaging.selectors import unread_total
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.registry import registry
from chatspheres.realtime.tab import Tab


@registry.on_tab_resync
async def resend_unread_messages(tab: Tab) -> None:
    """A tab back too late to catch up learns the member's unread message count now."""
    unread = await run_in_db(unread_total, user_id=tab.user_id)
    await tab.send(MessagesUnread(unread=unread))
