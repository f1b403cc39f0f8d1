"""One matcher holding a queue of N waiting people while timed arrivals come and go."""

from __future__ import annotations

import gc
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Protocol

from bench.matching.naive import NaiveMatcher
from chatspheres.matching.engine import MatchingEngine, Pairing, Seeker

RECENT_PARTNER_WINDOW = 600.0  # seconds: the engine's default, the product rule
SECONDS_PER_ARRIVAL = 1.0  # the simulated clock moves on by this much per timed arrival
# A diagnostic: the engine with a smaller scan, to show what that knob buys.
SMALL_SCAN_LIMIT = 8
# At most one familiar pairing in every this many matches of a person.
FAMILIAR_EVERY = 4


class Matcher(Protocol):
    def join(self, seeker: Seeker) -> Pairing | None: ...
    def note_parted(self, a: int, b: int) -> None: ...


def _cpu_clock_overhead_ns(samples: int = 3000) -> int:
    """What reading this thread's CPU clock around nothing costs (subtracted from each join)."""
    cpu, perf = time.thread_time_ns, time.perf_counter_ns
    deltas = []
    for _ in range(samples):
        started = cpu()
        perf()
        perf()
        deltas.append(cpu() - started)
    deltas.sort()
    return deltas[len(deltas) // 2]


CPU_CLOCK_OVERHEAD_NS = _cpu_clock_overhead_ns()


@dataclass
class Batch:
    """What one repetition of timed arrivals saw.

    Each ``join`` is timed twice: wall-clock (``perf_counter_ns`` right around
    the call) and this thread's CPU time (``thread_time_ns`` just outside, its
    own cost subtracted). On a shared machine the process is sometimes
    descheduled in the middle of a join, which adds milliseconds to that
    join's wall time but nothing to its CPU time.
    """

    join_ns: list[int] = field(default_factory=list)
    cpu_ns: list[int] = field(default_factory=list)
    pairings: int = 0
    shared_total: int = 0
    arrivals_left_waiting: int = 0

    @property
    def mean_us(self) -> float:
        """Mean CPU time per arrival."""
        return sum(self.cpu_ns) / len(self.cpu_ns) / 1000 if self.cpu_ns else float("nan")

    @property
    def wall_mean_us(self) -> float:
        return sum(self.join_ns) / len(self.join_ns) / 1000 if self.join_ns else float("nan")


class Scenario:
    """A matcher, its simulated clock, and who has been waiting since when.

    The queue is held at ``len(prefilled)``: each timed arrival pairs with one
    prefilled person, the call ends at once (``note_parted``) and that person
    joins again, untimed, at the back of the queue. Arrivals come from a
    small group of active people who come back every few dozen seconds, so a
    matcher that ignored the recent-partner rule would repeat partners.
    """

    def __init__(self, kind: str, prefilled: list[Seeker]) -> None:
        """``kind``: "engine" (as the site runs it), "engine_scan_limit_8", or "naive".

        "engine_familiar" is the engine with the familiar-faces rule at work:
        give it seekers with familiar faces (``workload.with_familiar_faces``);
        each person's allowance for a familiar pairing is then kept from their
        matches here, as ``queue_request_for`` reads it from the history.
        """
        self.kind = kind
        self.now = 0.0
        self.matcher: Matcher
        if kind.startswith("engine"):
            tuning = {"scan_limit": SMALL_SCAN_LIMIT} if kind == "engine_scan_limit_8" else {}
            engine = MatchingEngine(
                recent_partner_window=RECENT_PARTNER_WINDOW, clock=self.clock, **tuning
            )
            for seeker in prefilled:
                if engine.join(seeker) is not None:
                    raise AssertionError("prefilled people must not pair with each other")
            if engine.waiting_count(prefilled[0].pool) != len(prefilled):
                raise AssertionError("prefill did not queue everyone")
            self.matcher = engine
        elif kind == "naive":
            naive = NaiveMatcher(recent_partner_window=RECENT_PARTNER_WINDOW, clock=self.clock)
            for seeker in prefilled:
                naive.enqueue_unmatchable(seeker)
            self.matcher = naive
        else:
            raise ValueError(f"no such matcher: {kind}")
        self._start_bookkeeping(prefilled)

    def _start_bookkeeping(self, prefilled: list[Seeker]) -> None:
        self.familiar_rule = self.kind.endswith("_familiar")
        # Per person: whether each of their last matches was a repeat, and
        # whether it was familiar (to check the rule held).
        self.last_repeats: dict[int, deque[bool]] = {}
        self.last_familiar: dict[int, deque[bool]] = {}
        self.familiar_pairings = 0
        self.familiar_rule_broken = 0
        self.prefilled_count = len(prefilled)
        # Join time of everyone waiting, oldest first (re-joins move to the back).
        self.joined_at: dict[int, float] = dict.fromkeys(
            (seeker.person for seeker in prefilled), 0.0
        )
        self.last_paired: dict[tuple[int, int], float] = {}
        self.repeats_in_window = 0
        self.repeats_any = 0
        self.pairings = 0
        self.served_waits: list[float] = []
        self.rejoin_pairings = 0
        # Timed arrivals left waiting (none, in practice): only they could pair
        # with a prefilled person who joins again.
        self.active_waiting: set[int] = set()
        # Everything built so far lives as long as the run: keep the collector
        # from walking it again and again (all matchers alike).
        gc.collect()
        gc.freeze()

    def clock(self) -> float:
        return self.now

    def run(self, arrivals: list[Seeker], batch: Batch | None = None) -> Batch:
        """Time ``join`` for each arrival (added to ``batch``); the rest is untimed bookkeeping."""
        batch = batch if batch is not None else Batch()
        for each in arrivals:
            self.now += SECONDS_PER_ARRIVAL
            self.joined_at.pop(each.person, None)  # join() replaces an old wait
            arrival = self.as_requested(each)
            pairing, wall_ns, cpu_ns = self.timed_join(arrival)
            batch.cpu_ns.append(cpu_ns)
            batch.join_ns.append(wall_ns)
            if pairing is None:
                batch.arrivals_left_waiting += 1
                self.joined_at[arrival.person] = self.now
                self.active_waiting.add(arrival.person)
                continue
            batch.pairings += 1
            batch.shared_total += len(pairing.shared)
            self._after_pairing(pairing)
        return batch

    def as_requested(self, seeker: Seeker) -> Seeker:
        """The seeker as the site would build it now: a fresh object, with its allowance.

        Every matcher gets a fresh object per join, so that none is flattered
        by reusing one that sits in the CPU caches.
        """
        if not self.familiar_rule:
            return replace(seeker)
        last = self.last_repeats.get(seeker.person)
        return replace(seeker, familiar_allowed=not (last and any(last)))

    def timed_join(self, arrival: Seeker) -> tuple[Pairing | None, int, int]:
        """``join`` the arrival; return the pairing, its wall-clock and its CPU nanoseconds."""
        cpu, perf = time.thread_time_ns, time.perf_counter_ns
        started_cpu = cpu()
        started = perf()
        pairing = self.matcher.join(arrival)
        ended = perf()
        return pairing, ended - started, max(0, cpu() - started_cpu - CPU_CLOCK_OVERHEAD_NS)

    def rejoin(self, seeker: Seeker) -> Pairing | None:
        """A prefilled person joins again after a pairing (untimed)."""
        if isinstance(self.matcher, NaiveMatcher) and not self.active_waiting:
            # Nobody it may meet is waiting: skip the untimed scan.
            self.matcher.enqueue_unmatchable(seeker)
            return None
        return self.matcher.join(seeker)

    def _after_pairing(self, pairing: Pairing) -> None:
        # Bounded: a re-join pairs only with an active person left waiting,
        # and each pairing takes one of those out of the queue.
        pending: list[Pairing] = [pairing]
        for _ in range(1000):
            if not pending:
                return
            current = pending.pop()
            a, b = current.arrival.person, current.partner.person
            if self.familiar_rule:
                self._record_familiar(current)
            self._record(a, b)
            self.matcher.note_parted(a, b)
            for seeker in (current.arrival, current.partner):
                self.active_waiting.discard(seeker.person)
                if 0 <= seeker.person < self.prefilled_count:
                    again = self.rejoin(self.as_requested(seeker))
                    if again is None:
                        self.joined_at[seeker.person] = self.now
                    else:
                        self.rejoin_pairings += 1
                        pending.append(again)
        raise AssertionError("re-joins kept pairing; the scenario is broken")

    def _record_familiar(self, pairing: Pairing) -> None:
        """Keep each side's last matches: repeats (for the allowance) and familiar ones."""
        arrival, partner = pairing.arrival, pairing.partner
        key = (arrival.person, partner.person)
        # As the matcher judges it: the arrival's list (the relation holds both ways).
        familiar = partner.person in arrival.familiar
        # Familiar faces talked before the run (a connection follows a
        # conversation): meeting one is a repeat, as the history would say.
        repeat = familiar or (min(key), max(key)) in self.last_paired
        self.familiar_pairings += familiar
        for person in key:
            repeats = self.last_repeats.setdefault(person, deque(maxlen=FAMILIAR_EVERY - 1))
            repeats.append(repeat)
            familiars = self.last_familiar.setdefault(person, deque(maxlen=FAMILIAR_EVERY))
            familiars.append(familiar)
            if sum(familiars) > 1:
                self.familiar_rule_broken += 1

    def _record(self, a: int, b: int) -> None:
        self.pairings += 1
        for person in (a, b):
            since = self.joined_at.pop(person, None)
            if since is not None:
                self.served_waits.append(self.now - since)
        key = (a, b) if a < b else (b, a)
        last = self.last_paired.get(key)
        if last is not None:
            self.repeats_any += 1
            if self.now - last < RECENT_PARTNER_WINDOW:
                self.repeats_in_window += 1
        self.last_paired[key] = self.now

    def oldest_wait(self) -> float:
        """How long the person who has waited longest has been waiting, in simulated seconds."""
        for since in self.joined_at.values():
            return self.now - since
        return 0.0
