"""The queue over the socket: wait in a sphere, be paired, stop waiting.

The matcher itself (``backends.py``) lives in this process, or in Redis when
the site runs on several processes; this module hands it to the runtime and
turns frames into matcher calls. When a pairing's conversation cannot be
saved, both people go back to where they waited, and the one it failed for
is told why.

A waiting tab is told how many of the others waiting are people it talked
with in the last 10 minutes (``queue.waiting``, then ``queue.hint`` whenever
one of those arrives or stops waiting), so that the page can say why nobody
is matched, and offer "Call now" for a connection among them.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import ClassVar, Literal

import msgspec
from prometheus_client import Gauge, Histogram

from chatspheres.calls.realtime import CallTab, MatchFound
from chatspheres.calls.services import conversation_start
from chatspheres.common.errors import (
    ALREADY_IN_CALL,
    PAIRING_FORBIDDEN,
    ApplicationError,
    PairingRefused,
)
from chatspheres.common.events import ToTab, send_event
from chatspheres.common.ratelimit import rate_limit_hit
from chatspheres.matching.backends import Matcher
from chatspheres.matching.engine import Pairing, Seeker
from chatspheres.matching.provider import matcher_of
from chatspheres.matching.selectors import (
    QueueRequest,
    WaitingHint,
    queue_request_for,
    waiting_hint_for,
)
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.gateway import UNAVAILABLE_ERRORS
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


class CallNowOffer(msgspec.Struct, frozen=True):
    """A connection waiting in the sphere: their name and the address that calls them."""

    name: str
    url: str


class QueueWaiting(Event, tag="queue.waiting"):
    """The tab waits in the sphere; the counts are those of the sphere now.

    ``recent_partners``: how many of the others waiting this member talked with
    in the last 10 minutes; ``call_now``: the connections among them.
    """

    sphere: int
    online: int
    waiting: int
    recent_partners: int = 0
    call_now: list[CallNowOffer] = []


class QueueHint(Event, tag="queue.hint"):
    """A waiting tab's new ``recent_partners`` and ``call_now``, for the ``waiting`` count."""

    # A tab that comes back waits again and is told afresh in queue.waiting;
    # an old hint replayed to it could only mislead.
    logged: ClassVar[bool] = False

    sphere: int
    waiting: int
    recent_partners: int
    call_now: list[CallNowOffer]


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


def _admit(*, user_id: int, sphere_id: int) -> QueueRequest:
    # Counted on the database thread: with REDIS_URL the count is a Redis
    # call (Django's cache), which must not hold up the event loop.
    rate_limit_hit(action="queue_join", key=user_id)
    return queue_request_for(user_id=user_id, sphere_id=sphere_id)


@registry.message(QueueJoin)
async def queue_join(tab: Tab, message: QueueJoin, _text: str) -> None:
    """Wait for a partner in a sphere; pair at once if a good one is waiting."""
    if tab.state(CallTab).conversation is not None:
        raise ApplicationError("You are already in a conversation.", code=ALREADY_IN_CALL)
    request = await run_in_db(_admit, user_id=tab.user_id, sphere_id=message.sphere)
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
        familiar=request.familiar,
        familiar_allowed=request.familiar_allowed,
    )
    _stop_waiting(tab)
    pairing = await matcher.join(seeker)
    if pairing is None:
        await _now_waiting(tab, seeker)
        await _tell_recent_partners(tab, seeker.person, seeker.pool, but_not=seeker.excluded)
    else:
        await _start_conversation(tab, matcher, pairing)
        await _tell_recent_partners(tab, pairing.partner.person, seeker.pool)
    await announce_presence(tab, request.sphere_id)


def _offers(hint: WaitingHint) -> list[CallNowOffer]:
    return [CallNowOffer(name=each.name, url=each.url) for each in hint.call_now]


