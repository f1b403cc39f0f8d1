"""Call messages on the socket: signaling relay, chat, ending a call.

The relay is the hot path: it touches no database. The target is never taken
from the client: it is the partner's tab of the sender's own active
conversation, set when the match was announced to this tab.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.utils import timezone

from chatspheres.calls.models import Conversation
from chatspheres.calls.selectors import access_conversation
from chatspheres.calls.services import conversation_end, conversation_end_for_ticket
from chatspheres.common.errors import ApplicationError
from chatspheres.realtime import protocol
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Envelope, Kind

if TYPE_CHECKING:
    from chatspheres.realtime.gateway import Connection

NOT_IN_CONVERSATION = "You are not in that conversation."


def _partner_channel(conn: Connection, conversation: str) -> str:
    if conversation != conn.conversation or conn.partner_channel is None:
        raise ApplicationError(NOT_IN_CONVERSATION, code="not_in_conversation")
    return conn.partner_channel


async def relay_to_partner(
    conn: Connection, message: protocol.Signal | protocol.MediaState, text: str
) -> None:
    """Pass a signal or media state, verbatim, to the partner's tab."""
    channel = _partner_channel(conn, message.conversation)
    await conn.hub.publish(channel, Envelope(text, Kind.RELAY, message.conversation))


async def chat_send(conn: Connection, message: protocol.ChatSend, _text: str) -> None:
    """Pass a chat line to the partner, stamped with the server's time."""
    channel = _partner_channel(conn, message.conversation)
    frame = protocol.chat_message_frame(message.conversation, message.text, timezone.now())
    await conn.hub.publish(channel, Envelope(frame, Kind.RELAY, message.conversation))


def _end_by_participant(*, user_id: int, public_id: str, reason: str) -> Conversation | None:
    conversation = access_conversation(user_id=user_id, public_id=public_id)
    if conversation_end(conversation=conversation, by_user_id=user_id, reason=reason):
        return conversation
    return None


async def call_end(conn: Connection, message: protocol.CallEnd, _text: str) -> None:
    """End the call (End call or Next); both tabs hear of it once it is saved."""
    if message.conversation == conn.conversation:
        # Stop relaying from this side at once, before the database answers.
        conn.leave_conversation()
    ended = await run_in_db(
        _end_by_participant,
        user_id=conn.user_id,
        public_id=message.conversation,
        reason=message.reason,
    )
    if ended is not None:
        await conn.runtime.matcher.note_parted(ended.user_a_id, ended.user_b_id)


async def connection_closed(conn: Connection, *, clean: bool) -> None:
    """A tab that goes away ends the conversation it was in; the partner is told."""
    if not conn.took_part:
        return
    conn.leave_conversation()
    reason = Conversation.EndReason.LEFT if clean else Conversation.EndReason.DISCONNECTED
    ended = await run_in_db(conversation_end_for_ticket, ticket=conn.id, reason=reason)
    if ended is not None:
        await conn.runtime.matcher.note_parted(ended.user_a_id, ended.user_b_id)
