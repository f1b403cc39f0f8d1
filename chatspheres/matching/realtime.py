"""The queue over the socket: wait in a sphere, be paired, stop waiting.

The matcher itself (``backends.py``) lives in this process, or in Redis when
the site runs on several processes; this module hands it to the runtime and
turns frames into matcher calls. When a pairing's conversation cannot be
saved, both people go back to where they waited, and the one it failed for
is told why.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from prometheus_client import Gauge, Histogram

from chatspheres.calls.realtime import CallTab, MatchFound
from chatspheres.calls.services import conversation_start
from chatspheres.common.errors import ALREADY_IN_CALL, ApplicationError, PairingRefused
from chatspheres.common.events import ToTab, send_event
from chatspheres.matching.backends import Matcher
from chatspheres.matching.engine import Pairing, Seeker
from chatspheres.matching.provider import matcher_of
from chatspheres.matching.selectors import queue_request_for
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Envelope
from chatspheres.realtime.protocol import Event, Incoming
from chatspheres.realtime.registry import TabClosed, registry
from chatspheres.realtime.runtime import Runtime
from chatspheres.realtime.tab import Tab
from chatspheres.spheres.realtime import SphereId, announce_presence, sphere_counts
from chatspheres.spheres.services import sphere_watchers_notify

logger = logging.getLogger(__name__)

WAITING = Gauge(
    "chatspheres_tabs_waiting",
    "Tabs of this process waiting for a partner, by sphere",
    ["sphere"],
    multiprocess_mode="livesum",
)
WAIT_SECONDS = Histogram(
    "chatspheres_wait_seconds",
    "How long a tab waited before it was paired",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600),
)


class QueueJoin(Incoming, tag="queue.join"):
    """Wait for a partner in a sphere (Start a conversation)."""

    sphere: SphereId


class QueueLeave(Incoming, tag="queue.leave"):
    """Stop waiting (Cancel)."""


class QueueWaiting(Event, tag="queue.waiting"):
    """The tab waits in the sphere; the counts are those of the sphere now."""

    sphere: int
    online: int
    waiting: int


class QueueLeft(Event, tag="queue.left"):
    """The tab no longer waits: it cancelled, waits in another tab now, or could not be paired."""

    reason: Literal["cancelled", "elsewhere", "refused"]
    message: str = ""


@registry.tab_state
@dataclass(slots=True)
class QueueTab:
    # What the tab waits with, so that it can wait again if the queue is lost
    # (Redis restarted empty), and since when, for the wait-time histogram.
    seeker: Seeker | None = None
    since: float = 0.0


def _stop_waiting(tab: Tab) -> None:
    state = tab.state(QueueTab)
    if state.seeker is not None:
        WAITING.labels(str(state.seeker.pool)).dec()
    state.seeker = None


@registry.message(QueueJoin)
async def queue_join(tab: Tab, message: QueueJoin, _text: str) -> None:
    """Wait for a partner in a sphere; pair at once if a good one is waiting."""
    if tab.state(CallTab).conversation is not None:
        raise ApplicationError("You are already in a conversation.", code=ALREADY_IN_CALL)
    request = await run_in_db(queue_request_for, user_id=tab.user_id, sphere_id=message.sphere)
    matcher = matcher_of(tab.runtime)
    replaced = await matcher.leave(tab.user_id)
    if replaced is not None and replaced.tab != tab.id:
        # One wait per member: the newest tab takes over and the older one is told.
        await send_event(QueueLeft(reason="elsewhere"), to=ToTab(tab.user_id, replaced.tab))
    seeker = Seeker(
        person=tab.user_id,
        tab=tab.id,
        pool=request.sphere_id,
        interests=request.interests,
        excluded=request.excluded,
    )
    _stop_waiting(tab)
    pairing = await matcher.join(seeker)
    if pairing is None:
        await _now_waiting(tab, seeker)
    else:
        await _start_conversation(tab, matcher, pairing)
    await announce_presence(tab, request.sphere_id)


async def _now_waiting(tab: Tab, seeker: Seeker) -> None:
    state = tab.state(QueueTab)
    state.seeker = seeker
    state.since = time.monotonic()
    WAITING.labels(str(seeker.pool)).inc()
    online, waiting = await sphere_counts(tab, seeker.pool)
    await tab.send(QueueWaiting(sphere=seeker.pool, online=online, waiting=waiting))
    await run_in_db(sphere_watchers_notify, sphere_id=seeker.pool, waiter_id=seeker.person)


async def _start_conversation(tab: Tab, matcher: Matcher, pairing: Pairing) -> None:
    """Save the pairing as a conversation; if that fails, both wait again where they were."""
    arrival, partner = pairing.arrival, pairing.partner
    try:
        await run_in_db(
            conversation_start,
            sphere_id=arrival.pool,
            a_user_id=partner.person,
            a_tab=partner.tab,
            b_user_id=arrival.person,
            b_tab=arrival.tab,
            shared_interests=pairing.shared,
        )
    except PairingRefused as refusal:
        arrival_at_fault = refusal.user_id == arrival.person
        await matcher.restore(pairing, arrival=not arrival_at_fault, partner=arrival_at_fault)
        if arrival_at_fault:
            raise
        # The one who waited cannot talk now (in a call elsewhere): they stop
        # waiting and are told why; this tab waits on at its new place.
        await send_event(
            QueueLeft(reason="refused", message=refusal.message),
            to=ToTab(partner.person, partner.tab),
        )
        await _now_waiting(tab, arrival)
        return
    except Exception:
        await matcher.restore(pairing)
        await _now_waiting(tab, arrival)
        raise
    WAIT_SECONDS.observe(0.0)


@registry.message(QueueLeave)
async def queue_leave(tab: Tab, _message: QueueLeave, _text: str) -> None:
    """Stop waiting (Cancel)."""
    _stop_waiting(tab)
    removed = await matcher_of(tab.runtime).leave(tab.user_id, tab.id)
    await tab.send(QueueLeft(reason="cancelled"))
    if removed is not None:
        await announce_presence(tab, removed.pool)


def _matched(tab: Tab, _envelope: Envelope) -> bool:
    """The tab was paired: it waits no more."""
    state = tab.state(QueueTab)
    if state.seeker is not None:
        WAIT_SECONDS.observe(time.monotonic() - state.since)
    _stop_waiting(tab)
    return True


registry.observe(MatchFound, _matched)


def _no_longer_waiting(tab: Tab, _envelope: Envelope) -> bool:
    """Told it waits no more (another tab took over, or it could not be paired)."""
    _stop_waiting(tab)
    return True


registry.observe(QueueLeft, _no_longer_waiting)


@registry.on_tab_closed
async def tab_closed(tab: Tab, how: TabClosed) -> None:
    """A tab whose socket ended stops waiting (one that comes back asks again)."""
    _stop_waiting(tab)
    if how is TabClosed.REPLACED:
        return  # its newer socket carries on, with the same wait
    removed = await matcher_of(tab.runtime).leave(tab.user_id, tab.id)
    if removed is not None:
        await announce_presence(tab, removed.pool)


@registry.on_hub_restored
async def wait_again(runtime: Runtime) -> None:
    """The shared queue was lost (Redis restarted empty): this process's waiting tabs wait again."""
    matcher = matcher_of(runtime)
    for tab in list(runtime.tabs.values()):
        seeker = tab.state(QueueTab).seeker
        if seeker is None or tab.closed:
            continue
        try:
            pairing = await matcher.join(seeker)
            if pairing is not None:
                await _start_conversation(tab, matcher, pairing)
        except Exception:
            logger.exception("tab %s could not wait again after the queue was lost", tab.id)
