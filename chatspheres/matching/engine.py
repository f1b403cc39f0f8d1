"""The matching engine: who waiting in a sphere should a new arrival talk to?

People who press "Start a conversation" join the queue of one sphere (a *pool*).
An arrival is paired at once with the best waiting candidate, or starts waiting:

* eligible candidates are in the same pool, are not the arrival, are not
  excluded by either side (blocks work both ways), and have not been partnered
  with the arrival within ``recent_partner_window`` seconds (nobody is sent
  straight back to the person they just left);
* the best candidate shares the most interests with the arrival; among equals
  the longest-waiting one wins (join order, via a sequence number, so ties are
  deterministic); when nobody shares an interest, the longest-waiting eligible
  person is chosen, because a conversation without a shared interest beats
  waiting.

Familiar faces.  Matching blends familiar and new on purpose: at most one
familiar pairing in every four matches of a person, and never a neutral or
negative repeat.

* A pairing is *familiar* when the candidate is among the arrival's
  ``familiar`` faces (connections with no neutral or negative conversation
  between them).  The arrival's list is read from the database as it asks to
  wait, and the relation holds both ways, so it is the pair's state now; a
  waiting person's own list may be older and plays no part (a backend need
  not even keep it).  A familiar pairing is allowed only when both sides'
  ``familiar_allowed`` is true; otherwise that candidate is ineligible, like
  an excluded one.  Familiar faces are otherwise ordinary candidates: they
  are not preferred, so the queue keeps introducing people, and a connection
  who wants to talk now has "Call now".
* Never a neutral or negative repeat: people with a conversation rated okay
  or not for me, by either side, come in ``excluded``.
* The 10-minute recent-partner rule applies to familiar faces too.

Where "matches since the last familiar one" lives: nowhere in the queue.
``chatspheres.matching.selectors.queue_request_for`` recomputes
``familiar_allowed`` from the conversation history when the person asks to
wait (none of their last three matched conversations was a repeat).  The
history is in the database, which every process shares and which outlives
restarts, whereas a count kept here would be lost with the process or with
Redis, differ between the memory and Redis backends, and need undoing when a
pairing is restored.  The fact cannot go stale while the person waits: they
are matched by nobody else meanwhile.  Counting every repeat, not only
pairings with someone familiar at the time, is deliberate: a connection
always follows an earlier conversation, so every familiar pairing is a
repeat; and whether a match was a repeat never changes afterwards, so later
ratings or a removed connection cannot loosen the count.  The engine
therefore needs one flag per seeker: an arrival costs one attribute read
per candidate more, and a set look-up when either side has no familiar
pairing left (bench/matching measures it beside the engine without familiar
faces).  Decision 0005 says what else was considered.

This module is pure Python with no Django import so that it can be tested and
benchmarked on its own; ``redis_matcher.py`` applies the same rules in Redis
scripts, for a queue shared by several processes (see ``backends.py``).

Cost.  Deciding one arrival must not grow with the number of people waiting.
Each pool keeps an interest index (interest -> waiting people, oldest first)
and a pool-wide list (oldest first) for the no-shared-interest fallback.  The
arrival's interest buckets are read side by side, oldest first in each, and
the scan stops after ``scan_limit`` distinct eligible people have been
compared (or ``4 * scan_limit`` ineligible ones skipped, so that neither a
huge exclusion set nor a crowd of recent partners makes it unbounded), or as
soon as someone shares every one of the arrival's interests.  Consequently:

* when the pool holds no more than ``scan_limit`` people, the choice is
  exactly the best candidate defined above;
* on very large pools it is the best among the longest-waiting people of each
  of the arrival's interests, ``scan_limit`` of them in all.  Those are the
  people who have waited longest, who should be served first anyway; looking
  further would make every arrival pay for the whole queue;
* if an arrival's buckets and the pool-wide list start with more than
  ``4 * scan_limit`` people it may not meet, it waits instead of scanning on;
  the next arrivals, who are not excluded, will pick them up.

An arrival therefore compares at most ``scan_limit`` people, whatever the size
of the queue and however many interests it has; ``scan_limit`` trades the
quality of the choice on huge pools against that cost (benchmarked in
bench/matching).  Removing a waiting person costs O(number of their interests).

The orders are kept in ``OrderedDict`` rather than ``dict``: a plain dict
used as a first-in-first-out set leaves deleted slots at its front until the
next resize, and iterating from the front walks over all of them (measured at
about 50 µs per arrival with 100,000 waiting), whereas an ``OrderedDict``
starts at its first live entry.

Undoing a pairing.  When the conversation of a pairing cannot be started,
``restore`` puts the two back: the partner at exactly the place it had (its
sequence number, so nobody who joined later overtakes it), the arrival at the
back as a new arrival, each only if asked and not already waiting again.
``restore`` never pairs anyone; the next arrival may.  It also forgets that
the two were together, and simply drops the pair's record: they cannot have
been recent partners before the pairing (they would not have been paired),
and a pairing whose conversation never started ends in no parting, so the
pairing's own record is the only one there is to undo.  Call it at most once
per pairing, straight after ``join`` returned it.  Putting the partner back
at its place walks its queues from both ends to find it, so it costs the
smaller of the number of people ahead of it and behind it; that is paid only
on this rare path, never by an arrival.

The engine is not thread-safe: one process drives it from one event loop (see
``MemoryMatcher``).  The clock must never go backwards.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import islice

__all__ = ["MatchingEngine", "Pairing", "Seeker"]


@dataclass(frozen=True, slots=True)
class Seeker:
    """A person waiting, from one browser tab, to be matched in one sphere.

    ``familiar`` are the person's familiar faces (connections with no neutral
    or negative conversation between them), which count when they arrive and
    are not part of who waits (a backend may drop them once the person
    waits); ``familiar_allowed`` says whether their next match may be a
    familiar one (none of their last three matches was).  See the module
    docstring.
    """

    person: int
    tab: str
    pool: int
    interests: frozenset[str]
    excluded: frozenset[int] = frozenset()
    familiar: frozenset[int] = field(default=frozenset(), compare=False)
    familiar_allowed: bool = True


@dataclass(frozen=True, slots=True)
class Pairing:
    """Two people the engine has just put together.

    ``partner_place`` is where the partner stood in the queue (the backend's
    own sequence number), so that ``restore`` can put them back there; it is
    bookkeeping, not part of what the pairing is, hence left out of equality.
    ``None`` (a pairing built by hand) puts the partner back at the end.
    """

    arrival: Seeker
    partner: Seeker
    shared: frozenset[str]
    partner_place: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class _Waiting:
    seeker: Seeker
    sequence: int


class _Pool:
    __slots__ = ("by_interest", "everyone")

    def __init__(self) -> None:
        self.everyone: OrderedDict[int, _Waiting] = OrderedDict()
        self.by_interest: dict[str, OrderedDict[int, _Waiting]] = {}


_NOBODY: frozenset[int] = frozenset()


def _pair_key(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a <= b else (b, a)


class MatchingEngine:
    """Queues per sphere that pair each arrival with the best waiting candidate."""

    def __init__(
        self,
        *,
        recent_partner_window: float = 600.0,
        scan_limit: int = 10,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create an empty engine; see the module docstring for the parameters' meaning."""
        if recent_partner_window < 0:
            raise ValueError("recent_partner_window must not be negative")
        if scan_limit < 1:
            raise ValueError("scan_limit must be at least 1")
        self._window = recent_partner_window
        self._scan_limit = scan_limit
        self._skip_limit = 4 * scan_limit
        self._clock = clock
        self._pools: dict[int, _Pool] = {}
        self._waiting: dict[int, _Waiting] = {}
        self._next_sequence = 0
        # Latest pairing/parting time per pair, and the same events in time
        # order so expired pairs can be forgotten from the front cheaply.
        self._last_together: dict[tuple[int, int], float] = {}
        self._together_log: deque[tuple[float, tuple[int, int]]] = deque()
        # The same pairs by person, so an arrival fetches its set once.
        self._recent_partners: dict[int, set[int]] = {}

    def join(self, seeker: Seeker) -> Pairing | None:
        """Pair the seeker with the best waiting candidate, or queue them and return None."""
        self._remove(seeker.person, None)
        now = self._clock()
        self._forget_expired(now)
        pool = self._pools.get(seeker.pool)
        chosen = self._best_partner(seeker, pool) if pool is not None else None
        if chosen is None:
            self._enqueue(seeker)
            return None
        partner = chosen.seeker
        self._remove(partner.person, None)
        self._remember_together(seeker.person, partner.person, now)
        return Pairing(
            arrival=seeker,
            partner=partner,
            shared=seeker.interests & partner.interests,
            partner_place=chosen.sequence,
        )

    def leave(self, person: int, tab: str | None = None) -> Seeker | None:
        """Stop the person waiting (only if their wait is from ``tab``, when given)."""
        return self._remove(person, tab)

    def note_parted(self, a: int, b: int) -> None:
        """Record that two people just left each other, so they are not paired again soon."""
        now = self._clock()
        self._forget_expired(now)
        if a != b:
            self._remember_together(a, b, now)

    def restore(self, pairing: Pairing, *, arrival: bool = True, partner: bool = True) -> None:
        """Undo a pairing whose conversation could not start (see the module docstring)."""
        self._forget_together(pairing.arrival.person, pairing.partner.person)
        returning = pairing.partner
        if partner and returning.person not in self._waiting:
            place = pairing.partner_place
            # A place this engine never gave out (a pairing built by hand)
            # would break the queues' order: such a partner goes to the back.
            if place is None or place >= self._next_sequence:
                self._enqueue(returning)
            else:
                self._enqueue_at(returning, place)
        if arrival and pairing.arrival.person not in self._waiting:
            self._enqueue(pairing.arrival)

    def waiting_count(self, pool: int) -> int:
        """Return how many people wait in the pool."""
        queue = self._pools.get(pool)
        return len(queue.everyone) if queue is not None else 0

    def is_waiting(self, person: int) -> bool:
        """Return whether the person waits in any pool."""
        return person in self._waiting

    def recent_partners_waiting(self, person: int, pool: int) -> dict[int, str]:
        """Return the person's recent partners who wait in the pool now, with the tab of each."""
        self._forget_expired(self._clock())
        found: dict[int, str] = {}
        for partner in self._recent_partners.get(person, _NOBODY):
            waiting = self._waiting.get(partner)
            if waiting is not None and waiting.seeker.pool == pool:
                found[partner] = waiting.seeker.tab
        return found

    def _enqueue(self, seeker: Seeker) -> None:
        waiting = _Waiting(seeker=seeker, sequence=self._next_sequence)
        self._next_sequence += 1
        self._waiting[seeker.person] = waiting
        pool = self._pools.get(seeker.pool)
        if pool is None:
            pool = self._pools[seeker.pool] = _Pool()
        pool.everyone[seeker.person] = waiting
        for interest in seeker.interests:
            bucket = pool.by_interest.get(interest)
            if bucket is None:
                bucket = pool.by_interest[interest] = OrderedDict()
            bucket[seeker.person] = waiting

    def _enqueue_at(self, seeker: Seeker, sequence: int) -> None:
        # Sequence numbers are never reused, so the old one is still free.
        waiting = _Waiting(seeker=seeker, sequence=sequence)
        self._waiting[seeker.person] = waiting
        pool = self._pools.get(seeker.pool)
        if pool is None:
            pool = self._pools[seeker.pool] = _Pool()
        _insert_in_order(pool.everyone, seeker.person, waiting)
        for interest in seeker.interests:
            bucket = pool.by_interest.get(interest)
            if bucket is None:
                bucket = pool.by_interest[interest] = OrderedDict()
            _insert_in_order(bucket, seeker.person, waiting)

    def _remove(self, person: int, tab: str | None) -> Seeker | None:
        waiting = self._waiting.get(person)
        if waiting is None:
            return None
        seeker = waiting.seeker
        if tab is not None and seeker.tab != tab:
            return None
        del self._waiting[person]
        pool = self._pools[seeker.pool]
        del pool.everyone[person]
        for interest in seeker.interests:
            bucket = pool.by_interest[interest]
            del bucket[person]
            # Interest names are open-ended; empty buckets would pile up forever.
            if not bucket:
                del pool.by_interest[interest]
        if not pool.everyone:
            del self._pools[seeker.pool]
        return seeker

    def _best_partner(self, arrival: Seeker, pool: _Pool) -> _Waiting | None:
        # The hot loop of the engine: everything it touches is a local name,
        # and eligibility is spelled out rather than called.
        excluded = arrival.excluded
        familiar = arrival.familiar
        familiar_allowed = arrival.familiar_allowed
        recent = self._recent_partners.get(arrival.person, _NOBODY)
        me = arrival.person  # never waiting here: join removed them first
        mine = arrival.interests
        most_possible = len(mine)
        by_interest = pool.by_interest
        # The arrival's buckets are read side by side, oldest first in each, so
        # the budget goes to the longest-waiting people of every interest.
        readers = [
            iter(bucket.items())
            for bucket in (by_interest.get(interest) for interest in mine)
            if bucket is not None
        ]
        considered_left = self._scan_limit
        skips_left = self._skip_limit
        # A person appears in several buckets; judge them once.
        judged: dict[int, bool] = {}
        best: _Waiting | None = None
        best_shared = 0
        while readers:
            still_reading = []
            for reader in readers:
                entry = next(reader, None)
                if entry is None:
                    continue
                still_reading.append(reader)
                person, waiting = entry
                if person in judged:
                    continue
                candidate = waiting.seeker
                eligible = judged[person] = not (
                    person in excluded
                    or person in recent
                    or me in candidate.excluded
                    # A familiar pairing needs both sides' allowance; the
                    # arrival's list is looked at only when one side has none.
                    or (
                        (not familiar_allowed or not candidate.familiar_allowed)
                        and person in familiar
                    )
                )
                if not eligible:
                    skips_left -= 1
                    if skips_left == 0:
                        return self._best_or_oldest(best, arrival, pool, judged)
                    continue
                shared = len(mine & candidate.interests)
                if (
                    best is None
                    or shared > best_shared
                    or (shared == best_shared and waiting.sequence < best.sequence)
                ):
                    best, best_shared = waiting, shared
                    # Nobody can share more, and anyone else sharing as much
                    # stands behind someone already judged in every bucket.
                    if shared == most_possible:
                        return best
                considered_left -= 1
                if considered_left == 0:
                    return best
            readers = still_reading
        return self._best_or_oldest(best, arrival, pool, judged)

    def _best_or_oldest(
        self, best: _Waiting | None, arrival: Seeker, pool: _Pool, judged: dict[int, bool]
    ) -> _Waiting | None:
        if best is not None:
            return best
        return self._oldest_eligible(arrival, pool, judged)

    def _oldest_eligible(
        self, arrival: Seeker, pool: _Pool, judged: dict[int, bool]
    ) -> _Waiting | None:
        for person, waiting in islice(pool.everyone.items(), self._skip_limit):
            eligible = judged.get(person)
            if eligible is None:
                eligible = self._may_meet(arrival, waiting.seeker)
            if eligible:
                return waiting
        return None

    def _may_meet(self, arrival: Seeker, candidate: Seeker) -> bool:
        return not (
            candidate.person in arrival.excluded
            or arrival.person in candidate.excluded
            or candidate.person in self._recent_partners.get(arrival.person, _NOBODY)
            or (
                not (arrival.familiar_allowed and candidate.familiar_allowed)
                and candidate.person in arrival.familiar
            )
        )

    def _remember_together(self, a: int, b: int, now: float) -> None:
        key = _pair_key(a, b)
        self._last_together[key] = now
        self._together_log.append((now, key))
        self._recent_partners.setdefault(a, set()).add(b)
        self._recent_partners.setdefault(b, set()).add(a)

    def _forget_together(self, a: int, b: int) -> None:
        key = _pair_key(a, b)
        # The pair's entry in the time-ordered log stays: expiry skips entries
        # that are no longer the pair's latest (see _forget_expired).
        if self._last_together.pop(key, None) is None:
            return
        self._forget_partner(a, b)
        self._forget_partner(b, a)

    def _forget_expired(self, now: float) -> None:
        log = self._together_log
        while log and now - log[0][0] >= self._window:
            at, key = log.popleft()
            # Only the pair's latest event may forget it: an earlier one has
            # been superseded (or the pair already forgotten at the same time).
            if self._last_together.get(key) != at:
                continue
            del self._last_together[key]
            a, b = key
            self._forget_partner(a, b)
            self._forget_partner(b, a)

    def _forget_partner(self, person: int, partner: int) -> None:
        partners = self._recent_partners[person]
        partners.discard(partner)
        if not partners:
            del self._recent_partners[person]


def _insert_in_order(queue: OrderedDict[int, _Waiting], person: int, waiting: _Waiting) -> None:
    """Insert ``person`` into a queue kept in sequence order, at its sequence's place."""
    # An OrderedDict cannot insert in the middle, only move entries to either
    # end.  Walk in from both ends at once until the place is found, then move
    # the entries on the shorter side: the cost is the smaller of the two.
    place = waiting.sequence
    ahead: list[int] = []
    behind: list[int] = []
    from_front = iter(queue.items())
    from_back = reversed(queue.items())
    while True:
        entry = next(from_front, None)
        if entry is None or entry[1].sequence > place:
            queue[person] = waiting
            queue.move_to_end(person, last=False)
            for earlier in reversed(ahead):
                queue.move_to_end(earlier, last=False)
            return
        ahead.append(entry[0])
        entry = next(from_back, None)
        if entry is None or entry[1].sequence < place:
            queue[person] = waiting
            for later in reversed(behind):
                queue.move_to_end(later)
            return
        behind.append(entry[0])
