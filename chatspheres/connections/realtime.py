"""The ring ("Call now") over the socket: start, accept, decline, cancel, and ringing out.

The caller's call page sends ``ring.start``; the callee's ringing card sends
``ring.decline`` (Decline, Escape) or opens the answering page, whose tab
sends ``ring.accept``. Rules and state live in ``connections/rings.py``; this
module turns frames into those services, lets both people stop waiting in a
queue once they talk, and checks every second, on every process, for rings
that rang out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from chatspheres.calls.direct import direct_calls_register
from chatspheres.calls.realtime import CallTab
from chatspheres.common.errors import ALREADY_IN_CALL, CALLEE_BUSY, ApplicationError, PairingRefused
from chatspheres.common.events import ToTab, send_event
from chatspheres.connections.rings import (
    DirectCallRules,
    any_ring_due,
    ring_accept,
    ring_cancel,
    ring_decline,
    ring_start,
    rings_cancel_for_tab,
    rings_expire,
    rings_ringing_for,
)
from chatspheres.matching.provider import matcher_of
from chatspheres.matching.realtime import QueueLeft
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.protocol import Handle, Incoming, Token
from chatspheres.realtime.registry import TabClosed, registry
from chatspheres.realtime.runtime import Runtime
from chatspheres.realtime.tab import Tab

# How often each process looks for rings that rang out (their time is saved with them).
EXPIRY_CHECK_SECONDS = 1.0


class RingStart(Incoming, tag="ring.start"):
    """Ring a connection's open tabs from this tab ("Call now")."""

    callee: Handle


class RingAccept(Incoming, tag="ring.accept"):
    """Answer a ring in this tab: the call starts here."""

    ring: Token


class RingDecline(Incoming, tag="ring.decline"):
    """Can't talk now: every tab stops ringing and the caller is told."""

    ring: Token


class RingCancel(Incoming, tag="ring.cancel"):
    """The caller stops ringing."""

    ring: Token


@dataclass(slots=True)
class RingingTabs:
    """Tabs of this process that started a ring: when one closes, its ring stops."""

    tabs: set[str] = field(default_factory=set)


registry.provide(RingingTabs, lambda _runtime: RingingTabs())
# The call page asks these rules who may be called, and which ring a tab answers.
direct_calls_register(DirectCallRules())


def ringing_tabs(runtime: Runtime) -> RingingTabs:
    return cast(RingingTabs, runtime.get(RingingTabs))


@registry.message(RingStart)
async def start(tab: Tab, message: RingStart, _text: str) -> None:
    """Ring the callee; errors (offline, in a call, not a connection) go back in words."""
    if tab.state(CallTab).conversation is not None:
        raise ApplicationError(code=ALREADY_IN_CALL)
    await run_in_db(
        ring_start, caller_id=tab.user_id, caller_tab=tab.id, callee_handle=message.callee
    )
    ringing_tabs(tab.runtime).tabs.add(tab.id)


@registry.message(RingAccept)
async def accept(tab: Tab, message: RingAccept, _text: str) -> None:
    """Start the direct conversation between this tab and the caller's."""
    if tab.state(CallTab).conversation is not None:
        raise ApplicationError(code=ALREADY_IN_CALL)
    try:
        conversation = await run_in_db(
            ring_accept, callee_id=tab.user_id, callee_tab=tab.id, public_id=message.ring
        )
    except PairingRefused as refusal:
        if refusal.user_id == tab.user_id:
            raise
        # The caller went into another conversation meanwhile: the ring stops.
        ring = await run_in_db(ring_cancel, caller_id=refusal.user_id, public_id=message.ring)
        caller = ring.caller.profile.display_name
        raise ApplicationError(f"{caller} is in a call right now.", code=CALLEE_BUSY) from None
    # Neither waits in a queue any more (a tab of theirs may have been looking).
    matcher = matcher_of(tab.runtime)
    for person in (conversation.user_a_id, conversation.user_b_id):
        stopped = await matcher.leave(person)
        if stopped is not None:
            await send_event(
                QueueLeft(
                    reason="refused",
                    message="You're in a call in another tab, so this tab stopped looking.",
                ),
                to=ToTab(person, stopped.tab),
            )


@registry.message(RingDecline)
async def decline(tab: Tab, message: RingDecline, _text: str) -> None:
    """Decline: the caller hears the callee can't talk right now."""
    await run_in_db(ring_decline, callee_id=tab.user_id, public_id=message.ring)


@registry.message(RingCancel)
async def cancel(tab: Tab, message: RingCancel, _text: str) -> None:
    """The caller cancels."""
    await run_in_db(ring_cancel, caller_id=tab.user_id, public_id=message.ring)
    ringing_tabs(tab.runtime).tabs.discard(tab.id)


@registry.on_tab_closed
async def caller_gone(tab: Tab, how: TabClosed) -> None:
    """A caller's page that closed stops its ring (a dropped one may come back: it rings on)."""
    tabs = ringing_tabs(tab.runtime).tabs
    if tab.id not in tabs or how in (TabClosed.LOST, TabClosed.REPLACED):
        return
    tabs.discard(tab.id)
    await run_in_db(rings_cancel_for_tab, caller_tab=tab.id)


@registry.on_tab_ended
async def caller_lost(runtime: Runtime, tab: str, _user: int, _why: str) -> None:
    """A caller's tab that dropped and did not come back: its ring stops."""
    tabs = ringing_tabs(runtime).tabs
    if tab in tabs:
        tabs.discard(tab)
        await run_in_db(rings_cancel_for_tab, caller_tab=tab)


@registry.every(EXPIRY_CHECK_SECONDS)
async def expire(runtime: Runtime) -> None:
    """Rings whose time ran out stop as missed (once, whichever process sees them first)."""
    # A read first: writing would take SQLite's write lock every second for nothing.
    if await run_in_db(any_ring_due):
        await run_in_db(rings_expire)


@registry.on_tab_opened
@registry.on_tab_resync
async def show_rings_still_ringing(tab: Tab) -> None:
    """A tab opened (or reloaded) while a connection calls rings too, for what is left of it."""
    for incoming in await run_in_db(rings_ringing_for, callee_id=tab.user_id):
        await tab.send(incoming)
