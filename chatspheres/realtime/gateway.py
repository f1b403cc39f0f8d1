"""The WebSocket gateway at ``/ws/``: one socket per tab.

The gateway checks who is connecting (Origin against ``ALLOWED_HOSTS``, the
Django session cookie), enforces the frame size cap and the per-connection
rate limit, decodes each frame into its ``msgspec`` schema and hands it to the
handler of the app that owns the message type. It writes nothing itself.
A bad frame gets an error frame and changes nothing; the socket stays open.

It is a bare ASGI application rather than a Django Channels consumer: relaying
a signal this way costs a fraction of the CPU (docs/decisions/0001-realtime-gateway.md).
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import msgspec
from django.conf import settings
from django.http.request import split_domain_port, validate_host

from chatspheres.calls import realtime as calls_realtime
from chatspheres.common.errors import ApplicationError
from chatspheres.common.events import connection_channel, user_channel
from chatspheres.matching import realtime as matching_realtime
from chatspheres.realtime import protocol
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.fastpath import LANE_EXTENSION, GatewayWebSocketProtocol
from chatspheres.realtime.hub import Envelope, Hub, Kind
from chatspheres.realtime.runtime import Runtime, current
from chatspheres.spheres import realtime as spheres_realtime

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
# A tab that closes or navigates away says goodbye with one of these; any
# other way of ending (1006: the network vanished) is a lost connection.
CLEAN_CLOSE_CODES = frozenset({1000, 1001})

Handler = Callable[["Connection", Any, str], Awaitable[None]]

HANDLERS: dict[type[protocol.Incoming], Handler] = {
    protocol.SphereEnter: spheres_realtime.sphere_enter,
    protocol.SphereLeave: spheres_realtime.sphere_leave,
    protocol.QueueJoin: matching_realtime.queue_join,
    protocol.QueueLeave: matching_realtime.queue_leave,
    protocol.Signal: calls_realtime.relay_to_partner,
    protocol.MediaState: calls_realtime.relay_to_partner,
    protocol.ChatSend: calls_realtime.chat_send,
    protocol.CallEnd: calls_realtime.call_end,
}


class FloodGuard:
    """A token bucket per socket, and the patience it has with a flood.

    Up to ``burst`` frames pass at once and ``rate`` per second after that.
    Frames beyond are dropped; a client that has more than ``flood_limit``
    frames dropped within ``flood_window`` seconds is flooding and is closed.
    """

    ADMIT, DROP_AND_WARN, DROP, CLOSE = range(4)

    __slots__ = (
        "_burst",
        "_clock",
        "_dropped",
        "_flood_limit",
        "_flood_window",
        "_last",
        "_rate",
        "_tokens",
        "_window_start",
    )

    def __init__(
        self,
        *,
        rate: float,
        burst: int,
        flood_limit: int,
        flood_window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._flood_limit = flood_limit
        self._flood_window = flood_window
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()
        self._dropped = 0
        self._window_start = self._last

    def _refill(self) -> float:
        now = self._clock()
        tokens = self._tokens + (now - self._last) * self._rate
        self._tokens = tokens if tokens < self._burst else self._burst
        self._last = now
        return now

    def take_token(self) -> bool:
        """Admit a frame if the bucket allows it now; never counts a drop."""
        self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False

    def refund(self) -> None:
        """Give back the token of a frame that was handed on to :meth:`admit` after all."""
        self._tokens += 1.0

    def admit(self) -> int:
        """Decide the fate of the frame that just arrived."""
        now = self._refill()
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return self.ADMIT
        if now - self._window_start > self._flood_window:
            self._window_start = now
            self._dropped = 0
        self._dropped += 1
        if self._dropped > self._flood_limit:
            return self.CLOSE
        return self.DROP_AND_WARN if self._dropped == 1 else self.DROP


class Connection:
    """One authenticated tab: what it is doing now, and how to reach its socket."""

    __slots__ = (
        "_closed",
        "_send",
        "conversation",
        "guard",
        "hub",
        "id",
        "lane",
        "partner_channel",
        "runtime",
        "sphere",
        "took_part",
        "user_id",
    )

    def __init__(
        self,
        *,
        user_id: int,
        send: Send,
        runtime: Runtime,
        lane: GatewayWebSocketProtocol | None = None,
    ) -> None:
        self.id = secrets.token_urlsafe(12)
        self.user_id = user_id
        self.runtime = runtime
        self.hub: Hub = runtime.hub
        self._send = send
        self._closed = False
        # The conversation this tab is in, and the channel of the partner's tab.
        self.conversation: str | None = None
        self.partner_channel: str | None = None
        # The sphere this tab counts as online in.
        self.sphere: int | None = None
        # Set once the tab queued: from then on its close may end a conversation.
        self.took_part = False
        self.guard = FloodGuard(
            rate=settings.REALTIME_RATE_PER_SECOND,
            burst=settings.REALTIME_RATE_BURST,
            flood_limit=settings.REALTIME_FLOOD_LIMIT,
            flood_window=settings.REALTIME_FLOOD_WINDOW,
        )
        # uvicorn's socket itself, when served by GatewayWebSocketProtocol.
        self.lane = lane

    def receive_now(self, text: str) -> bool:
        """Relay a signal or media state at once, from uvicorn's callback; False declines.

        Only a frame the ordinary route would relay without a word is taken
        here: anything else (another type, a bad frame, a conversation that is
        not this tab's, a full rate bucket, a partner who cannot take it right
        now) is declined and reaches :func:`serve` as usual.
        """
        channel = self.partner_channel
        if channel is None or len(text) > settings.REALTIME_MAX_FRAME_BYTES:
            return False
        try:
            frame = protocol.relay_decoder.decode(text)
        except msgspec.MsgspecError:
            return False
        conversation = frame.conversation
        if conversation != self.conversation or not self.guard.take_token():
            return False
        try:
            if self.hub.publish_now(channel, Envelope(text, Kind.RELAY, conversation)):
                return True
        except Exception:
            logger.exception("fast relay failed on connection %s", self.id)
        self.guard.refund()
        return False

    def deliver_now(self, envelope: Envelope) -> bool:
        """Take a relayed envelope synchronously; False when it must go through :meth:`deliver`."""
        if envelope.kind != Kind.RELAY or self.lane is None:
            return False
        if envelope.conversation != self.conversation or self._closed:
            return True  # as deliver() would: the call ended on this side
        return self.lane.write_text_now(envelope.frame)

    async def deliver(self, envelope: Envelope) -> None:
        """Take an envelope from the hub: update the call state, then send the frame."""
        kind = envelope.kind
        if kind == Kind.RELAY:
            if envelope.conversation != self.conversation:
                return  # the call ended on this side; relay nothing more for it
        elif kind == Kind.MATCHED:
            self.conversation = envelope.conversation
            self.partner_channel = connection_channel(envelope.partner or "")
        elif kind == Kind.ENDED and envelope.conversation == self.conversation:
            self.leave_conversation()
        await self.send_text(envelope.frame)

    def leave_conversation(self) -> None:
        """Stop relaying for the current conversation."""
        self.conversation = None
        self.partner_channel = None

    async def send_text(self, text: str) -> None:
        """Send a frame unless the socket is already gone."""
        if self._closed:
            return
        try:
            await self._send({"type": "websocket.send", "text": text})
        except Exception:
            # The client vanished mid-send (uvicorn raises its own disconnect
            # errors); the receive loop sees the disconnect and cleans up.
            self._closed = True

    async def send_error(self, code: str, message: str) -> None:
        """Tell the client a frame was refused, in words."""
        await self.send_text(protocol.error_frame(code, message))

    async def close(self, code: int) -> None:
        """Close the socket with ``code``."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._send({"type": "websocket.close", "code": code})
        except Exception:
            logger.debug("socket already gone while closing with %s", code)


