"""Messages over the socket: sending from an open thread page (``message.send``, answered with
``message.sent`` once the message is saved, or ``message.refused`` in words), each new message
live to both people's tabs (``message.new``, logged per member, so a tab that reconnects catches
up), and the unread count again for a tab that missed too much.

The page sends over HTTP instead when its socket is not open, or gets no answer in time: both
ways run ``services.message_send`` with the page's key, so a message is stored once whichever
way it went, and acknowledged only once it is saved. Nothing here takes a thread from the
client: the sender is the tab's member and the thread is theirs with the handle they name.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

from chatspheres.common.errors import ApplicationError
from chatspheres.common.ratelimit import RateLimited
from chatspheres.messaging.events import MessageCard, MessagesUnread
from chatspheres.messaging.models import MESSAGE_MAX_LENGTH
from chatspheres.messaging.selectors import unread_total
from chatspheres.messaging.services import message_send
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.protocol import Event, Handle, Incoming, Token
from chatspheres.realtime.registry import registry
from chatspheres.realtime.tab import Tab

# Room for a message at the limit with line ends written as "\r\n"; the service
# says in words when the text is too long, with the key, so the page can tell.
Body = Annotated[str, msgspec.Meta(max_length=2 * MESSAGE_MAX_LENGTH)]


class MessageSend(Incoming, tag="message.send"):
    """Send a message to the person with ``to`` (the page's key makes a retry harmless)."""

    to: Handle
    body: Body
    # The page's key for the message (the service checks its shape).
    key: Token


class MessageSent(Event, tag="message.sent"):
    """The message with this key is saved (``created`` false: it had been already)."""

    logged = False
    key: str
    created: bool
    message: MessageCard


class MessageRefused(Event, tag="message.refused"):
    """The message with this key was not saved, and why; ``retry_after`` (seconds) for a limit."""

    logged = False
    key: str
    code: str
    message: str
    retry_after: int | None = None


@registry.message(MessageSend)
async def send(tab: Tab, message: MessageSend, _text: str) -> None:
    """Send a message; the answer comes after both people's tabs were told."""
    try:
        sent = await run_in_db(
            message_send,
            sender_id=tab.user_id,
            handle=message.to,
            body=message.body,
            client_key=message.key,
        )
    except ApplicationError as refusal:
        await tab.send(
            MessageRefused(
                key=message.key,
                code=refusal.code,
                message=refusal.message,
                retry_after=refusal.retry_after if isinstance(refusal, RateLimited) else None,
            )
        )
        return
    await tab.send(MessageSent(key=message.key, created=sent.created, message=sent.card))


@registry.on_tab_resync
async def resend_unread_messages(tab: Tab) -> None:
    """A tab back too late to catch up learns the member's unread message count now."""
    unread = await run_in_db(unread_total, user_id=tab.user_id)
    await tab.send(MessagesUnread(unread=unread))
