"""A queue and the reference fed the same generated operations, checked after each one.

Used twice: on the engine itself (test_engine_properties.py) and on every
``Matcher`` backend (test_matcher_contract.py), against the one reference in
``reference.py``.  On pools no larger than the scan limit the queue must
choose exactly as the reference; with a tiny scan limit (so the bounded scan
cuts in) it may choose differently but must still never break a rule.

``FamiliarFacesOverTime`` adds what the database knows (conversations, their
ratings, connections) and builds each arrival as ``queue_request_for`` does:
never-again people excluded, familiar faces listed, and a familiar pairing
allowed only when none of the person's last three matches was a repeat.  It
checks the familiar-faces rule over whole histories: nobody has two familiar
pairings within four consecutive matches, a pair with a conversation that
was not good is never paired again, and nobody is paired whom the rules from
before familiar faces would keep apart.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from chatspheres.matching.engine import Pairing, Seeker
from tests.matching.reference import FakeClock, ReferenceQueue

WINDOW = 300.0
PEOPLE = range(16)
# People from outside the crowd, in the test where a crowd waits first.
NEWCOMERS = range(16, 24)
POOLS = (1, 2, 3)
# Pools never hold more people than this, so a scan limit above it is exact.
EXACT_SCAN_LIMIT = 32

people = st.sampled_from(PEOPLE)
pools = st.sampled_from(POOLS)
interest_sets = st.frozensets(st.sampled_from("abcdef"), max_size=4)
exclusion_sets = st.frozensets(people, max_size=3)
familiar_sets = st.frozensets(people, max_size=3)
tabs = st.sampled_from(["tab-1", "tab-2"])
pauses = st.sampled_from([0.0, 1.0, 60.0, WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW])
seekers = st.builds(
    Seeker,
    person=people,
    tab=tabs,
    pool=pools,
    interests=interest_sets,
    excluded=exclusion_sets,
    familiar=familiar_sets,
    familiar_allowed=st.booleans(),
)

# Several candidates for one arrival: a crowd waits first (they exclude one
# another), then newcomers and others arrive.
newcomers = st.sampled_from(NEWCOMERS)
crowd_members = st.builds(
    Seeker,
    person=people,
    tab=tabs,
    pool=st.just(POOLS[0]),
    interests=interest_sets,
    excluded=st.frozensets(newcomers, max_size=2),
    familiar=st.frozensets(newcomers, max_size=2),
    familiar_allowed=st.booleans(),
)
newcomer_seekers = st.builds(
    Seeker,
    person=newcomers,
    tab=tabs,
    pool=st.sampled_from(POOLS[:2]),
    interests=interest_sets,
    excluded=st.frozensets(people, max_size=3),
    familiar=st.frozensets(people, max_size=4),
    familiar_allowed=st.booleans(),
)
crowds = st.lists(crowd_members, min_size=3, max_size=15, unique_by=lambda each: each.person)
partings = st.lists(st.tuples(people, newcomers), max_size=6)
arrival_lists = st.lists(newcomer_seekers | seekers, min_size=1, max_size=8)


class Queue(Protocol):
    """A matching queue driven synchronously: the engine, or a ``Matcher`` run to completion."""

    def join(self, seeker: Seeker) -> Pairing | None: ...
    def leave(self, person: int, tab: str | None = None) -> Seeker | None: ...
    def note_parted(self, a: int, b: int) -> None: ...
    def restore(self, pairing: Pairing, *, arrival: bool = True, partner: bool = True) -> None: ...
    def waiting_count(self, pool: int) -> int: ...
    def is_waiting(self, person: int) -> bool: ...
    def recent_partners_waiting(self, person: int, pool: int) -> dict[int, str]: ...


# Makes a fresh, empty queue on the given clock with the given scan limit.
QueueFactory = Callable[[FakeClock, int], Queue]


@dataclass
class Unstarted:
    """A pairing whose conversation has not started (yet): it may still be restored."""

    pairing: Pairing
    partner_place: int  # in the reference's queue


class SideBySide:
    """A queue and the reference fed the same operations, checked after each one."""

    def __init__(self, make_queue: QueueFactory, *, scan_limit: int, exact: bool) -> None:
        self.clock = FakeClock()
        self.queue = make_queue(self.clock, scan_limit)
        self.reference = ReferenceQueue(window=WINDOW)
        self.exact = exact
        # People in a conversation the queue started, until they join again.
        self.in_conversation: set[int] = set()
        self.unstarted: list[Unstarted] = []

    def waiting_in(self, pool: int) -> frozenset[int]:
        return frozenset(each.person for each in self.reference.waiting if each.pool == pool)

    def arrive(self, arrival: Seeker) -> Pairing | None:
        person = arrival.person
        now = self.clock.now
        self.reference.remove(person)
        self.in_conversation.discard(person)
        expected = self.reference.best_partner(arrival, now)

        pairing = self.queue.join(arrival)

        if pairing is None:
            if self.exact:
                assert expected is None, f"{person} was kept waiting; {expected} was free"
            self.reference.enqueue(arrival)
            return None
        partner = pairing.partner
        assert pairing.arrival == arrival
        assert partner.person != person
        assert self.reference.find(partner.person) == partner, "partner was not waiting"
        assert partner.person not in self.in_conversation
        assert self.reference.may_meet_by_the_old_rules(arrival, partner, now)
        assert self.reference.may_meet(arrival, partner, now)
        assert pairing.shared == arrival.interests & partner.interests
        if self.exact:
            assert partner == expected
        place = self.reference.place_of(partner.person)
        self.reference.remove(partner.person)
        self.reference.record_together(person, partner.person, now)
        self.in_conversation |= {person, partner.person}
        # A pairing of either of them is over once they are paired again.
        paired = {person, partner.person}
        self.unstarted = [
            each
            for each in self.unstarted
            if not {each.pairing.arrival.person, each.pairing.partner.person} & paired
        ]
        self.unstarted.append(Unstarted(pairing, place))
        return pairing

    def leave(self, person: int, tab: str | None) -> None:
        waiting = self.reference.find(person)
        expected = waiting if waiting is not None and tab in (None, waiting.tab) else None

        assert self.queue.leave(person, tab) == expected

        if expected is not None:
            self.reference.remove(person)

    def note_parted(self, a: int, b: int) -> None:
        self.queue.note_parted(a, b)
        self.reference.record_together(a, b, self.clock.now)

    def restore(self, index: int, *, arrival: bool, partner: bool) -> None:
        unstarted = self.unstarted.pop(index % len(self.unstarted))
        pairing = unstarted.pairing

        self.queue.restore(pairing, arrival=arrival, partner=partner)

        self.reference.restore(
            pairing.arrival,
            pairing.partner,
            unstarted.partner_place,
            restore_arrival=arrival,
            restore_partner=partner,
        )
        # That conversation never started: neither of them is in it.
        self.in_conversation -= {pairing.arrival.person, pairing.partner.person}

    def check_recent_partners_waiting(self, person: int, pool: int) -> None:
        expected = self.reference.recent_partners_waiting(person, pool, self.clock.now)
        assert self.queue.recent_partners_waiting(person, pool) == expected

    def check_waiting_counts(self) -> None:
        for pool in POOLS:
            assert self.queue.waiting_count(pool) == len(self.waiting_in(pool))

    def check_the_same_people_wait(self) -> None:
        for person in (*PEOPLE, *NEWCOMERS):
            assert self.queue.is_waiting(person) == (self.reference.find(person) is not None)

    def check_nobody_waits_while_in_a_conversation(self) -> None:
        waiting = {each.person for each in self.reference.waiting}
        assert not waiting & self.in_conversation


class QueueAgainstReference(RuleBasedStateMachine):
    """Random joins, leaves, partings, restores and pauses, fed to a queue and the reference."""

    def __init__(self, make_queue: QueueFactory, *, scan_limit: int, exact: bool) -> None:
        super().__init__()
        self.both = SideBySide(make_queue, scan_limit=scan_limit, exact=exact)

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

    @rule(person=people, tab=st.none() | tabs)
    def leave(self, person: int, tab: str | None) -> None:
        self.both.leave(person, tab)

    @rule(a=people, b=people)
    def note_parted(self, a: int, b: int) -> None:
        self.both.note_parted(a, b)

    @precondition(lambda self: bool(self.both.unstarted))
    @rule(index=st.integers(min_value=0, max_value=7), arrival=st.booleans(), partner=st.booleans())
    def conversation_could_not_start(self, index: int, arrival: bool, partner: bool) -> None:
        self.both.restore(index, arrival=arrival, partner=partner)

    @rule(seconds=pauses)
    def time_passes(self, seconds: float) -> None:
        self.both.clock.advance(seconds)

    @rule(person=people, pool=pools)
    def who_of_my_recent_partners_waits(self, person: int, pool: int) -> None:
        self.both.check_recent_partners_waiting(person, pool)

    @invariant()
    def waiting_counts_agree(self) -> None:
        self.both.check_waiting_counts()

    @invariant()
    def the_same_people_wait(self) -> None:
        self.both.check_the_same_people_wait()

    @invariant()
    def nobody_waits_while_in_a_conversation(self) -> None:
        self.both.check_nobody_waits_while_in_a_conversation()


def run_against_reference(
    make_queue: QueueFactory, *, scan_limit: int, exact: bool, examples: int, steps: int
) -> None:
    """Run ``QueueAgainstReference`` on a fresh queue from ``make_queue`` for each example."""
    _run_machine(
        QueueAgainstReference,
        make_queue,
        scan_limit=scan_limit,
        exact=exact,
        examples=examples,
        steps=steps,
    )


def arrivals_facing_a_crowd(
    make_queue: QueueFactory,
    crowd: list[Seeker],
    noted_partings: list[tuple[int, int]],
    arrivals: list[Seeker],
) -> None:
    """A crowd waits in one pool, partings are noted, then arrivals get the reference choice."""
    # At most 24 people, so the exact scan limit means the queue must be exact.
    both = SideBySide(make_queue, scan_limit=EXACT_SCAN_LIMIT, exact=True)
    # The crowd waits in one sphere without pairing up, whatever their interests.
    members = frozenset(each.person for each in crowd)
    for each in crowd:
        both.arrive(replace(each, excluded=each.excluded | members))
    for a, b in noted_partings:
        both.note_parted(a, b)

    for arrival in arrivals:
        both.arrive(arrival)
        both.check_waiting_counts()
        both.check_the_same_people_wait()


# The familiar-faces rule over whole histories.

# Few people, mostly in one pool, so that the same people meet again and again.
REGULARS = range(5)
regulars = st.sampled_from(REGULARS)
regular_seekers = st.builds(
    Seeker,
    person=regulars,
    tab=tabs,
    pool=st.sampled_from([POOLS[0], POOLS[0], POOLS[0], POOLS[1]]),
    interests=st.frozensets(st.sampled_from("abc"), max_size=2),
    # Now and then a block, which the rule must leave as it is.
    excluded=st.just(frozenset()) | st.frozensets(regulars, max_size=1),
)
# Every repeat needs the window to have passed; some pauses let it.
long_pauses = st.sampled_from([1.0, WINDOW / 2, WINDOW, 2 * WINDOW])
# At most one familiar pairing in every this many matches of a person.
FAMILIAR_EVERY = 4


@dataclass(frozen=True)
class Match:
    """One match of a person, as their history records it."""

    partner: int
    familiar: bool  # the partner was a familiar face of theirs when they were paired
    repeat: bool  # they had talked before


@dataclass
class History:
    """What the database knows: who talked, how it went, who is connected, and who matched whom."""

    talked: set[frozenset[int]] = field(default_factory=set)
    not_good: set[frozenset[int]] = field(default_factory=set)
    connected: set[frozenset[int]] = field(default_factory=set)
    conversations: list[frozenset[int]] = field(default_factory=list)
    matches: dict[int, list[Match]] = field(default_factory=lambda: defaultdict(list))

    def familiar_faces(self, person: int) -> frozenset[int]:
        """Connections with no neutral or negative conversation between them."""
        return frozenset(
            other
            for pair in self.connected - self.not_good
            if person in pair
            for other in pair - {person}
        )

    def never_again(self, person: int) -> frozenset[int]:
        return frozenset(
            other for pair in self.not_good if person in pair for other in pair - {person}
        )

    def familiar_allowed(self, person: int) -> bool:
        """As ``queue_request_for`` decides it: no repeat among the last three matches."""
        return not any(match.repeat for match in self.matches[person][-(FAMILIAR_EVERY - 1) :])

    def request(self, base: Seeker) -> Seeker:
        """The seeker ``queue_request_for`` would build for ``base`` now."""
        person = base.person
        return replace(
            base,
            excluded=base.excluded | self.never_again(person),
            familiar=self.familiar_faces(person),
            familiar_allowed=self.familiar_allowed(person),
        )

    def record_match(self, a: int, b: int) -> None:
        pair = frozenset({a, b})
        assert pair not in self.not_good, f"{a} and {b} had a conversation that was not good"
        repeat = pair in self.talked
        for person, partner in ((a, b), (b, a)):
            familiar = partner in self.familiar_faces(person)
            self.matches[person].append(Match(partner, familiar, repeat))
            recent = self.matches[person][-FAMILIAR_EVERY:]
            assert sum(match.familiar for match in recent) <= 1, (
                f"{person} had two familiar pairings within {FAMILIAR_EVERY} matches: {recent}"
            )
        self.talked.add(pair)
        self.conversations.append(pair)


class FamiliarFacesOverTime(RuleBasedStateMachine):
    """Joins, leaves, ratings, connections and time, with arrivals built from the history."""

    def __init__(self, make_queue: QueueFactory, *, scan_limit: int, exact: bool) -> None:
        super().__init__()
        self.both = SideBySide(make_queue, scan_limit=scan_limit, exact=exact)
        self.history = History()
        # Who is in a conversation with whom, until one of them joins again.
        self.partner_of: dict[int, int] = {}

    def arrive(self, base: Seeker, *, excluding_everyone_waiting: bool = False) -> None:
        person = base.person
        partner = self.partner_of.pop(person, None)
        if partner is not None:
            # Joining again means that conversation ended: the site notes the parting.
            self.partner_of.pop(partner, None)
            self.both.note_parted(person, partner)
        arrival = self.history.request(base)
        if excluding_everyone_waiting:
            arrival = replace(
                arrival, excluded=arrival.excluded | self.both.waiting_in(arrival.pool)
            )
        pairing = self.both.arrive(arrival)
        if pairing is None:
            return
        # Both are matched: neither carries on a conversation they had.
        for each in (person, pairing.partner.person):
            other = self.partner_of.pop(each, None)
            if other is not None:
                self.partner_of.pop(other, None)
        self.partner_of[person] = pairing.partner.person
        self.partner_of[pairing.partner.person] = person
        self.history.record_match(person, pairing.partner.person)

    @initialize(pairs=st.sets(st.tuples(regulars, regulars), max_size=8))
    def connections_from_before(self, pairs: set[tuple[int, int]]) -> None:
        # Pairs who talked (in some other sphere, long ago) and connected.
        for a, b in pairs:
            if a != b:
                self.history.talked.add(frozenset({a, b}))
                self.history.connected.add(frozenset({a, b}))

    @rule(base=regular_seekers)
    def join(self, base: Seeker) -> None:
        self.arrive(base)

    @rule(base=regular_seekers)
    def join_excluding_everyone_waiting(self, base: Seeker) -> None:
        self.arrive(base, excluding_everyone_waiting=True)

    @rule(person=regulars)
    def leave(self, person: int) -> None:
        self.both.leave(person, None)

    @precondition(lambda self: bool(self.history.conversations))
    @rule(
        index=st.integers(min_value=0, max_value=20),
        rating=st.sampled_from(["good", "good", "okay", "not_for_me"]),
    )
    def rated(self, index: int, rating: str) -> None:
        conversations = self.history.conversations
        if rating != "good":
            self.history.not_good.add(conversations[-1 - index % len(conversations)])

    @precondition(lambda self: bool(self.history.conversations))
    @rule(index=st.integers(min_value=0, max_value=20))
    def both_want_to_talk_again(self, index: int) -> None:
        conversations = self.history.conversations
        self.history.connected.add(conversations[-1 - index % len(conversations)])

    @rule(seconds=long_pauses)
    def time_passes(self, seconds: float) -> None:
        self.both.clock.advance(seconds)

    @invariant()
    def the_same_people_wait(self) -> None:
        self.both.check_the_same_people_wait()


def run_familiar_faces(
    make_queue: QueueFactory, *, scan_limit: int, exact: bool, examples: int, steps: int
) -> None:
    """Run ``FamiliarFacesOverTime`` on a fresh queue from ``make_queue`` for each example."""
    _run_machine(
        FamiliarFacesOverTime,
        make_queue,
        scan_limit=scan_limit,
        exact=exact,
        examples=examples,
        steps=steps,
    )


def _run_machine(
    machine: type[QueueAgainstReference] | type[FamiliarFacesOverTime],
    make_queue: QueueFactory,
    *,
    scan_limit: int,
    exact: bool,
    examples: int,
    steps: int,
) -> None:
    """Run ``machine`` on a fresh queue from ``make_queue`` for each example."""

    class Machine(machine):  # type: ignore[valid-type,misc]
        def __init__(self) -> None:
            super().__init__(make_queue, scan_limit=scan_limit, exact=exact)

    run_state_machine_as_test(
        Machine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
