"""The real-time parts one server process runs: its hub, what apps provide, its background work.

The ASGI lifespan builds the runtime at start-up (:func:`build`, :func:`start`)
and stops it at shutdown. With ``REDIS_URL`` set, the hub (and whatever apps
build on ``runtime.wire``, the lean connection the hub writes on, such as the
matcher, or on ``runtime.redis``, a redis-py client for anything cold) is
shared through Redis by every process of the site; without it everything
lives in this process.

Code outside the event loop reaches the runtime through module functions:
services send events with :func:`send_from_thread` (via
``common.events.send_event_on_commit``), views read counts with
:func:`presence_counts`. When no server runs here (a management command, a
unit test) nobody is listening, so sending does nothing and counts are zero.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

from asgiref.sync import async_to_sync
from django.conf import settings

from chatspheres.common.events import (
    SentEvent,
    ToMember,
    ToSphere,
    ToTab,
    sphere_channel,
    tab_channel,
    user_channel,
)
from chatspheres.realtime.hub import Envelope, Hub, MemoryHub
from chatspheres.realtime.protocol import encode, event_type
from chatspheres.realtime.registry import Registry, registry

if TYPE_CHECKING:
    import redis.asyncio

    from chatspheres.realtime.redis_wire import RedisConnection
    from chatspheres.realtime.tab import Tab

logger = logging.getLogger(__name__)

T = TypeVar("T")


@runtime_checkable
class Restorable(Protocol):
    """A hub whose shared store can come back empty (Redis restarted); it says so here."""

    on_restored: Callable[[], Awaitable[None]] | None


@dataclass(eq=False)
class Runtime:
    """One server process's real-time state."""

    hub: Hub
    registry: Registry
    # True when this process alone serves every socket of the site (no Redis):
    # at start-up, conversations still marked active lost their sockets.
    single_process: bool
    redis: redis.asyncio.Redis | None = None
    # The hub's pipelined command connection (redis_wire), for hot paths.
    wire: RedisConnection | None = None
    process_id: str = field(default_factory=lambda: f"{os.getpid()}-{secrets.token_hex(4)}")
    tabs: dict[str, Tab] = field(default_factory=dict)
    _resources: dict[type[Any], Any] = field(default_factory=dict)
    _tasks: set[asyncio.Task[Any]] = field(default_factory=set)
    _loop: asyncio.AbstractEventLoop | None = None

    def get(self, kind: Any) -> Any:
        """The shared object of this kind an app provided (e.g. the matcher).

        Apps wrap this in a typed accessor (``matching.provider.matcher_of``).
        """
        return self._resources[kind]

    def keep(self, task: asyncio.Task[Any]) -> None:
        """Hold a reference to a background task until it finishes, and log its failure."""
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("a real-time background task failed", exc_info=task.exception())

    # Sending -----------------------------------------------------------------

    async def send(self, sent: SentEvent) -> None:
        """Publish an event to its targets, logging it for members and tabs."""
        event = sent.event
        frame = encode(event)
        kind = event_type(event)
        logged = type(event).logged
        for target in sent.targets:
            if isinstance(target, ToSphere):
                await self.hub.publish(
                    sphere_channel(target.sphere), Envelope(frame, kind, sent.meta)
                )
                continue
            if isinstance(target, ToTab):
                channel, tab = tab_channel(target.tab), target.tab
            else:
                assert isinstance(target, ToMember)
                channel, tab = user_channel(target.user), None
            envelope = Envelope(frame, kind, sent.meta, tab=tab)
            if logged:
                await self.hub.publish_logged(target.user, channel, envelope)
            else:
                await self.hub.publish(channel, envelope)

    async def send_all(self, events: Iterable[SentEvent]) -> None:
        """Publish events in order; a failure is logged and the rest still go out."""
        for sent in events:
            try:
                await self.send(sent)
            except Exception:
                logger.exception("sending %s failed", event_type(sent.event))

    # Lifecycle -----------------------------------------------------------------

    async def start(self) -> None:
        """Start the hub, build what apps provide, run their start-up hooks and periodic work."""
        self._loop = asyncio.get_running_loop()
        if isinstance(self.hub, Restorable):
            self.hub.on_restored = self._hub_restored
        await self.hub.start()
        for kind, factory in self.registry.providers.items():
            self._resources[kind] = factory(self)
        for hook in self.registry.startup_hooks:
            await hook(self)
        self.keep(asyncio.create_task(self._every(lambda: settings.REALTIME_SWEEP_SECONDS, _sweep)))
        for periodic in self.registry.periodic:
            self.keep(asyncio.create_task(self._every(_constant(periodic.seconds), periodic.hook)))

    async def stop(self) -> None:
        """Run the apps' shutdown hooks, stop background work and the hub."""
        for hook in self.registry.shutdown_hooks:
            try:
                await hook(self)
            except Exception:
                logger.exception("a real-time shutdown hook failed")
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for resource in self._resources.values():
            close = getattr(resource, "aclose", None)
            if close is not None:
                await close()
        await self.hub.stop()
        if self.wire is not None:
            await self.wire.aclose()
        if self.redis is not None:
            await self.redis.aclose()
        self._loop = None

    async def _hub_restored(self) -> None:
        """The hub's shared store came back empty: the apps rebuild what they kept there."""
        for hook in self.registry.hub_restored_hooks:
            try:
                await hook(self)
            except Exception:
                logger.exception("a hub-restored hook failed")

    async def _every(self, seconds: Callable[[], float], hook: Any) -> None:
        while True:
            await asyncio.sleep(seconds())
            try:
                await hook(self)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # One line: a hub that is down fails every round until it is back.
                logger.warning("periodic %s failed: %r", getattr(hook, "__name__", hook), error)


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


