"""The WebSocket gateway at ``/ws/``: one socket per browser tab.

The gateway checks who is connecting (the Origin against the site's own
origins, the Django session cookie, how many tabs the member has open, how
often this address connects), resumes a tab that is coming back, enforces the
frame size cap, the nesting limit and the per-socket rate limit, decodes each
frame into the schema an app declared and hands it to that app's handler. It
writes nothing itself and knows no app: they plug in through
``chatspheres.realtime.registry``.

Failures stay small: a bad frame gets an error frame; a handler that fails
unexpectedly is logged and answered with an ``internal`` error, and the
socket, and the call it carries, stay open.

It is a bare ASGI application rather than a Django Channels consumer: relaying
a signal this way costs a fraction of the CPU (docs/decisions/0001-realtime-gateway.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
from django.conf import settings
from django.db import DatabaseError
from django.http.request import split_domain_port, validate_host

from chatspheres.common.errors import (
    INTERNAL,
    RATE_LIMITED,
    TOO_DEEP,
    UNAVAILABLE,
    ApplicationError,
)
from chatspheres.common.events import tab_channel, user_channel
from chatspheres.realtime import metrics
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.fastpath import LANE_EXTENSION, GatewayWebSocketProtocol
from chatspheres.realtime.hub import Envelope
from chatspheres.realtime.protocol import (
    Event,
    Ready,
    Resync,
    encode,
    event_type,
    explain_refusal,
    nesting_depth_ok,
)
from chatspheres.realtime.registry import TabClosed, registry
from chatspheres.realtime.runtime import Runtime, current
from chatspheres.realtime.sessions import member_for_session
from chatspheres.realtime.tab import FloodGuard, Tab, deadline_after, new_tab_id

logger = logging.getLogger(__name__)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

CLOSE_POLICY_VIOLATION = 1008
CLOSE_TOO_BIG = 1009
# A service the gateway needs (Redis) is down: the page reconnects with backoff.
CLOSE_TRY_AGAIN = 1013
# Our own close codes (4000-4999 are the application's): the browser shows the reason.
CLOSE_REPLACED = 4002
CLOSE_TOO_MANY_TABS = 4003
CLOSE_TOO_MANY_HANDSHAKES = 4029
# A tab that closes or navigates away says goodbye with one of these; any
# other way of ending (1006: the network vanished; 1012: the server is
# restarting) is a lost socket, and the tab may come back.
CLEAN_CLOSE_CODES = frozenset({1000, 1001})

# Failures of a service the site depends on (Redis, the database) rather than
# of our code: the client is told to try again, in words.
try:
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
        RedisConnectionError,
        RedisTimeoutError,
        ConnectionError,
        DatabaseError,
    )
except ImportError:  # pragma: no cover - redis is a base requirement
    UNAVAILABLE_ERRORS = (ConnectionError, DatabaseError)


class TabReplaced(Event, tag="tab.replaced"):
    """To the server's own tabs: a newer socket of this tab took over."""

    logged = False


def _replaced(tab: Tab, envelope: Envelope) -> bool:
    if envelope.meta and envelope.meta[0] != tab.socket_id:
        tab.close_soon(
            CLOSE_REPLACED, "This tab reconnected on another socket.", ended_as=TabClosed.REPLACED
        )
    return False


registry.observe(TabReplaced, _replaced)


# The handshake --------------------------------------------------------------------


def header(scope: Scope, name: bytes) -> str:
    """One request header of the handshake, or ''."""
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


_DEFAULT_PORTS = {"http": "80", "https": "443"}


def normalized_origin(value: str) -> str | None:
    """``scheme://host:port`` with the port spelled out, or None if it is not an origin."""
    parts = urlsplit(value.strip().lower())
    if parts.scheme not in _DEFAULT_PORTS or not parts.netloc or parts.path not in ("", "/"):
        return None
    host, port = split_domain_port(parts.netloc)
    if not host:
        return None
    if parts.netloc.startswith("["):  # IPv6: split_domain_port drops the brackets
        host = parts.netloc[: parts.netloc.index("]") + 1]
    return f"{parts.scheme}://{host}:{port or _DEFAULT_PORTS[parts.scheme]}"


