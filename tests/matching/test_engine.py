"""The matching rules, one behaviour per test.

Anyone who joins is paired at once with anyone eligible, so to build a queue
of several waiting people the tests make them exclude one another
(``queue_up``); arrivals are people outside that group.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import pytest

from chatspheres.matching.engine import MatchingEngine, Pairing, Seeker

SPHERE = 1
OTHER_SPHERE = 2
WINDOW = 600.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def seeker(
    person: int,
    interests: Iterable[str] = (),
    *,
    pool: int = SPHERE,
    excluded: Iterable[int] = (),
    ticket: str | None = None,
) -> Seeker:
    return Seeker(
        person=person,
        ticket=ticket if ticket is not None else f"tab-{person}",
        pool=pool,
        interests=frozenset(interests),
        excluded=frozenset(excluded),
    )


def queue_up(engine: MatchingEngine, *waiting: Seeker) -> None:
    """Make the seekers wait, oldest first; they exclude one another so none pair up."""
    group = frozenset(each.person for each in waiting)
    for each in waiting:
        excluded = each.excluded | group if each.excluded else group
        assert engine.join(dataclasses.replace(each, excluded=excluded)) is None


def partner_of(pairing: Pairing | None) -> int | None:
    return pairing.partner.person if pairing is not None else None


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def engine(clock: FakeClock) -> MatchingEngine:
    return MatchingEngine(recent_partner_window=WINDOW, clock=clock)


def test_first_arrival_waits(engine: MatchingEngine) -> None:
    assert engine.join(seeker(1, ["chess"])) is None
    assert engine.is_waiting(1)
    assert engine.waiting_count(SPHERE) == 1


def test_second_arrival_is_paired_with_the_first(engine: MatchingEngine) -> None:
    first = seeker(1, ["chess", "jazz"])
    second = seeker(2, ["jazz", "go"])
    engine.join(first)

    assert engine.join(second) == Pairing(arrival=second, partner=first, shared=frozenset({"jazz"}))


def test_arrival_is_paired_with_the_candidate_sharing_most_interests(
    engine: MatchingEngine,
) -> None:
    queue_up(
        engine,
        seeker(1, ["chess"]),
        seeker(2, ["chess", "jazz", "go"]),
        seeker(3, ["chess", "jazz"]),
    )

    pairing = engine.join(seeker(4, ["chess", "jazz", "go", "tea"]))

    assert pairing is not None
    assert pairing.arrival.person == 4
    assert pairing.partner.person == 2
    assert pairing.shared == frozenset({"chess", "jazz", "go"})


def test_longest_waiting_wins_among_equally_good_candidates(engine: MatchingEngine) -> None:
    queue_up(
        engine,
        seeker(1, ["tea"]),
        seeker(2, ["chess", "jazz"]),
        seeker(3, ["jazz", "chess"]),
        seeker(4, ["chess", "jazz"]),
    )

    assert partner_of(engine.join(seeker(5, ["chess", "jazz"]))) == 2
    assert partner_of(engine.join(seeker(6, ["chess", "jazz"]))) == 3


def test_rejoining_puts_a_person_at_the_back_of_the_queue(engine: MatchingEngine) -> None:
    queue_up(engine, seeker(1, ["chess"]), seeker(2, ["chess"]))
    engine.join(seeker(1, ["chess"], excluded=[2]))

    assert partner_of(engine.join(seeker(3, ["chess"]))) == 2


def test_without_shared_interests_the_longest_waiting_person_is_chosen(
    engine: MatchingEngine,
) -> None:
    queue_up(engine, seeker(1, ["tea"]), seeker(2, ["go"]))

    pairing = engine.join(seeker(3, ["chess"]))

    assert partner_of(pairing) == 1
    assert pairing is not None and pairing.shared == frozenset()


def test_arrival_without_interests_is_paired_with_the_longest_waiting(
    engine: MatchingEngine,
) -> None:
    queue_up(engine, seeker(1, ["tea"]), seeker(2))

    assert partner_of(engine.join(seeker(3))) == 1


def test_a_shared_interest_beats_a_longer_wait(engine: MatchingEngine) -> None:
    queue_up(engine, seeker(1, ["tea"]), seeker(2, ["chess"]))

    assert partner_of(engine.join(seeker(3, ["chess"]))) == 2


def test_a_person_is_never_paired_with_themself(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess"], ticket="tab-a"))

    assert engine.join(seeker(1, ["chess"], ticket="tab-b")) is None
    assert engine.waiting_count(SPHERE) == 1


def test_arrival_is_not_paired_with_someone_they_excluded(engine: MatchingEngine) -> None:
    queue_up(engine, seeker(1, ["chess"]), seeker(2, ["tea"]))

    assert partner_of(engine.join(seeker(3, ["chess"], excluded=[1]))) == 2


def test_arrival_is_not_paired_with_someone_who_excluded_them(engine: MatchingEngine) -> None:
    queue_up(engine, seeker(1, ["chess"], excluded=[3]), seeker(2, ["tea"]))

    assert partner_of(engine.join(seeker(3, ["chess"]))) == 2


def test_arrival_waits_when_every_candidate_is_excluded(engine: MatchingEngine) -> None:
    queue_up(engine, seeker(1, ["chess"], excluded=[3]), seeker(2, ["chess"]))

    assert engine.join(seeker(3, ["chess"], excluded=[2])) is None
    assert engine.waiting_count(SPHERE) == 3


def test_recent_partners_are_not_paired_again_within_the_window(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    engine.join(seeker(1, ["chess"]))
    assert partner_of(engine.join(seeker(2, ["chess"]))) == 1

    clock.advance(WINDOW - 1)
    engine.join(seeker(1, ["chess"]))
    assert engine.join(seeker(2, ["chess"])) is None


def test_recent_partners_may_be_paired_again_once_the_window_has_passed(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    engine.join(seeker(1, ["chess"]))
    engine.join(seeker(2, ["chess"]))

    clock.advance(WINDOW)
    engine.join(seeker(1, ["chess"]))
    assert partner_of(engine.join(seeker(2, ["chess"]))) == 1


def test_a_recent_partner_is_passed_over_for_someone_else(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess", "jazz"]))
    engine.join(seeker(2, ["chess", "jazz"]))
    queue_up(engine, seeker(1, ["chess", "jazz"]), seeker(3, ["tea"]))

    assert partner_of(engine.join(seeker(2, ["chess", "jazz"]))) == 3


def test_note_parted_keeps_two_people_apart_for_the_window(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    engine.note_parted(1, 2)
    engine.join(seeker(1, ["chess"]))

    clock.advance(WINDOW - 1)
    assert engine.join(seeker(2, ["chess"])) is None

    clock.advance(1)
    assert partner_of(engine.join(seeker(1, ["chess"]))) == 2


def test_the_window_counts_from_the_latest_time_two_people_were_together(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    engine.join(seeker(1, ["chess"]))
    engine.join(seeker(2, ["chess"]))
    clock.advance(300)
    engine.note_parted(2, 1)

    clock.advance(WINDOW - 1)
    engine.join(seeker(1, ["chess"]))
    assert engine.join(seeker(2, ["chess"])) is None

    clock.advance(1)
    assert partner_of(engine.join(seeker(1, ["chess"]))) == 2


def test_partings_noted_twice_at_the_same_moment_expire_together(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    engine.note_parted(1, 2)
    engine.note_parted(2, 1)
    clock.advance(WINDOW)
    engine.join(seeker(1, ["chess"]))

    assert partner_of(engine.join(seeker(2, ["chess"]))) == 1


def test_leave_stops_the_wait_and_returns_the_seeker(engine: MatchingEngine) -> None:
    waiting = seeker(1, ["chess", "jazz"])
    engine.join(waiting)

    assert engine.leave(1) == waiting
    assert not engine.is_waiting(1)
    assert engine.waiting_count(SPHERE) == 0
    assert engine.join(seeker(2, ["chess"])) is None


def test_leave_with_the_waiting_ticket_stops_the_wait(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess"], ticket="tab-a"))

    left = engine.leave(1, "tab-a")

    assert left is not None and left.ticket == "tab-a"
    assert not engine.is_waiting(1)


def test_leave_with_another_tabs_ticket_does_nothing(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess"], ticket="tab-a"))

    assert engine.leave(1, "tab-b") is None
    assert engine.is_waiting(1)
    assert partner_of(engine.join(seeker(2, ["chess"]))) == 1


def test_leave_of_someone_not_waiting_returns_none(engine: MatchingEngine) -> None:
    assert engine.leave(1) is None
    assert engine.leave(1, "tab-1") is None


def test_a_second_tab_joining_replaces_the_first(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess"], ticket="tab-a"))
    engine.join(seeker(1, ["jazz"], ticket="tab-b"))

    assert engine.waiting_count(SPHERE) == 1
    assert engine.leave(1, "tab-a") is None
    pairing = engine.join(seeker(2, ["jazz"]))
    assert pairing is not None
    assert pairing.partner.ticket == "tab-b"
    assert pairing.shared == frozenset({"jazz"})


def test_a_replaced_wait_leaves_nothing_behind_in_the_old_interests(
    engine: MatchingEngine,
) -> None:
    queue_up(engine, seeker(2, ["tea"]), seeker(1, ["chess"], ticket="tab-a"))
    engine.join(seeker(1, ["jazz"], ticket="tab-b", excluded=[2]))

    # Had the "chess" wait survived, person 1 would be chosen for sharing it.
    assert partner_of(engine.join(seeker(3, ["chess"]))) == 2


def test_matched_people_stop_waiting_everywhere(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess", "jazz", "go"]))
    engine.join(seeker(2, ["chess", "jazz", "go"]))

    assert not engine.is_waiting(1)
    assert not engine.is_waiting(2)
    assert engine.waiting_count(SPHERE) == 0
    assert engine.leave(1) is None
    for interest in ["chess", "jazz", "go", "tea"]:
        assert engine.join(seeker(10, [interest])) is None
        engine.leave(10)


def test_a_matched_person_cannot_be_matched_again_until_they_rejoin(
    engine: MatchingEngine,
) -> None:
    queue_up(engine, seeker(1, ["chess"]), seeker(2, ["go"]))

    assert partner_of(engine.join(seeker(3, ["chess"]))) == 1
    assert partner_of(engine.join(seeker(4, ["chess"]))) == 2
    assert engine.join(seeker(5, ["chess"])) is None


def test_pools_are_separate(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess"], pool=SPHERE))

    assert engine.join(seeker(2, ["chess"], pool=OTHER_SPHERE)) is None
    assert engine.waiting_count(SPHERE) == 1
    assert engine.waiting_count(OTHER_SPHERE) == 1


def test_joining_another_pool_moves_the_person(engine: MatchingEngine) -> None:
    engine.join(seeker(1, ["chess"], pool=SPHERE))
    engine.join(seeker(1, ["chess"], pool=OTHER_SPHERE))

    assert engine.waiting_count(SPHERE) == 0
    assert engine.waiting_count(OTHER_SPHERE) == 1
    assert engine.join(seeker(2, ["chess"], pool=SPHERE)) is None
    assert partner_of(engine.join(seeker(3, ["chess"], pool=OTHER_SPHERE))) == 1


def test_waiting_count_of_an_unknown_pool_is_zero(engine: MatchingEngine) -> None:
    assert engine.waiting_count(99) == 0


def test_settings_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError):
        MatchingEngine(scan_limit=0)
    with pytest.raises(ValueError):
        MatchingEngine(recent_partner_window=-1)


# Bounded scanning: the cost of one arrival does not depend on the queue, and
# a crowd of people the arrival may not meet neither hangs nor misleads it.


def test_a_huge_exclusion_set_still_finds_the_eligible_candidate(engine: MatchingEngine) -> None:
    queue_up(engine, seeker(1, ["chess"]), seeker(2, ["chess"]))
    huge = frozenset(range(3, 200_000)) | {1}

    assert partner_of(engine.join(seeker(200_000, ["chess"], excluded=huge))) == 2


def test_ineligible_people_ahead_in_the_queue_are_skipped(clock: FakeClock) -> None:
    engine = MatchingEngine(recent_partner_window=WINDOW, scan_limit=4, clock=clock)
    arrival = 1000
    blocked_by_arrival = [seeker(person, ["chess"]) for person in range(100, 105)]
    blocking_arrival = [seeker(person, ["chess"], excluded=[arrival]) for person in range(200, 205)]
    queue_up(engine, *blocked_by_arrival, *blocking_arrival, seeker(7, ["chess"]))

    pairing = engine.join(seeker(arrival, ["chess"], excluded=range(100, 105)))

    assert partner_of(pairing) == 7


def test_a_crowd_of_ineligible_people_in_a_bucket_does_not_hide_an_eligible_person(
    clock: FakeClock,
) -> None:
    engine = MatchingEngine(recent_partner_window=WINDOW, scan_limit=4, clock=clock)
    arrival = 100_000
    crowd = range(10, 1010)
    queue_up(
        engine,
        seeker(1, ["tea"]),
        *(seeker(person, ["chess", "jazz"]) for person in crowd),
    )

    pairing = engine.join(seeker(arrival, ["chess", "jazz"], excluded=crowd))

    assert partner_of(pairing) == 1
    assert engine.waiting_count(SPHERE) == len(crowd)


def test_an_arrival_facing_only_a_crowd_it_may_not_meet_waits(clock: FakeClock) -> None:
    engine = MatchingEngine(recent_partner_window=WINDOW, scan_limit=4, clock=clock)
    arrival = 100_000
    crowd = range(10, 1010)
    queue_up(engine, *(seeker(person, ["chess"], excluded=[arrival]) for person in crowd))

    assert engine.join(seeker(arrival, ["chess"])) is None
    assert engine.is_waiting(arrival)
    assert partner_of(engine.join(seeker(5, ["chess"]))) == 10


def test_a_crowd_of_recent_partners_is_skipped(clock: FakeClock) -> None:
    engine = MatchingEngine(recent_partner_window=WINDOW, scan_limit=4, clock=clock)
    arrival = 100_000
    crowd = range(10, 20)
    for person in crowd:
        engine.note_parted(arrival, person)
    queue_up(engine, *(seeker(person, ["chess"]) for person in crowd), seeker(7, ["chess"]))

    assert partner_of(engine.join(seeker(arrival, ["chess"]))) == 7


def test_a_better_candidate_is_found_through_any_of_the_arrivals_interests(
    clock: FakeClock,
) -> None:
    engine = MatchingEngine(recent_partner_window=WINDOW, scan_limit=2, clock=clock)
    queue_up(
        engine,
        seeker(1, ["chess"]),
        seeker(2, ["chess"]),
        seeker(3, ["chess", "jazz"]),
    )

    # Person 3 is beyond the first two of "chess" but first in "jazz".
    assert partner_of(engine.join(seeker(4, ["chess", "jazz"]))) == 3


@pytest.mark.parametrize(("scan_limit", "expected_partner"), [(2, 1), (32, 5)])
def test_on_a_large_pool_only_the_oldest_of_each_interest_are_compared(
    clock: FakeClock, scan_limit: int, expected_partner: int
) -> None:
    engine = MatchingEngine(recent_partner_window=WINDOW, scan_limit=scan_limit, clock=clock)
    queue_up(
        engine,
        seeker(1, ["chess"]),
        seeker(2, ["chess"]),
        seeker(3, ["jazz"]),
        seeker(4, ["jazz"]),
        seeker(5, ["chess", "jazz"]),
    )

    # Person 5 shares most, but is third in both of the arrival's buckets.
    assert partner_of(engine.join(seeker(6, ["chess", "jazz"]))) == expected_partner


def test_recent_partner_memory_is_forgotten_after_the_window(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    # Memory must stay bounded on a long-running server; there is no public
    # way to observe it, hence the look inside.
    for person in range(1, 1001):
        engine.note_parted(0, person)
    clock.advance(WINDOW)
    engine.note_parted(5000, 5001)

    assert len(engine._last_together) == 1
    assert len(engine._together_log) == 1
    assert set(engine._recent_partners) == {5000, 5001}
