"""Queue messages on the socket: start waiting, stop waiting, get matched."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatspheres.calls.services import conversation_start
from chatspheres.common.errors import ApplicationError
from chatspheres.common.events import connection_channel
from chatspheres.matching.engine import Seeker
from chatspheres.matching.selectors import queue_ticket_for
from chatspheres.realtime import protocol
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Envelope
from chatspheres.spheres.realtime import announce_presence, sphere_counts

if TYPE_CHECKING:
    from chatspheres.realtime.gateway import Connection


def queue_left_frame(reason: str) -> str:
    return protocol.encode({"type": "queue.left", "reason": reason})


async def queue_join(conn: Connection, message: protocol.QueueJoin, _text: str) -> None:
    """Wait for a partner in a sphere; pair at once if a good one is waiting."""
    if conn.conversation is not None:
        raise ApplicationError("You are already in a conversation.", code="already_in_call")
    ticket = await run_in_db(queue_ticket_for, user_id=conn.user_id, sphere_id=message.sphere)
    matcher = conn.runtime.matcher
    replaced = await matcher.leave(conn.user_id)
    if replaced is not None and replaced.ticket != conn.id:
        # One wait per member: the newest tab takes over and the older one is told.
        await conn.hub.publish(
            connection_channel(replaced.ticket), Envelope(queue_left_frame("elsewhere"))
        )
    conn.took_part = True
    pairing = await matcher.join(
        Seeker(
            person=conn.user_id,
            ticket=conn.id,
            pool=ticket.sphere_id,
            interests=ticket.interests,
            excluded=ticket.excluded,
        )
    )
    if pairing is None:
        await conn.send_text(await sphere_counts(conn, ticket.sphere_id, kind="queue.waiting"))
    else:
        await run_in_db(
            conversation_start,
            sphere_id=ticket.sphere_id,
            a_user_id=pairing.partner.person,
            a_ticket=pairing.partner.ticket,
            b_user_id=pairing.arrival.person,
            b_ticket=pairing.arrival.ticket,
            shared_interests=pairing.shared,
        )
    await announce_presence(conn, ticket.sphere_id)


async def queue_leave(conn: Connection, _message: protocol.QueueLeave, _text: str) -> None:
    """Stop waiting (Cancel)."""
    removed = await conn.runtime.matcher.leave(conn.user_id, conn.id)
    await conn.send_text(queue_left_frame("cancelled"))
    if removed is not None:
        await announce_presence(conn, removed.pool)


async def connection_closed(conn: Connection) -> None:
    """A closed tab stops waiting."""
    removed = await conn.runtime.matcher.leave(conn.user_id, conn.id)
    if removed is not None:
        await announce_presence(conn, removed.pool)