def origin_allowed(scope: Scope) -> bool:
    """True when the Origin header names one of our own hosts."""
    origin = header(scope, b"origin")
    if not origin:
        return False
    parts = urlsplit(origin)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return False
    domain, _port = split_domain_port(parts.netloc)
    return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)


def header(scope: Scope, name: bytes) -> str:
    """One request header of the handshake, or ''."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


async def authenticate(scope: Scope) -> int | None:
    """The signed-in member behind the handshake, or None to refuse it."""
    if not origin_allowed(scope):
        return None
    from django.http.cookie import parse_cookie

    session_key = parse_cookie(header(scope, b"cookie")).get(settings.SESSION_COOKIE_NAME)
    if not session_key:
        return None
    from chatspheres.accounts.selectors import user_id_for_session

    return await run_in_db(user_id_for_session, session_key=session_key)


async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one WebSocket from handshake to close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    user_id = await authenticate(scope)
    if user_id is None:
        # Closing before accepting makes the server answer the handshake with 403.
        await send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})
        return
    await send({"type": "websocket.accept"})

    runtime = current()
    lane = scope.get("extensions", {}).get(LANE_EXTENSION)
    if not isinstance(lane, GatewayWebSocketProtocol):
        lane = None  # served by another ASGI server: every frame takes the ASGI route
    conn = Connection(user_id=user_id, send=send, runtime=runtime, lane=lane)
    await runtime.hub.subscribe(connection_channel(conn.id), conn)
    await runtime.hub.subscribe(user_channel(user_id), conn)
    close_code = 1006
    try:
        await conn.send_text(protocol.encode({"type": "ready", "user": user_id}))
        if lane is not None:
            lane.fast_receiver = conn.receive_now
        close_code = await serve(conn, receive)
    finally:
        if lane is not None:
            lane.fast_receiver = None
        await runtime.hub.unsubscribe(connection_channel(conn.id), conn)
        await runtime.hub.unsubscribe(user_channel(user_id), conn)
        await disconnected(conn, clean=close_code in CLEAN_CLOSE_CODES)


async def serve(conn: Connection, receive: Receive) -> int:
    """The receive loop; returns the close code the client left with."""
    max_bytes = settings.REALTIME_MAX_FRAME_BYTES
    guard = conn.guard
    decode = protocol.decoder.decode
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return int(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            if len(raw) > max_bytes:
                await conn.close(CLOSE_TOO_BIG)
                return CLOSE_TOO_BIG
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                await conn.send_error("bad_frame", "Frames must be UTF-8 JSON text.")
                continue
        elif len(text) > max_bytes:
            await conn.close(CLOSE_TOO_BIG)
            return CLOSE_TOO_BIG

        verdict = guard.admit()
        if verdict != FloodGuard.ADMIT:
            if verdict == FloodGuard.CLOSE:
                await conn.close(CLOSE_POLICY_VIOLATION)
                return CLOSE_POLICY_VIOLATION
            if verdict == FloodGuard.DROP_AND_WARN:
                await conn.send_error(
                    "rate_limited", "You are sending too fast; some messages were dropped."
                )
            continue

        try:
            frame = decode(text)
        except msgspec.ValidationError as error:
            await refuse_frame(conn, error)
            continue
        except msgspec.DecodeError:
            await conn.send_error("bad_frame", "That was not a JSON object.")
            continue
        try:
            await HANDLERS[type(frame)](conn, frame, text)
        except ApplicationError as refusal:
            await conn.send_error(refusal.code, refusal.message)


async def refuse_frame(conn: Connection, error: msgspec.ValidationError) -> None:
    """Explain why a well-formed JSON frame does not fit any message type."""
    detail = str(error)
    if detail.startswith("Expected `object`"):
        await conn.send_error("bad_frame", "Each message must be a JSON object with a type.")
    elif detail.endswith("`$.type`") or "Object missing required field `type`" in detail:
        await conn.send_error("unknown_type", "Unknown message type.")
    elif "Expected `str` of length <= 1000" in detail:
        await conn.send_error("too_long", "A chat message can be at most 1,000 characters.")
    else:
        await conn.send_error("bad_frame", f"Malformed message: {detail}")


async def disconnected(conn: Connection, *, clean: bool) -> None:
    """Undo everything the tab was part of: queue, presence, conversation."""
    cleanups: tuple[Callable[[], Awaitable[None]], ...] = (
        lambda: matching_realtime.connection_closed(conn),
        lambda: spheres_realtime.connection_closed(conn),
        lambda: calls_realtime.connection_closed(conn, clean=clean),
    )
    for cleanup in cleanups:
        # Each runs even if another failed: a stuck queue entry must not keep
        # a conversation open, nor the other way round.
        try:
            await cleanup()
        except Exception:
            logger.exception("cleaning up after connection %s failed", conn.id)