def site_origins(scope: Scope) -> set[str]:
    """The origins this site is served at: the request's own host, and CSRF_TRUSTED_ORIGINS."""
    origins = set()
    for trusted in settings.CSRF_TRUSTED_ORIGINS:
        origin = normalized_origin(trusted)
        if origin is not None:
            origins.add(origin)
    host = header(scope, b"host")
    domain, _port = split_domain_port(host)
    if domain and validate_host(domain, settings.ALLOWED_HOSTS):
        scheme = "https" if scope.get("scheme") == "wss" or _forwarded_https(scope) else "http"
        own = normalized_origin(f"{scheme}://{host}")
        if own is not None:
            origins.add(own)
    return origins


def _forwarded_https(scope: Scope) -> bool:
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if not proxy_header:
        return False
    name, value = proxy_header
    wanted = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    return header(scope, wanted) == value


def origin_refusal(scope: Scope) -> str | None:
    """Why the handshake's Origin is not one of ours, or None when it is."""
    origin = header(scope, b"origin")
    if not origin:
        return "no Origin header"
    normalized = normalized_origin(origin)
    if normalized is None:
        return f"malformed Origin {origin!r}"
    if normalized not in site_origins(scope):
        return f"foreign Origin {origin!r}"
    return None


def client_address(scope: Scope) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


@dataclass(frozen=True, slots=True)
class Resumption:
    tab: str
    after: int