async def _sweep(runtime: Runtime) -> None:
    """Hand tabs lost with a dead process, and lost tabs that did not come back, to the apps."""
    found = await runtime.hub.sweep(time.time())
    if found.lost:
        lost = [(ref.tab, ref.user) for ref in found.lost]
        for lost_hook in runtime.registry.tabs_lost_hooks:
            await lost_hook(runtime, lost)
    for ref in found.gone:
        for ended_hook in runtime.registry.tab_ended_hooks:
            try:
                await ended_hook(runtime, ref.tab, ref.user, "disconnected")
            except Exception:
                logger.exception("ending tab %s failed", ref.tab)


def build() -> Runtime:
    """The runtime settings ask for: Redis-backed with ``REDIS_URL``, in-process without."""
    if not settings.REDIS_URL:
        hub = MemoryHub(
            log_size=settings.REALTIME_EVENT_LOG_SIZE,
            log_seconds=settings.REALTIME_EVENT_LOG_SECONDS,
        )
        return Runtime(hub=hub, registry=registry, single_process=True)
    from chatspheres.realtime.redis_hub import RedisHub, redis_client
    from chatspheres.realtime.redis_wire import RedisConnection

    wire = RedisConnection(settings.REDIS_URL, name="Redis hub")
    return Runtime(
        hub=RedisHub(
            wire,
            url=settings.REDIS_URL,
            prefix=settings.REDIS_KEY_PREFIX,
            log_size=settings.REALTIME_EVENT_LOG_SIZE,
            log_seconds=settings.REALTIME_EVENT_LOG_SECONDS,
            process_ttl=settings.REALTIME_PROCESS_TTL,
        ),
        registry=registry,
        single_process=False,
        redis=redis_client(settings.REDIS_URL),
        wire=wire,
    )


_current: Runtime | None = None


async def start(runtime: Runtime) -> None:
    """Start ``runtime`` and make it the current one."""
    global _current
    await runtime.start()
    _current = runtime


async def stop(runtime: Runtime) -> None:
    """Stop ``runtime``; it is no longer current."""
    global _current
    if _current is runtime:
        _current = None
    await runtime.stop()


def current() -> Runtime:
    """The running server's runtime; raises when no server runs here."""
    if _current is None:
        raise RuntimeError("the real-time runtime is not running in this process")
    return _current


def send_from_thread(sent: SentEvent) -> None:
    """Send an event from synchronous code on another thread; a no-op without a server."""
    runtime = _current
    loop = runtime._loop if runtime is not None else None
    if runtime is None or loop is None or loop.is_closed():
        return
    future = asyncio.run_coroutine_threadsafe(runtime.send(sent), loop)

    def done(future: Any) -> None:
        if not future.cancelled() and future.exception() is not None:
            logger.error("sending %s failed", event_type(sent.event), exc_info=future.exception())

    future.add_done_callback(done)


def presence_counts(scopes: Iterable[str]) -> dict[str, int | None]:
    """Online counts for synchronous views: zero without a server, None while the hub is down."""
    scopes = list(scopes)
    if _current is None:
        return dict.fromkeys(scopes, 0)
    try:
        counts: dict[str, int | None] = dict(async_to_sync(_current.hub.presence_counts)(scopes))
    except Exception as error:
        logger.warning("online counts unavailable: %r", error)
        return dict.fromkeys(scopes, None)
    return counts
