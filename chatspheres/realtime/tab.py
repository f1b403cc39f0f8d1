"""A tab: one browser tab's presence on the gateway, across the sockets it uses.

A tab keeps its id when its socket drops and it reconnects (to this process or
another), so a call survives a brief outage: the new socket resumes the tab,
catches up on the events it missed, and carries on. Apps keep what they need
per tab in state objects they registered (``tab.state(CallState)``); the core
keeps only what every tab has: who it is, its socket, its rate limit, and the
id of the last event it was sent.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings

from chatspheres.common.errors import ErrorCode
from chatspheres.realtime import metrics
from chatspheres.realtime.hub import Envelope, Hub
from chatspheres.realtime.protocol import Error, Event, encode, error_frame, nesting_depth_ok
from chatspheres.realtime.registry import Registry

if TYPE_CHECKING:
    from chatspheres.realtime.fastpath import GatewayWebSocketProtocol
    from chatspheres.realtime.runtime import Runtime

logger = logging.getLogger(__name__)

Send = Callable[[Mapping[str, Any]], Awaitable[None]]
T = TypeVar("T")


def new_tab_id() -> str:
    """A tab id: 96 random bits, URL-safe."""
    return secrets.token_urlsafe(12)


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
        # _refill() written out: this runs for every relayed frame.
        now = self._clock()
        tokens = self._tokens + (now - self._last) * self._rate
        if tokens > self._burst:
            tokens = self._burst
        self._last = now
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
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


class Tab:
    """One browser tab on one socket of this process."""

    __slots__ = (
        "_closed",
        "_held",
        "_observers",
        "_send",
        "_states",
        "busy",
        "ended_as",
        "guard",
        "hub",
        "id",
        "lane",
        "last_event_id",
        "max_frame_bytes",
        "registry",
        "runtime",
        "session_key",
        "socket_id",
        "user_id",
    )

    def __init__(
        self,
        *,
        tab_id: str,
        user_id: int,
        session_key: str,
        send: Send,
        runtime: Runtime,
        lane: GatewayWebSocketProtocol | None = None,
    ) -> None:
        self.id = tab_id
        self.user_id = user_id
        self.session_key = session_key
        # One socket of the tab: a resumed tab gets a new one, and the old
        # socket (if the server still holds it somewhere) knows it was replaced.
        self.socket_id = secrets.token_urlsafe(9)
        self.runtime = runtime
        self.registry: Registry = runtime.registry
        self.hub: Hub = runtime.hub
        self._observers = self.registry.observers
        self._send = send
        self._closed = False
        # Set when the server ends the socket on purpose: how the tab ended.
        self.ended_as: Any = None
        # Made on first use: most sockets (a sphere page) never touch most apps' state.
        self._states: dict[type[Any], Any] = {}
        # Read once, as the receive loop does: a settings lookup costs more
        # than the rest of the size check on the relay lane.
        self.max_frame_bytes: int = settings.REALTIME_MAX_FRAME_BYTES
        self.guard = FloodGuard(
            rate=settings.REALTIME_RATE_PER_SECOND,
            burst=settings.REALTIME_RATE_BURST,
            flood_limit=settings.REALTIME_FLOOD_LIMIT,
            flood_window=settings.REALTIME_FLOOD_WINDOW,
        )
        # uvicorn's socket itself, when served by GatewayWebSocketProtocol.
        self.lane = lane
        # Handlers of this tab still running: while there are any, the relay
        # lane declines, so a frame never overtakes one sent before it.
        self.busy = 0
        self.last_event_id = 0
        # While the tab catches up after a reconnect, live logged events wait here.
        self._held: list[Envelope] | None = None

    def state(self, cls: type[T]) -> T:
        """The tab's instance of an app's registered state class."""
        try:
            state: T = self._states[cls]
        except KeyError:
            if cls not in self.registry.tab_states:
                raise LookupError(f"{cls!r} is not registered as tab state") from None
            state = self._states[cls] = cls()
        return state

    @property
    def closed(self) -> bool:
        return self._closed

    # Receiving ---------------------------------------------------------------

    def receive_now(self, text: str) -> bool:
        """Offer a frame to the relay lane, from uvicorn's callback; False declines.

        The lane only takes what the ordinary route would relay without a word
        and in the same order: never while a handler of this tab is running or
        the tab is catching up, never a frame over the size cap or nested too
        deep, never beyond the rate limit.
        """
        fast = self.registry.fast_path
        if (
            fast is None
            or self.busy
            or self._held is not None
            or len(text) > self.max_frame_bytes
            or not nesting_depth_ok(text)
            or not self.guard.take_token()
        ):
            return False
        try:
            if fast(self, text):
                metrics.relays.pending += 1
                return True
        except Exception:
            logger.exception("the relay lane failed on tab %s", self.id)
        self.guard.refund()
        return False

    # Delivering ----------------------------------------------------------------

    def deliver_now(self, envelope: Envelope) -> bool:
        """Take an envelope synchronously; False when it must go through :meth:`deliver`."""
        if self._closed:
            return True
        lane = self.lane
        if envelope.id or lane is None or not lane.can_write_now():
            return False
        observer = self._observers.get(envelope.type)
        if observer is not None and not observer(self, envelope):
            return True
        return lane.write_text_checked(envelope.frame)

    async def deliver(self, envelope: Envelope) -> None:
        """Take an envelope from the hub: let the apps' observer see it, then send the frame."""
        if self._closed:
            return
        if envelope.id:
            if self._held is not None:
                self._held.append(envelope)
                return
            if envelope.id <= self.last_event_id:
                return  # already sent while catching up
        observer = self._observers.get(envelope.type)
        if observer is not None and not observer(self, envelope):
            return
        if envelope.id:
            self.last_event_id = envelope.id
        await self.send_text(envelope.frame)

    def hold(self) -> None:
        """From now until :meth:`catch_up` ends, live logged events wait behind the replay.

        Call it before subscribing a resuming tab: subscribing may await (Redis),
        and an event arriving meanwhile must not overtake the ones it missed.
        """
        if self._held is None:
            self._held = []

    async def catch_up(self, after: int) -> bool:
        """Send what the tab missed since event ``after``; False when that was too long ago."""
        self.hold()
        try:
            missed = await self.hub.replay(self.user_id, after)
            if missed is None:
                self.last_event_id = await self.hub.last_event_id(self.user_id)
            else:
                self.last_event_id = after
                for envelope in missed:
                    if envelope.tab is None or envelope.tab == self.id:
                        await self._deliver_held(envelope)
            while self._held:
                await self._deliver_held(self._held.pop(0))
        finally:
            self._held = None
        return missed is not None

    async def _deliver_held(self, envelope: Envelope) -> None:
        if envelope.id <= self.last_event_id:
            return
        observer = self._observers.get(envelope.type)
        self.last_event_id = envelope.id
        if observer is None or observer(self, envelope):
            await self.send_text(envelope.frame)

    # Sending -------------------------------------------------------------------

    async def send(self, event: Event) -> None:
        """Send an event to this tab only (a reply; not logged)."""
        await self.send_text(encode(event))

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

    async def send_error(self, code: ErrorCode | str, message: str | None = None) -> None:
        """Tell the client a frame was refused, in words."""
        if isinstance(code, ErrorCode):
            await self.send_text(error_frame(code, message))
        else:
            await self.send(Error(code=code, message=message or code))

    async def close(self, code: int, reason: str = "", *, ended_as: Any = None) -> None:
        """Close the socket with ``code`` and a reason a person can read."""
        if self._closed:
            return
        if ended_as is not None:
            self.ended_as = ended_as
        self._closed = True
        try:
            await self._send({"type": "websocket.close", "code": code, "reason": reason})
        except Exception:
            logger.debug("socket already gone while closing with %s", code)

    def close_soon(self, code: int, reason: str, *, ended_as: Any) -> None:
        """Close from synchronous code (an observer)."""
        self.ended_as = ended_as
        task = asyncio.get_running_loop().create_task(self.close(code, reason, ended_as=ended_as))
        self.runtime.keep(task)


def deadline_after(seconds: float) -> float:
    """A wall-clock deadline, comparable across processes."""
    return time.time() + seconds