def requested_resumption(scope: Scope) -> Resumption | None:
    """The tab a reconnecting page asks to resume (``?tab=…&last_event_id=…``), if well formed."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    tab = (query.get("tab") or [""])[0]
    after = (query.get("last_event_id") or [""])[0]
    if not (0 < len(tab) <= 32 and tab.replace("-", "").replace("_", "").isalnum()):
        return None
    if not (after.isdigit() and len(after) <= 20):
        return None
    return Resumption(tab=tab, after=int(after))


async def refuse_handshake(send: Send, reason: str, label: str) -> None:
    """Refuse before accepting (the browser sees HTTP 403); log why at INFO."""
    logger.info("refused a WebSocket handshake: %s", reason)
    metrics.HANDSHAKES_REFUSED.labels(label).inc()
    await send({"type": "websocket.close", "code": CLOSE_POLICY_VIOLATION})


async def accept_and_close(send: Send, code: int, reason: str, label: str) -> None:
    """Accept only to close with a reason the page can show (a refused handshake has none)."""
    logger.info("closed a new WebSocket at once: %s", reason)
    metrics.HANDSHAKES_REFUSED.labels(label).inc()
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.close", "code": code, "reason": reason})


async def gateway(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve one WebSocket from handshake to close."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    runtime = current()
    refusal = origin_refusal(scope)
    if refusal is not None:
        await refuse_handshake(send, refusal, "origin")
        return
    address = client_address(scope)
    if not await _within_handshake_limit(runtime, address):
        await accept_and_close(
            send,
            CLOSE_TOO_MANY_HANDSHAKES,
            "Too many connection attempts from your network. Wait a minute, then reload.",
            "handshake_rate",
        )
        return
    from django.http.cookie import parse_cookie

    session_key = parse_cookie(header(scope, b"cookie")).get(settings.SESSION_COOKIE_NAME, "")
    user_id = await run_in_db(member_for_session, session_key=session_key) if session_key else None
    if user_id is None:
        await refuse_handshake(send, f"no signed-in session ({address})", "session")
        return

    asked = requested_resumption(scope)
    try:
        resuming = asked is not None and await runtime.hub.tab_owner(asked.tab) == user_id
    except UNAVAILABLE_ERRORS as error:
        # Accepted, then closed in words: a refused handshake would make the
        # page give up, where this one only has to try again in a moment.
        logger.warning("a WebSocket handshake found the hub unavailable: %r", error)
        await accept_and_close(send, CLOSE_TRY_AGAIN, _TRY_AGAIN, "unavailable")
        return
    tab_id = asked.tab if resuming and asked is not None else new_tab_id()
    lane = scope.get("extensions", {}).get(LANE_EXTENSION)
    if not isinstance(lane, GatewayWebSocketProtocol) or not settings.REALTIME_FAST_LANE:
        lane = None  # another ASGI server, or the lane turned off: the ASGI route only
    tab = Tab(
        tab_id=tab_id,
        user_id=user_id,
        session_key=session_key,
        send=send,
        runtime=runtime,
        lane=lane,
    )
    await send({"type": "websocket.accept"})
    if lane is not None:
        lane.forget_handshake()
    try:
        open_tabs = await runtime.hub.tab_attach(tab.id, user_id, tab.socket_id)
    except UNAVAILABLE_ERRORS as error:
        logger.warning("tab %s could not be attached: %r", tab.id, error)
        await tab.close(CLOSE_TRY_AGAIN, _TRY_AGAIN)
        return
    if open_tabs > settings.REALTIME_MAX_TABS_PER_MEMBER:
        await runtime.hub.tab_detach(tab.id, tab.socket_id)
        logger.info("member %s has %s tabs open; refused one more", user_id, open_tabs - 1)
        metrics.HANDSHAKES_REFUSED.labels("too_many_tabs").inc()
        await tab.close(
            CLOSE_TOO_MANY_TABS,
            f"ChatSpheres is open in too many tabs (at most "
            f"{settings.REALTIME_MAX_TABS_PER_MEMBER}). Close one, then reload this one.",
        )
        return

    runtime.tabs[tab.id] = tab
    metrics.SOCKETS_OPEN.inc()
    close_code = 1006
    try:
        await _welcome(tab, resume_after=asked.after if resuming and asked else None)
        if tab.lane is not None:
            tab.lane.fast_receiver = tab.receive_now
        close_code = await serve(tab, receive)
    finally:
        metrics.SOCKETS_OPEN.dec()
        if lane is not None:
            lane.fast_receiver = None
        if runtime.tabs.get(tab.id) is tab:
            del runtime.tabs[tab.id]
        await _tab_closed(tab, close_code)


_TRY_AGAIN = "ChatSpheres can't reach a service it needs right now; this page reconnects soon."


async def _within_handshake_limit(runtime: Runtime, address: str) -> bool:
    try:
        return await runtime.hub.hit(
            f"handshakes:{address}", settings.REALTIME_HANDSHAKES_PER_MINUTE, 60.0
        )
    except UNAVAILABLE_ERRORS as error:
        # The limit guards the hub and the database; with the hub down there
        # is nothing to protect, and refusing everyone would be worse.
        logger.warning("handshake limit unavailable: %r", error)
        return True


async def _welcome(tab: Tab, *, resume_after: int | None) -> None:
    """Say ``ready`` and subscribe the tab; a tab coming back resumes and catches up."""
    hub = tab.hub
    if resume_after is not None:
        # Close the tab's old socket if some process still holds it.
        await hub.publish(
            tab_channel(tab.id), Envelope(encode(TabReplaced()), "tab.replaced", (tab.socket_id,))
        )
        for resumed_hook in tab.registry.tab_resumed_hooks:
            await resumed_hook(tab)
        await tab.send(
            Ready(user=tab.user_id, tab=tab.id, last_event_id=resume_after, resumed=True)
        )
        tab.hold()
        await hub.subscribe(tab_channel(tab.id), tab)
        await hub.subscribe(user_channel(tab.user_id), tab)
        if not await tab.catch_up(resume_after):
            await tab.send(
                Resync(
                    message="You were away too long to catch up; this page reloads what it shows."
                )
            )
            for resync_hook in tab.registry.tab_resync_hooks:
                await resync_hook(tab)
    else:
        tab.last_event_id = await hub.last_event_id(tab.user_id)
        await hub.subscribe(tab_channel(tab.id), tab)
        await hub.subscribe(user_channel(tab.user_id), tab)
        await tab.send(
            Ready(user=tab.user_id, tab=tab.id, last_event_id=tab.last_event_id, resumed=False)
        )
        for opened_hook in tab.registry.tab_opened_hooks:
            await opened_hook(tab)


async def serve(tab: Tab, receive: Receive) -> int:
    """The receive loop; returns the close code the socket ended with."""
    max_bytes = settings.REALTIME_MAX_FRAME_BYTES
    guard = tab.guard
    decode = tab.registry.decoder.decode
    handlers = tab.registry.handlers
    while True:
        message = await receive()
        if message["type"] != "websocket.receive":
            return int(message.get("code", 1000))
        text = message.get("text")
        if text is None:
            raw = message.get("bytes") or b""
            if len(raw) > max_bytes:
                await tab.close(
                    CLOSE_TOO_BIG, "That message was too big.", ended_as=TabClosed.CLOSED
                )
                return CLOSE_TOO_BIG
            try:
                text = raw.decode()
            except UnicodeDecodeError:
                await tab.send_error("bad_frame", "Frames must be UTF-8 JSON text.")
                continue
        elif len(text) > max_bytes:
            await tab.close(CLOSE_TOO_BIG, "That message was too big.", ended_as=TabClosed.CLOSED)
            return CLOSE_TOO_BIG

        verdict = guard.admit()
        if verdict != FloodGuard.ADMIT:
            if verdict == FloodGuard.CLOSE:
                await tab.close(
                    CLOSE_POLICY_VIOLATION, "Too many messages.", ended_as=TabClosed.CLOSED
                )
                return CLOSE_POLICY_VIOLATION
            if verdict == FloodGuard.DROP_AND_WARN:
                await tab.send_error(RATE_LIMITED)
            continue

        if not nesting_depth_ok(text):
            await tab.send_error(TOO_DEEP)
            continue
        try:
            frame = decode(text)
        except (msgspec.ValidationError, msgspec.DecodeError):
            code, words = explain_refusal(text, tab.registry.schemas)
            await tab.send_error(code, words)
            continue
        await dispatch(tab, handlers[type(frame)], frame, text)


async def dispatch(tab: Tab, handler: Any, frame: Any, text: str) -> None:
    """Run one handler; whatever goes wrong, the tab gets an answer and keeps its socket."""
    tab.busy += 1
    try:
        await handler(tab, frame, text)
    except ApplicationError as refusal:
        await tab.send_error(refusal.code, refusal.message)
    except UNAVAILABLE_ERRORS as error:
        logger.warning("%s on tab %s: a backing service failed: %r", _type_of(frame), tab.id, error)
        await tab.send_error(UNAVAILABLE)
    except Exception:
        # One record, with the traceback; the socket and its call carry on.
        logger.exception("the %s handler failed on tab %s", _type_of(frame), tab.id)
        metrics.HANDLER_ERRORS.labels(_type_of(frame)).inc()
        await tab.send_error(INTERNAL)
    finally:
        tab.busy -= 1


def _type_of(frame: Any) -> str:
    tag = type(frame).__struct_config__.tag
    return str(tag)


def _how_closed(tab: Tab, close_code: int) -> TabClosed:
    if isinstance(tab.ended_as, TabClosed):
        return tab.ended_as
    return TabClosed.CLOSED if close_code in CLEAN_CLOSE_CODES else TabClosed.LOST


async def _tab_closed(tab: Tab, close_code: int) -> None:
    """Undo what the socket was part of; end the tab now, or give it time to come back."""
    how = _how_closed(tab, close_code)
    runtime, hub = tab.runtime, tab.hub
    steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
        ("unsubscribing", lambda: hub.unsubscribe(tab_channel(tab.id), tab)),
        ("unsubscribing", lambda: hub.unsubscribe(user_channel(tab.user_id), tab)),
    ]
    steps += [("cleaning up", _bind(hook, tab, how)) for hook in tab.registry.tab_closed_hooks]
    if how is TabClosed.LOST:
        deadline = deadline_after(settings.REALTIME_RECONNECT_GRACE_SECONDS)
        steps.append(("marking lost", lambda: hub.tab_lost(tab.id, tab.socket_id, deadline)))
    elif how is TabClosed.REPLACED:
        # The newer socket serves the tab, so the registry is unchanged; a hub
        # that keeps this process's tabs (RedisHub) forgets this socket here.
        steps.append(("detaching", lambda: hub.tab_detach(tab.id, tab.socket_id)))
    else:
        steps.append(("detaching", lambda: hub.tab_detach(tab.id, tab.socket_id)))
        steps += [
            ("ending", _bind_ended(hook, runtime, tab.id, tab.user_id))
            for hook in tab.registry.tab_ended_hooks
        ]
    for what, step in steps:
        # Each runs even if another failed: a stuck queue entry must not keep
        # a conversation open, nor the other way round.
        try:
            await step()
        except UNAVAILABLE_ERRORS as error:
            # One line each while Redis is away, not a traceback per tab.
            logger.warning("%s after tab %s closed (%s) failed: %r", what, tab.id, how.value, error)
        except Exception:
            logger.exception("%s after tab %s closed (%s) failed", what, tab.id, how.value)


def _bind(hook: Any, tab: Tab, how: TabClosed) -> Callable[[], Awaitable[None]]:
    return lambda: hook(tab, how)


def _bind_ended(hook: Any, runtime: Runtime, tab: str, user: int) -> Callable[[], Awaitable[None]]:
    return lambda: hook(runtime, tab, user, "left")


__all__ = ["event_type", "gateway"]