async def _now_waiting(tab: Tab, seeker: Seeker) -> None:
    state = tab.state(QueueTab)
    state.seeker = seeker
    state.since = time.monotonic()
    WAITING.labels(str(seeker.pool)).inc()
    hint = await _hint_for(tab, seeker)
    online, waiting = await sphere_counts(tab, seeker.pool)
    await tab.send(
        QueueWaiting(
            sphere=seeker.pool,
            online=online,
            waiting=waiting,
            recent_partners=hint.recent_partners,
            call_now=_offers(hint),
        )
    )
    try:
        await run_in_db(sphere_watchers_notify, sphere_id=seeker.pool, waiter_id=seeker.person)
    except Exception:
        # The member waits whatever happens to the watchers' notifications:
        # telling them is a courtesy, and must not turn their wait into an error.
        logger.exception("could not tell the watchers of sphere %s", seeker.pool)


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
        if refusal.code == PAIRING_FORBIDDEN.name:
            # A block made while they waited: both wait on, apart, and neither
            # is told (a block is silent). Waiting people are only matched
            # with arrivals, so the two never meet from here.
            await matcher.restore(pairing)
            await _now_waiting(tab, arrival)
            return
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


async def _hint_for(tab: Tab, seeker: Seeker) -> WaitingHint:
    """The waiting screen's hint for a seeker who now waits; none if it cannot be read."""
    try:
        partners = await matcher_of(tab.runtime).recent_partners_waiting(seeker.person, seeker.pool)
        if not partners:
            return WaitingHint()
        return await run_in_db(
            waiting_hint_for,
            user_id=seeker.person,
            partner_ids=partners,
            excluded=seeker.excluded,
            familiar=seeker.familiar,
        )
    except UNAVAILABLE_ERRORS as error:
        # A hint is a courtesy: the member waits all the same.
        logger.warning("no waiting hint for member %s: %r", seeker.person, error)
    except Exception:
        logger.exception("could not read the waiting hint of member %s", seeker.person)
    return WaitingHint()


async def _tell_recent_partners(
    tab: Tab, person: int, pool: int, *, but_not: frozenset[int] = frozenset()
) -> None:
    """Those waiting in the pool who were with ``person`` lately: their hint may have changed.

    ``person`` just started or stopped waiting there.  Each of their recent
    partners still waiting gets a fresh ``queue.hint``; ``but_not`` (people
    ``person`` may never meet) are left alone, their hint cannot count ``person``.
    """
    matcher = matcher_of(tab.runtime)
    try:
        waiting_partners = {
            partner: partner_tab
            for partner, partner_tab in (
                await matcher.recent_partners_waiting(person, pool)
            ).items()
            if partner not in but_not
        }
        if not waiting_partners:
            return
        waiting = await matcher.waiting_count(pool)
        for partner, partner_tab in waiting_partners.items():
            theirs = await matcher.recent_partners_waiting(partner, pool)
            hint = await run_in_db(waiting_hint_for, user_id=partner, partner_ids=theirs)
            await send_event(
                QueueHint(
                    sphere=pool,
                    waiting=waiting,
                    recent_partners=hint.recent_partners,
                    call_now=_offers(hint),
                ),
                to=ToTab(partner, partner_tab),
            )
    except UNAVAILABLE_ERRORS as error:
        # A hint is a courtesy: its failure must not fail the join, leave or
        # pairing that prompted it (the pages hide a hint whose count is old).
        logger.warning("waiting hints of %s's recent partners not updated: %r", person, error)
    except Exception:
        logger.exception("could not update the waiting hints of %s's recent partners", person)


@registry.message(QueueLeave)
async def queue_leave(tab: Tab, _message: QueueLeave, _text: str) -> None:
    """Stop waiting (Cancel)."""
    _stop_waiting(tab)
    removed = await matcher_of(tab.runtime).leave(tab.user_id, tab.id)
    await tab.send(QueueLeft(reason="cancelled"))
    if removed is not None:
        await _tell_recent_partners(tab, removed.person, removed.pool)
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
        await _tell_recent_partners(tab, removed.person, removed.pool)
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
