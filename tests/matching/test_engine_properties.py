"""The engine against a brute-force reference, over generated sequences of operations.

The reference keeps everyone waiting in one list and, for each arrival, looks at
all of them: the eligible person sharing most interests wins, the earliest to
join among equals.  On pools smaller than ``scan_limit`` the engine must agree
with it exactly; with a tiny ``scan_limit`` (so the engine's bounded scan cuts
in) it must still never break a rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chatspheres.matching.engine import MatchingEngine, Seeker

WINDOW = 300.0
PEOPLE = range(16)
# People from outside the crowd, in the test where a crowd waits first.
NEWCOMERS = range(16, 24)
POOLS = (1, 2, 3)

people = st.sampled_from(PEOPLE)
pools = st.sampled_from(POOLS)
interest_sets = st.frozensets(st.sampled_from("abcdef"), max_size=4)
exclusion_sets = st.frozensets(people, max_size=3)
tickets = st.sampled_from(["tab-1", "tab-2"])
pauses = st.sampled_from([0.0, 1.0, 60.0, WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW])
seekers = st.builds(
    Seeker,
    person=people,
    ticket=tickets,
    pool=pools,
    interests=interest_sets,
    excluded=exclusion_sets,
)


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


class SideBySide:
    """An engine and the reference fed the same operations, checked after each one."""

    def __init__(self, *, scan_limit: int, must_match_reference: bool) -> None:
        self.clock = FakeClock()
        self.engine = MatchingEngine(
            recent_partner_window=WINDOW, scan_limit=scan_limit, clock=self.clock
        )
        self.reference = ReferenceQueue(window=WINDOW)
        self.must_match_reference = must_match_reference
        # People in a conversation the engine started, until they join again.
        self.in_conversation: set[int] = set()

    def waiting_in(self, pool: int) -> frozenset[int]:
        return frozenset(each.person for each in self.reference.waiting if each.pool == pool)

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

    def leave(self, person: int, ticket: str | None) -> None:
        waiting = self.reference.find(person)
        expected = waiting if waiting is not None and ticket in (None, waiting.ticket) else None

        assert self.engine.leave(person, ticket) == expected

        if expected is not None:
            self.reference.remove(person)

    def note_parted(self, a: int, b: int) -> None:
        self.engine.note_parted(a, b)
        self.reference.record_together(a, b, self.clock.now)

    def check_waiting_counts(self) -> None:
        for pool in POOLS:
            assert self.engine.waiting_count(pool) == len(self.waiting_in(pool))

    def check_the_same_people_wait(self) -> None:
        for person in (*PEOPLE, *NEWCOMERS):
            assert self.engine.is_waiting(person) == (self.reference.find(person) is not None)

    def check_nobody_waits_while_in_a_conversation(self) -> None:
        waiting = {each.person for each in self.reference.waiting}
        assert not waiting & self.in_conversation


class EngineAgainstReference(RuleBasedStateMachine):
    """Random joins, leaves, partings and pauses, fed to the engine and the reference."""

    scan_limit = 32
    must_match_reference = True

    def __init__(self) -> None:
        super().__init__()
        self.both = SideBySide(
            scan_limit=self.scan_limit, must_match_reference=self.must_match_reference
        )

    @rule(arrival=seekers)
    def join(self, arrival: Seeker) -> None:
        self.both.arrive(arrival)

    @rule(arrival=seekers)
    def join_excluding_everyone_waiting(self, arrival: Seeker) -> None:
        # Arrivals are paired with anyone eligible, so without this rule a
        # pool rarely holds more than one or two people and the choice
        # between candidates would hardly be exercised.
        everyone = self.both.waiting_in(arrival.pool)
        self.both.arrive(replace(arrival, excluded=arrival.excluded | everyone))

    @rule(person=people, ticket=st.none() | tickets)
    def leave(self, person: int, ticket: str | None) -> None:
        self.both.leave(person, ticket)

    @rule(a=people, b=people)
    def note_parted(self, a: int, b: int) -> None:
        self.both.note_parted(a, b)

    @rule(seconds=pauses)
    def time_passes(self, seconds: float) -> None:
        self.both.clock.now += seconds

    @invariant()
    def waiting_counts_agree(self) -> None:
        self.both.check_waiting_counts()

    @invariant()
    def the_same_people_wait(self) -> None:
        self.both.check_the_same_people_wait()

    @invariant()
    def nobody_waits_while_in_a_conversation(self) -> None:
        self.both.check_nobody_waits_while_in_a_conversation()


class BoundedScanKeepsTheRules(EngineAgainstReference):
    """With a tiny scan limit the choice may differ, but no rule may be broken."""

    scan_limit = 1
    must_match_reference = False


EngineAgainstReference.TestCase.settings = settings(
    max_examples=200, stateful_step_count=50, deadline=None
)
BoundedScanKeepsTheRules.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)

test_engine_chooses_exactly_as_the_reference_on_small_pools = EngineAgainstReference.TestCase
test_engine_keeps_every_rule_when_the_scan_is_cut_short = BoundedScanKeepsTheRules.TestCase


# Several candidates for one arrival: a crowd waits first (they exclude one
# another), then newcomers and others arrive.
newcomers = st.sampled_from(NEWCOMERS)
crowd_members = st.builds(
    Seeker,
    person=people,
    ticket=tickets,
    pool=st.just(POOLS[0]),
    interests=interest_sets,
    excluded=st.frozensets(newcomers, max_size=2),
)
newcomer_seekers = st.builds(
    Seeker,
    person=newcomers,
    ticket=tickets,
    pool=st.sampled_from(POOLS[:2]),
    interests=interest_sets,
    excluded=st.frozensets(people, max_size=3),
)


@settings(max_examples=300, deadline=None)
@given(
    crowd=st.lists(crowd_members, min_size=3, max_size=15, unique_by=lambda each: each.person),
    partings=st.lists(st.tuples(people, newcomers), max_size=6),
    arrivals=st.lists(newcomer_seekers | seekers, min_size=1, max_size=8),
)
def test_arrivals_facing_a_crowd_get_the_reference_choice(
    crowd: list[Seeker], partings: list[tuple[int, int]], arrivals: list[Seeker]
) -> None:
    # At most 24 people, so a scan limit of 32 means the engine must be exact.
    both = SideBySide(scan_limit=32, must_match_reference=True)
    # The crowd waits in one sphere without pairing up, whatever their interests.
    members = frozenset(each.person for each in crowd)
    for each in crowd:
        both.arrive(replace(each, excluded=each.excluded | members))
    for a, b in partings:
        both.note_parted(a, b)

    for arrival in arrivals:
        both.arrive(arrival)
        both.check_waiting_counts()
        both.check_the_same_people_wait()
