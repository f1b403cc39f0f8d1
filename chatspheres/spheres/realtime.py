"""Sphere presence over the socket: who is online in a sphere right now."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chatspheres.common.events import sphere_channel
from chatspheres.realtime import protocol
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Envelope
from chatspheres.spheres.selectors import access_sphere

if TYPE_CHECKING:
    from chatspheres.realtime.gateway import Connection


async def sphere_counts(conn: Connection, sphere_id: int, *, kind: str) -> str:
    """A ``kind`` frame with how many are online in a sphere and how many wait there now."""
    channel = sphere_channel(sphere_id)
    online = (await conn.hub.presence_counts([channel]))[channel]
    waiting = await conn.runtime.matcher.waiting_count(sphere_id)
    return protocol.encode(
        {"type": kind, "sphere": sphere_id, "online": online, "waiting": waiting}
    )


async def presence_frame(conn: Connection, sphere_id: int) -> str:
    """The current online and waiting counts of a sphere, as a frame."""
    return await sphere_counts(conn, sphere_id, kind="sphere.presence")


async def announce_presence(conn: Connection, sphere_id: int) -> None:
    """Tell every tab looking at the sphere its new counts."""
    frame = await presence_frame(conn, sphere_id)
    await conn.hub.publish(sphere_channel(sphere_id), Envelope(frame))


async def sphere_enter(conn: Connection, message: protocol.SphereEnter, _text: str) -> None:
    """The tab is looking at a sphere: count it online there and keep it informed."""
    if conn.sphere == message.sphere:
        await conn.send_text(await presence_frame(conn, message.sphere))
        return
    await run_in_db(access_sphere, sphere_id=message.sphere)
    await _leave_current(conn)
    conn.sphere = message.sphere
    channel = sphere_channel(message.sphere)
    await conn.hub.subscribe(channel, conn)
    if await conn.hub.presence_add(channel, conn.user_id):
        await announce_presence(conn, message.sphere)
    else:
        await conn.send_text(await presence_frame(conn, message.sphere))


async def sphere_leave(conn: Connection, _message: protocol.SphereLeave, _text: str) -> None:
    """The tab no longer looks at its sphere."""
    await _leave_current(conn)


async def connection_closed(conn: Connection) -> None:
    """A closed tab is no longer online anywhere."""
    await _leave_current(conn)


async def _leave_current(conn: Connection) -> None:
    sphere_id = conn.sphere
    if sphere_id is None:
        return
    conn.sphere = None
    channel = sphere_channel(sphere_id)
    await conn.hub.unsubscribe(channel, conn)
    if await conn.hub.presence_remove(channel, conn.user_id):
        await announce_presence(conn, sphere_id)
