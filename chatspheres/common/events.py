"""Sending real-time events: the one way any code tells tabs that something happened.

A service that changed something calls :func:`send_event_on_commit` with a
typed event (a ``msgspec`` struct declared by its app) and a target; the event
leaves only once the transaction commits, so nothing is announced that was not
saved (Zulip's ``send_event_on_commit`` is the model). Async code outside a
transaction (a socket handler relaying chat) awaits :func:`send_event`.

Targets:

* :class:`ToTab`: one browser tab of a member (a call lives in one tab);
* :class:`ToMember`: every tab of a member, on every process;
* :class:`ToSphere`: every tab looking at a sphere (not logged: counts and the like);
* anything with ``realtime_targets()`` (a conversation names its two tabs).

Events for a tab or a member get a per-member id and are kept for a while, so
a tab that reconnects catches up on what it missed (see ``realtime/hub.py``).

Tests capture what a service sends, without a server, with :func:`capture`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple, Protocol, runtime_checkable

from django.db import transaction

from chatspheres.realtime.protocol import Event


class ToTab(NamedTuple):
    """One tab of one member."""

    user: int
    tab: str


class ToMember(NamedTuple):
    """Every tab of one member."""

    user: int


class ToSphere(NamedTuple):
    """Every tab looking at one sphere."""

    sphere: int


Target = ToTab | ToMember | ToSphere


@runtime_checkable
class HasTargets(Protocol):
    """Something that knows which tabs hear about it (a conversation: its two tabs)."""

    def realtime_targets(self) -> Iterable[Target]: ...


Recipients = Target | HasTargets | Iterable[Target]


def tab_channel(tab: str) -> str:
    """Only one tab listens here."""
    return f"tab:{tab}"


def user_channel(user_id: int) -> str:
    """Every tab of one member listens here."""
    return f"user:{user_id}"


def sphere_channel(sphere_id: int) -> str:
    """Tabs looking at a sphere listen here for its online counts."""
    return f"sphere:{sphere_id}"


@dataclass(frozen=True, slots=True)
class SentEvent:
    """One event on its way out: what, to whom, and the facts only the server sees."""

    event: Event
    targets: tuple[Target, ...]
    meta: tuple[str, ...] = ()


def targets_of(to: Recipients) -> tuple[Target, ...]:
    """The plain targets a recipient stands for."""
    if isinstance(to, ToTab | ToMember | ToSphere):
        return (to,)
    if isinstance(to, HasTargets):
        return tuple(to.realtime_targets())
    return tuple(to)


def send_event_on_commit(event: Event, *, to: Recipients, meta: tuple[str, ...] = ()) -> None:
    """Send ``event`` to ``to`` once the current transaction commits (at once outside one)."""
    transaction.on_commit(partial(_dispatch, SentEvent(event, targets_of(to), meta)))


async def send_event(event: Event, *, to: Recipients, meta: tuple[str, ...] = ()) -> None:
    """Send ``event`` now, from async code that is not in a transaction."""
    sent = SentEvent(event, targets_of(to), meta)
    if _captured is not None:
        _captured.append(sent)
        return
    from chatspheres.realtime.runtime import current

    await current().send(sent)


# Where events go instead of the hub: a test's capture, or the outbox of a
# service called from the gateway (which sends them in order once it returns).
_captured: list[SentEvent] | None = None
_outbox: contextvars.ContextVar[list[SentEvent] | None] = contextvars.ContextVar(
    "chatspheres_outbox", default=None
)


def _dispatch(sent: SentEvent) -> None:
    if _captured is not None:
        _captured.append(sent)
        return
    outbox = _outbox.get()
    if outbox is not None:
        outbox.append(sent)
        return
    from chatspheres.realtime.runtime import send_from_thread

    send_from_thread(sent)


@contextmanager
def outbox() -> Iterator[list[SentEvent]]:
    """Collect the events sent (on commit) inside the block instead of sending them."""
    collected: list[SentEvent] = []
    token = _outbox.set(collected)
    try:
        yield collected
    finally:
        _outbox.reset(token)


class Captured:
    """Events captured by :func:`capture`, with helpers to find them."""

    def __init__(self) -> None:
        self.events: list[SentEvent] = []
        # Called before each read: a test may hold on-commit callbacks back
        # (its transaction never commits) and release them here.
        self.before_read: Callable[[], None] | None = None

    @property
    def sent(self) -> list[SentEvent]:
        if self.before_read is not None:
            self.before_read()
        return self.events

    def of_type(self, cls: type[Event]) -> list[SentEvent]:
        return [each for each in self.sent if isinstance(each.event, cls)]

    def to(self, target: Target) -> list[Event]:
        return [each.event for each in self.sent if target in each.targets]


@contextmanager
def capture() -> Iterator[Captured]:
    """Capture every event sent inside the block (on commit or now) instead of sending it."""
    global _captured
    previous = _captured
    captured = Captured()
    _captured = captured.events
    try:
        yield captured
    finally:
        _captured = previous
