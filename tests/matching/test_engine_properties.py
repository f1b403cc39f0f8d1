"""The engine against a brute-force reference, over generated sequences of operations.

The reference keeps everyone waiting in one list and, for each arrival, looks at
all of them: the eligible person sharing most interests wins, the earliest to
join among equals.  On pools smaller than ``scan_limit`` the engine must agree
with it exactly; with a tiny ``scan_limit`` (so the engine's bounded scan cuts
in) it must still never break a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chatspheres.matching.engine import MatchingEngine, Seeker

WINDOW = 300.0
PEOPLE = range(16)
POOLS = (1, 2, 3)

people = st.sampled_from(PEOPLE)
pools = st.sampled_from(POOLS)
interest_sets = st.frozensets(st.sampled_from("abcdef"), max_size=4)
exclusion_sets = st.frozensets(people, max_size=3)
tickets = st.sampled_from(["tab-1", "tab-2"])
pauses = st.sampled_from([0.0, 1.0, 60.0, WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW])


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@dataclass
class ReferenceQueue:
    """Who waits, and who was together when: the rules written as plainly as possible."""

    window: float
    waiting: list[Seeker] = field(default_factory=list)
    last_together: dict[frozenset[int], float] = field(default_factory=dict)

    def find(self, person: int) -> Seeker | None:
        return next((each for each in self.waiting if each.person == person), None)

    def remove(self, person: int) -> None:
        self.waiting = [each for each in self.waiting if each.person != person]

    def were_together_recently(self, a: int, b: int, now: float) -> bool:
        at = self.last_together.get(frozenset({a, b}))
        return at is not None and now - at < self.window

    def may_meet(self, arrival: Seeker, candidate: Seeker, now: float) -> bool:
        return (
            candidate.pool == arrival.pool
            and candidate.person != arrival.person
            and candidate.person not in arrival.excluded
            and arrival.person not in candidate.excluded
            and not self.were_together_recently(arrival.person, candidate.person, now)
        )

    def best_partner(self, arrival: Seeker, now: float) -> Seeker | None:
        best: Seeker | None = None
        best_shared = -1
        for candidate in self.waiting:  # oldest first, so ">" keeps the oldest among equals
            if not self.may_meet(arrival, candidate, now):
                continue
            shared = len(arrival.interests & candidate.interests)
            if shared > best_shared:
                best, best_shared = candidate, shared
        return best

    def record_together(self, a: int, b: int, now: float) -> None:
        if a != b:
            self.last_together[frozenset({a, b})] = now


class EngineAgainstReference(RuleBasedStateMachine):
    """Drives an engine and the reference side by side."""

    scan_limit = 32
    must_match_reference = True

    def __init__(self) -> None:
        super().__init__()
        self.clock = FakeClock()
        self.engine = MatchingEngine(
            recent_partner_window=WINDOW, scan_limit=self.scan_limit, clock=self.clock
        )
        self.reference = ReferenceQueue(window=WINDOW)
        # People in a conversation the engine started, until they join again.
        self.in_conversation: set[int] = set()

    @rule(
        person=people,
        pool=pools,
        interests=interest_sets,
        excluded=exclusion_sets,
        ticket=tickets,
    )
    def join(
        self,
        person: int,
        pool: int,
        interests: frozenset[str],
        excluded: frozenset[int],
        ticket: str,
    ) -> None:
        self.arrive(
            Seeker(person=person, ticket=ticket, pool=pool, interests=interests, excluded=excluded)
        )

    @rule(person=people, pool=pools, interests=interest_sets, ticket=tickets)
    def join_excluding_everyone_waiting(
        self, person: int, pool: int, interests: frozenset[str], ticket: str
    ) -> None:
        # Arrivals are paired with anyone eligible, so without this rule a
        # pool rarely holds more than one or two people and the choice
        # between candidates would hardly be exercised.
        excluded = frozenset(each.person for each in self.reference.waiting if each.pool == pool)
        self.arrive(
            Seeker(person=person, ticket=ticket, pool=pool, interests=interests, excluded=excluded)
        )

    def arrive(self, arrival: Seeker) -> None:
        person = arrival.person
        now = self.clock.now
        self.reference.remove(person)
        self.in_conversation.discard(person)
        expected = self.reference.best_partner(arrival, now)

        pairing = self.engine.join(arrival)

        if pairing is None:
            if self.must_match_reference:
                assert expected is None, f"engine kept {person} waiting; {expected} was free"
            self.reference.waiting.append(arrival)
            return
        partner = pairing.partner
        assert pairing.arrival == arrival
        assert partner.person != person
        assert self.reference.find(partner.person) == partner, "partner was not waiting"
        assert partner.person not in self.in_conversation
        assert self.reference.may_meet(arrival, partner, now)
        assert pairing.shared == arrival.interests & partner.interests
        if self.must_match_reference:
            assert partner == expected
        self.reference.remove(partner.person)
        self.reference.record_together(person, partner.person, now)
        self.in_conversation |= {person, partner.person}

    @rule(person=people, ticket=st.none() | tickets)
    def leave(self, person: int, ticket: str | None) -> None:
        waiting = self.reference.find(person)
        expected = waiting if waiting is not None and ticket in (None, waiting.ticket) else None

        assert self.engine.leave(person, ticket) == expected

        if expected is not None:
            self.reference.remove(person)

    @rule(a=people, b=people)
    def note_parted(self, a: int, b: int) -> None:
        self.engine.note_parted(a, b)
        self.reference.record_together(a, b, self.clock.now)

    @rule(seconds=pauses)
    def time_passes(self, seconds: float) -> None:
        self.clock.now += seconds

    @invariant()
    def waiting_counts_agree(self) -> None:
        for pool in POOLS:
            expected = sum(1 for each in self.reference.waiting if each.pool == pool)
            assert self.engine.waiting_count(pool) == expected

    @invariant()
    def the_same_people_wait(self) -> None:
        for person in PEOPLE:
            assert self.engine.is_waiting(person) == (self.reference.find(person) is not None)

    @invariant()
    def nobody_waits_while_in_a_conversation(self) -> None:
        waiting = {each.person for each in self.reference.waiting}
        assert not waiting & self.in_conversation


class BoundedScanKeepsTheRules(EngineAgainstReference):
    """With a tiny scan limit the choice may differ, but no rule may be broken."""

    scan_limit = 1
    must_match_reference = False


EngineAgainstReference.TestCase.settings = settings(
    max_examples=300, stateful_step_count=60, deadline=None
)
BoundedScanKeepsTheRules.TestCase.settings = settings(
    max_examples=200, stateful_step_count=60, deadline=None
)

test_engine_chooses_exactly_as_the_reference_on_small_pools = EngineAgainstReference.TestCase
test_engine_keeps_every_rule_when_the_scan_is_cut_short = BoundedScanKeepsTheRules.TestCase
