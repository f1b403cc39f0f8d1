"""Sphere presence over the socket: who is online in a sphere right now, and who waits there."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

import msgspec

from chatspheres.common.events import ToSphere, send_event, sphere_channel
from chatspheres.matching.provider import matcher_of
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.protocol import Event, Incoming
from chatspheres.realtime.registry import TabClosed, registry
from chatspheres.realtime.tab import Tab
from chatspheres.spheres.selectors import access_sphere

SphereId = Annotated[int, msgspec.Meta(ge=1, le=2**53)]


class SphereEnter(Incoming, tag="sphere.enter"):
    """The tab is looking at a sphere."""

    sphere: SphereId


class SphereLeave(Incoming, tag="sphere.leave"):
    """The tab no longer looks at its sphere."""


class SpherePresence(Event, tag="sphere.presence"):
    """How many are online in a sphere, and how many of them wait for a partner."""

    sphere: int
    online: int
    waiting: int


@registry.tab_state
@dataclass(slots=True)
class SphereTab:
    # The sphere this tab counts as online in.
    sphere: int | None = None


# Told (synchronously, on the event loop) when a tab enters a sphere or leaves it (None).
SphereWatcher = Callable[[Tab, int | None], None]
_watchers: list[SphereWatcher] = []


def watch_spheres(watcher: SphereWatcher) -> SphereWatcher:
    """Have ``watcher`` told whenever a tab starts or stops looking at a sphere."""
    _watchers.append(watcher)
    return watcher


def _tell_watchers(tab: Tab, sphere_id: int | None) -> None:
    for watcher in _watchers:
        watcher(tab, sphere_id)


async def sphere_counts(tab: Tab, sphere_id: int) -> tuple[int, int]:
    """How many members are online in the sphere, and how many wait there now."""
    channel = sphere_channel(sphere_id)
    online = (await tab.hub.presence_counts([channel]))[channel]
    waiting = await matcher_of(tab.runtime).waiting_count(sphere_id)
    return online, waiting


async def presence_of(tab: Tab, sphere_id: int) -> SpherePresence:
    """The current counts of a sphere, as an event."""
    online, waiting = await sphere_counts(tab, sphere_id)
    return SpherePresence(sphere=sphere_id, online=online, waiting=waiting)


async def announce_presence(tab: Tab, sphere_id: int) -> None:
    """Tell every tab looking at the sphere its new counts."""
    await send_event(await presence_of(tab, sphere_id), to=ToSphere(sphere_id))


@registry.message(SphereEnter)
async def sphere_enter(tab: Tab, message: SphereEnter, _text: str) -> None:
    """Count the tab online in the sphere and keep it informed."""
    state = tab.state(SphereTab)
    if state.sphere == message.sphere:
        await tab.send(await presence_of(tab, message.sphere))
        return
    await run_in_db(access_sphere, sphere_id=message.sphere)
    await _leave_current(tab)
    state.sphere = message.sphere
    _tell_watchers(tab, message.sphere)
    channel = sphere_channel(message.sphere)
    await tab.hub.subscribe(channel, tab)
    if await tab.hub.presence_add(channel, tab.user_id):
        await announce_presence(tab, message.sphere)
    else:
        await tab.send(await presence_of(tab, message.sphere))


@registry.message(SphereLeave)
async def sphere_leave(tab: Tab, _message: SphereLeave, _text: str) -> None:
    """Stop counting the tab online in its sphere."""
    await _leave_current(tab)


@registry.on_tab_closed
async def tab_closed(tab: Tab, _how: TabClosed) -> None:
    """A socket that ended is no longer online anywhere (a tab that comes back enters again)."""
    await _leave_current(tab)


async def _leave_current(tab: Tab) -> None:
    state = tab.state(SphereTab)
    sphere_id = state.sphere
    if sphere_id is None:
        return
    state.sphere = None
    _tell_watchers(tab, None)
    channel = sphere_channel(sphere_id)
    await tab.hub.unsubscribe(channel, tab)
    if await tab.hub.presence_remove(channel, tab.user_id):
        await announce_presence(tab, sphere_id)
