"""The hub: fan-out, the per-member event log, presence and the tab registry.

Every tab's socket is subscribed to channels (``tab:<id>``, ``user:<id>``,
``sphere:<id>``); an :class:`Envelope` published on a channel reaches every tab
subscribed to it, on whichever process it lives. Besides fan-out the hub keeps
what the processes of one site share:

* a per-member **event log**: events for a member or for one of their tabs get
  an increasing per-member id and are kept (a bounded number, for a while), so
  a tab that reconnects asks for everything after the last id it saw;
* **presence**: how many distinct members are online in a scope (a sphere);
* the **tab registry**: which tabs are open and whose they are, which tabs lost
  their socket and until when they may come back, how many tabs a member has.

:class:`MemoryHub` serves one process. ``chatspheres.realtime.redis_hub``
implements the same :class:`Hub` protocol on Redis for many processes on many
machines; both pass the same contract tests (tests/realtime/test_hub_contract.py).
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

import msgspec


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """One frame on its way to tabs, with what the receiving tab needs to route it.

    ``frame`` is the JSON text the client receives; ``type`` the event's type,
    by which the receiving tab finds the observers apps registered for it.
    ``meta`` carries facts for those observers that the client never sees (the
    conversation a relayed signal belongs to, the partner's tab). A logged
    event has its per-member ``id`` (also inside ``frame``) and, when it is
    for one tab only, that ``tab``.
    """

    frame: str
    type: str
    meta: tuple[str, ...] = ()
    id: int = 0
    tab: str | None = None


def with_event_id(frame: str, event_id: int) -> str:
    """The JSON object ``frame`` with ``"id"`` as its first member."""
    # Splicing is safe: every frame is an encoded object, "{...}".
    return f'{{"id":{event_id},{frame[1:]}' if frame != "{}" else f'{{"id":{event_id}}}'


def first_event_id(now: float | None = None) -> int:
    """Where a member's event ids start when the hub knows none of theirs.

    Ids come from the clock (microseconds), so they keep growing even after
    the hub forgot a member's log or Redis restarted empty: a tab never
    mistakes a new event for one it has already seen.
    """
    return int((time.time() if now is None else now) * 1_000_000)


def count_in(presence: dict[str, Counter[int]], scope: str, member: int) -> bool:
    """Count one more tab of ``member`` in ``scope``; True when it is their first."""
    members = presence.setdefault(scope, Counter())
    members[member] += 1
    return members[member] == 1


def count_out(presence: dict[str, Counter[int]], scope: str, member: int) -> bool:
    """Count one tab less of ``member`` in ``scope``; True when it was their last."""
    members = presence.get(scope)
    if not members or member not in members:
        return False
    members[member] -= 1
    if members[member] > 0:
        return False
    del members[member]
    if not members:
        del presence[scope]
    return True


class Inbox(Protocol):
    """Something that can receive envelopes: a tab's live socket."""

    async def deliver(self, envelope: Envelope) -> None: ...

    def deliver_now(self, envelope: Envelope) -> bool:
        """Take the envelope synchronously, or return False to have it delivered instead."""
        ...


@dataclass(frozen=True, slots=True)
class TabRef:
    """A tab, and the member it belongs to."""

    tab: str
    user: int


@dataclass(slots=True)
class SweepResult:
    """What a sweep found: tabs lost with a dead process, and lost tabs that did not come back."""

    lost: list[TabRef] = field(default_factory=list)
    gone: list[TabRef] = field(default_factory=list)


class Hub(Protocol):
    """Fan-out, the event log, presence and the tab registry (see the module docstring)."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...

    async def ready(self) -> bool:
        """Whether the hub can serve now (its backing service answers)."""
        ...

    # Fan-out ---------------------------------------------------------------
    async def subscribe(self, channel: str, inbox: Inbox) -> None: ...
    async def unsubscribe(self, channel: str, inbox: Inbox) -> None: ...

    async def publish(self, channel: str, envelope: Envelope) -> None:
        """Deliver to every tab subscribed to ``channel``; nothing is logged."""
        ...

    def publish_now(self, channel: str, envelope: Envelope) -> bool:
        """Hand over synchronously, in order with earlier publishes; False: call publish()."""
        ...

    # The event log -----------------------------------------------------------
    async def publish_logged(self, user: int, channel: str, envelope: Envelope) -> Envelope:
        """Give ``envelope`` the member's next event id, log it, deliver it; return it as sent."""
        ...

    async def last_event_id(self, user: int) -> int:
        """The id of the newest event logged for the member (or where their ids start)."""
        ...

    async def replay(self, user: int, after: int) -> list[Envelope] | None:
        """The member's logged events after ``after``, oldest first; None if some were forgotten."""
        ...

    # Presence ----------------------------------------------------------------
    async def presence_add(self, scope: str, member: int) -> bool:
        """Count one more tab of ``member`` in ``scope``; True when they were not there before."""
        ...

    async def presence_remove(self, scope: str, member: int) -> bool:
        """Count one tab less of ``member``; True when they are no longer there at all."""
        ...

    async def presence_counts(self, scopes: Iterable[str]) -> dict[str, int]:
        """How many distinct members each scope has now."""
        ...

    # Tabs ------------------------------------------------------------------
    async def tab_attach(self, tab: str, user: int, socket: str) -> int:
        """Record that ``socket`` now serves the tab; return how many tabs the member has open."""
        ...

    async def tab_detach(self, tab: str, socket: str) -> None:
        """The tab closed for good, if ``socket`` still serves it."""
        ...

    async def tab_lost(self, tab: str, socket: str, deadline: float) -> None:
        """``socket`` dropped; the tab may come back (on any process) until ``deadline``."""
        ...

    async def tab_owner(self, tab: str) -> int | None:
        """The member an open or recently lost tab belongs to."""
        ...

    async def tabs_alive(self, tabs: Iterable[str]) -> set[str]:
        """Which of these tabs have a live socket now."""
        ...

    async def sweep(self, now: float) -> SweepResult:
        """Find tabs of dead processes, and claim (once, across processes) lost tabs now gone."""
        ...

    # Limits ----------------------------------------------------------------
    async def hit(self, key: str, limit: int, window: float) -> bool:
        """Count a hit on ``key``; False once ``limit`` hits fell within ``window`` seconds."""
        ...


@dataclass(slots=True)
class _TabEntry:
    user: int
    socket: str
    lost_until: float | None = None


@dataclass(slots=True)
class _Log:
    # Replaying from before ``floor`` is impossible: older events were dropped.
    floor: int
    last_id: int
    # Made with the member's first logged event: an empty deque is 760 bytes,
    # and every member with a tab open has a log (for where their ids start).
    entries: deque[Envelope] | None
    touched: float


class MemoryHub:
    """The hub for a single process: dictionaries on the event loop."""

    def __init__(self, *, log_size: int = 200, log_seconds: float = 300.0) -> None:
        self._subscribers: dict[str, list[Inbox]] = {}
        # A member with two tabs in a sphere counts once; the Counter keeps
        # how many of their tabs are there so closing one does not hide them.
        self._presence: dict[str, Counter[int]] = {}
        self._logs: dict[int, _Log] = {}
        self._log_size = log_size
        self._log_seconds = log_seconds
        self._tabs: dict[str, _TabEntry] = {}
        # Live tabs per member (entries of _tabs not lost), so that attaching
        # one more does not walk every tab of the process.
        self._live_tabs: dict[int, int] = {}
        self._hits: dict[str, deque[float]] = {}

    async def start(self) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Forget every subscriber."""
        self._subscribers.clear()
        self._presence.clear()

    async def ready(self) -> bool:
        """Always ready: nothing outside this process is needed."""
        return True

    # Fan-out ---------------------------------------------------------------

    async def subscribe(self, channel: str, inbox: Inbox) -> None:
        """Start delivering ``channel`` to ``inbox``."""
        self._subscribers.setdefault(channel, []).append(inbox)

    async def unsubscribe(self, channel: str, inbox: Inbox) -> None:
        """Stop delivering ``channel`` to ``inbox``."""
        inboxes = self._subscribers.get(channel)
        if not inboxes:
            return
        try:
            inboxes.remove(inbox)
        except ValueError:
            return
        if not inboxes:
            del self._subscribers[channel]

    async def publish(self, channel: str, envelope: Envelope) -> None:
        """Deliver ``envelope`` to each subscriber of ``channel``."""
        inboxes = self._subscribers.get(channel)
        if not inboxes:
            return
        if len(inboxes) == 1:  # the relay hot path: one partner tab
            await inboxes[0].deliver(envelope)
            return
        for inbox in tuple(inboxes):
            await inbox.deliver(envelope)

    def publish_now(self, channel: str, envelope: Envelope) -> bool:
        """Hand a relayed frame to the one tab listening, without awaiting anything."""
        inboxes = self._subscribers.get(channel)
        if not inboxes:
            return True  # nobody listens, exactly as publish() would find
        if len(inboxes) != 1:
            return False
        return inboxes[0].deliver_now(envelope)

    # The event log -----------------------------------------------------------

    async def publish_logged(self, user: int, channel: str, envelope: Envelope) -> Envelope:
        """Number the event, keep it in the member's log, deliver it."""
        log = self._log_for(user)
        event_id = log.last_id + 1
        logged = msgspec.structs.replace(
            envelope, frame=with_event_id(envelope.frame, event_id), id=event_id
        )
        log.last_id = event_id
        log.touched = time.monotonic()
        entries = log.entries
        if entries is None:
            entries = log.entries = deque()
        if len(entries) == self._log_size:
            log.floor = entries.popleft().id
        entries.append(logged)
        await self.publish(channel, logged)
        return logged

    async def last_event_id(self, user: int) -> int:
        """The newest id given to one of the member's events."""
        return self._log_for(user).last_id

    async def replay(self, user: int, after: int) -> list[Envelope] | None:
        """Everything logged for the member after ``after``; None if that reaches past the log."""
        log = self._logs.get(user)
        if log is None or after < log.floor or after > log.last_id:
            return None
        return [entry for entry in log.entries or () if entry.id > after]

    def _log_for(self, user: int) -> _Log:
        log = self._logs.get(user)
        if log is None:
            start = first_event_id()
            log = self._logs[user] = _Log(
                floor=start, last_id=start, entries=None, touched=time.monotonic()
            )
        return log

    # Presence ----------------------------------------------------------------

    async def presence_add(self, scope: str, member: int) -> bool:
        """Count one more tab of ``member`` in ``scope``."""
        return count_in(self._presence, scope, member)

    async def presence_remove(self, scope: str, member: int) -> bool:
        """Count one tab less of ``member`` in ``scope``."""
        return count_out(self._presence, scope, member)

    async def presence_counts(self, scopes: Iterable[str]) -> dict[str, int]:
        """Distinct members per scope."""
        return {scope: len(self._presence.get(scope, ())) for scope in scopes}

    # Tabs ------------------------------------------------------------------

    async def tab_attach(self, tab: str, user: int, socket: str) -> int:
        """Record the tab's socket; count the member's open tabs."""
        replaced = self._tabs.get(tab)
        if replaced is not None and replaced.lost_until is None:
            self._one_less_live(replaced.user)
        self._tabs[tab] = _TabEntry(user=user, socket=socket)
        live = self._live_tabs[user] = self._live_tabs.get(user, 0) + 1
        return live

    def _one_less_live(self, user: int) -> None:
        left = self._live_tabs[user] - 1
        if left:
            self._live_tabs[user] = left
        else:
            del self._live_tabs[user]

    async def tab_detach(self, tab: str, socket: str) -> None:
        """Forget the tab, unless another socket has taken it over."""
        entry = self._tabs.get(tab)
        if entry is not None and entry.socket == socket:
            del self._tabs[tab]
            if entry.lost_until is None:
                self._one_less_live(entry.user)

    async def tab_lost(self, tab: str, socket: str, deadline: float) -> None:
        """Keep the tab's owner until ``deadline`` so that it can come back."""
        entry = self._tabs.get(tab)
        if entry is not None and entry.socket == socket:
            if entry.lost_until is None:
                self._one_less_live(entry.user)
            entry.lost_until = deadline

    async def tab_owner(self, tab: str) -> int | None:
        """Whose tab it is, while it is open or may still come back."""
        entry = self._tabs.get(tab)
        return entry.user if entry is not None else None

    async def tabs_alive(self, tabs: Iterable[str]) -> set[str]:
        """The tabs with a live socket."""
        alive = set()
        for tab in tabs:
            entry = self._tabs.get(tab)
            if entry is not None and entry.lost_until is None:
                alive.add(tab)
        return alive

    async def sweep(self, now: float) -> SweepResult:
        """Lost tabs whose time ran out; old logs and counters are forgotten on the way."""
        result = SweepResult()
        for tab, entry in list(self._tabs.items()):
            if entry.lost_until is not None and entry.lost_until <= now:
                del self._tabs[tab]
                result.gone.append(TabRef(tab=tab, user=entry.user))
        oldest = time.monotonic() - self._log_seconds
        for user in [user for user, log in self._logs.items() if log.touched < oldest]:
            del self._logs[user]
        stale = time.monotonic() - 3600
        for key in [key for key, hits in self._hits.items() if not hits or hits[-1] < stale]:
            del self._hits[key]
        return result

    # Limits ----------------------------------------------------------------

    async def hit(self, key: str, limit: int, window: float) -> bool:
        """A sliding window of hits per key."""
        now = time.monotonic()
        hits = self._hits.setdefault(key, deque())
        while hits and hits[0] <= now - window:
            hits.popleft()
        if len(hits) >= limit:
            return False
        hits.append(now)
        return True
