"""The real-time parts one server process shares: its hub and its matcher.

The ASGI lifespan builds them at start-up (:func:`start`) and tears them down
at shutdown. Services reach the hub through :func:`publish_from_thread`, views
through :func:`presence_counts`; when no server runs (a management command, a
unit test) there is nobody to tell, so publishing does nothing and every count
is zero.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from asgiref.sync import async_to_sync
from django.conf import settings

from chatspheres.matching.backends import Matcher, MemoryMatcher
from chatspheres.matching.engine import MatchingEngine
from chatspheres.realtime.hub import Envelope, Hub, MemoryHub


@dataclass(slots=True)
class Runtime:
    hub: Hub
    matcher: Matcher
    # True when this process alone serves every socket, so at start-up any
    # conversation still marked active lost its sockets in the last shutdown.
    single_process: bool


_current: Runtime | None = None


def build() -> Runtime:
    """A runtime from settings: the in-process hub and matcher."""
    engine = MatchingEngine(recent_partner_window=settings.MATCHING_RECENT_PARTNER_SECONDS)
    return Runtime(hub=MemoryHub(), matcher=MemoryMatcher(engine), single_process=True)


async def start(runtime: Runtime) -> None:
    """Make ``runtime`` the current one and start its hub."""
    global _current
    await runtime.hub.start()
    _current = runtime


async def stop(runtime: Runtime) -> None:
    """Stop ``runtime``'s hub; it is no longer current."""
    global _current
    await runtime.hub.stop()
    if _current is runtime:
        _current = None


def current() -> Runtime:
    """The running server's runtime; raises when no server runs here."""
    if _current is None:
        raise RuntimeError("the real-time runtime is not running in this process")
    return _current


def publish_from_thread(channel: str, envelope: Envelope) -> None:
    """Publish from synchronous code (an on-commit hook); a no-op without a server."""
    if _current is not None:
        _current.hub.publish_threadsafe(channel, envelope)


def presence_counts(scopes: Iterable[str]) -> dict[str, int]:
    """Online counts for synchronous views; zero for every scope without a server."""
    scopes = list(scopes)
    if _current is None:
        return dict.fromkeys(scopes, 0)
    return async_to_sync(_current.hub.presence_counts)(scopes)
