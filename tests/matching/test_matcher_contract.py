"""The contract every ``Matcher`` keeps, written once and run on each backend.

``memory`` is ``MemoryMatcher`` (the engine in this process); ``redis`` is
``RedisMatcher`` on the shared Redis named by TEST_REDIS_URL, under a key
prefix of the test's own (skipped with the reason when it is unset, a failure
under CI=true).  The tests drive the matcher through ``Blocking``, which runs
each call of the ``Matcher`` interface to completion on the test's event loop.

Anyone who joins is paired at once with anyone eligible, so to build a queue
of several waiting people the tests make them exclude one another
(``queue_up``); arrivals are people outside that group.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
from collections.abc import Awaitable, Coroutine, Iterable, Iterator
from typing import Any, TypeVar

import pytest
import redis.asyncio
from hypothesis import HealthCheck, given, settings

from chatspheres.matching.backends import Matcher, MemoryMatcher
from chatspheres.matching.engine import MatchingEngine, Pairing, Seeker
from chatspheres.matching.redis_matcher import RedisMatcher
from tests.matching import machines
from tests.matching.reference import FakeClock
from tests.redis_support import shared_redis  # noqa: F401

T = TypeVar("T")

SPHERE = 1
OTHER_SPHERE = 2
WINDOW = 600.0


class Blocking:
    """A ``Matcher`` driven from synchronous test code, one call at a time."""

    def __init__(self, matcher: Matcher, loop: asyncio.AbstractEventLoop) -> None:
        self.matcher = matcher
        self._loop = loop

    def _run(self, call: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(call)

    def join(self, seeker: Seeker) -> Pairing | None:
        return self._run(self.matcher.join(seeker))

    def leave(self, person: int, tab: str | None = None) -> Seeker | None:
        return self._run(self.matcher.leave(person, tab))

    def note_parted(self, a: int, b: int) -> None:
        self._run(self.matcher.note_parted(a, b))

    def restore(self, pairing: Pairing, *, arrival: bool = True, partner: bool = True) -> None:
        self._run(self.matcher.restore(pairing, arrival=arrival, partner=partner))

    def waiting_count(self, pool: int) -> int:
        return self._run(self.matcher.waiting_count(pool))

    def is_waiting(self, person: int) -> bool:
        return self._run(self.matcher.is_waiting(person))

    def recent_partners_waiting(self, person: int, pool: int) -> dict[int, str]:
        return self._run(self.matcher.recent_partners_waiting(person, pool))


class Backend:
    """Makes matchers of one kind for one test, all on the test's own event loop."""

    def __init__(self, name: str, redis_url: str | None = None, prefix: str = "") -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._redis_url = redis_url
        self._prefix = prefix
        self._queues = itertools.count()
        # One client per process that would share the queue in production.
        self._clients: list[redis.asyncio.Redis] = []

    def examples(self, *, memory: int, redis: int) -> int:
        """How many hypothesis examples to run on this backend."""
        return memory if self.name == "memory" else redis

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return self.loop.run_until_complete(wrapped())

    def matchers(
        self,
        processes: int = 1,
        *,
        window: float = WINDOW,
        scan_limit: int = 10,
        clock: FakeClock | None = None,
    ) -> list[Matcher]:
        """A fresh, empty queue, as seen from ``processes`` processes (one matcher each)."""
        if self.name == "memory":
            engine = MatchingEngine(
                recent_partner_window=window,
                scan_limit=scan_limit,
                **({"clock": clock} if clock is not None else {}),
            )
            # One process holds the whole queue: every caller shares it.
            return [MemoryMatcher(engine)] * processes
        assert self._redis_url is not None
        while len(self._clients) < processes:
            self._clients.append(redis.asyncio.Redis.from_url(self._redis_url))
        prefix = f"{self._prefix}{next(self._queues)}:"
        return [
            RedisMatcher(
                client,
                key_prefix=prefix,
                recent_partner_window=window,
                scan_limit=scan_limit,
                clock=clock,
            )
            for client in self._clients[:processes]
        ]

    def queue(
        self, *, window: float = WINDOW, scan_limit: int = 10, clock: FakeClock | None = None
    ) -> Blocking:
        """A fresh, empty queue driven synchronously."""
        (matcher,) = self.matchers(window=window, scan_limit=scan_limit, clock=clock)
        return Blocking(matcher, self.loop)

    def machine_queue(self, clock: FakeClock, scan_limit: int) -> machines.Queue:
        """A fresh queue for the state machines, on their window."""
        return self.queue(window=machines.WINDOW, scan_limit=scan_limit, clock=clock)

    def close(self) -> None:
        for client in self._clients:
            self.loop.run_until_complete(client.aclose())
        self.loop.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "redis":
        url, prefix = request.getfixturevalue("shared_redis")
        made = Backend("redis", url, prefix)
    else:
        made = Backend("memory")
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=1000.0)


@pytest.fixture
def queue(backend: Backend, clock: FakeClock) -> Blocking:
    return backend.queue(window=WINDOW, clock=clock)


def seeker(
    person: int,
    interests: Iterable[str] = (),
    *,
    pool: int = SPHERE,
    excluded: Iterable[int] = (),
    tab: str | None = None,
    familiar: Iterable[int] = (),
    familiar_allowed: bool = True,
) -> Seeker:
    return Seeker(
        person=person,
        tab=tab if tab is not None else f"tab-{person}",
        pool=pool,
        interests=frozenset(interests),
        excluded=frozenset(excluded),
        familiar=frozenset(familiar),
        familiar_allowed=familiar_allowed,
    )


def queue_up(queue: Blocking, *waiting: Seeker) -> None:
    """Make the seekers wait, oldest first; they exclude one another so none pair up."""
    group = frozenset(each.person for each in waiting)
    for each in waiting:
        assert queue.join(dataclasses.replace(each, excluded=each.excluded | group)) is None


def partner_of(pairing: Pairing | None) -> int | None:
    return pairing.partner.person if pairing is not None else None


# The interface.


def test_the_backend_is_a_matcher(backend: Backend) -> None:
    assert isinstance(backend.matchers()[0], Matcher)


# Who is paired with whom.


def test_first_arrival_waits(queue: Blocking) -> None:
    assert queue.join(seeker(1, ["chess"])) is None
    assert queue.is_waiting(1)
    assert queue.waiting_count(SPHERE) == 1


def test_second_arrival_is_paired_with_the_first(queue: Blocking) -> None:
    first = seeker(1, ["chess", "jazz"], excluded=[9])
    second = seeker(2, ["jazz", "go"])
    queue.join(first)

    assert queue.join(second) == Pairing(arrival=second, partner=first, shared=frozenset({"jazz"}))
    assert queue.waiting_count(SPHERE) == 0


def test_interests_with_any_characters_survive_the_queue(queue: Blocking) -> None:
    first = seeker(1, ["café", "😀 emoji", 'quote " and \\ slash', "a:b"])
    queue.join(first)

    pairing = queue.join(seeker(2, ["café", "a:b"]))

    assert pairing is not None
    assert pairing.partner == first
    assert pairing.shared == frozenset({"café", "a:b"})


def test_arrival_is_paired_with_the_candidate_sharing_most_interests(queue: Blocking) -> None:
    queue_up(
        queue,
        seeker(1, ["chess"]),
        seeker(2, ["chess", "jazz", "go"]),
        seeker(3, ["chess", "jazz"]),
    )

    pairing = queue.join(seeker(4, ["chess", "jazz", "go", "tea"]))

    assert pairing is not None
    assert pairing.arrival.person == 4
    assert pairing.partner.person == 2
    assert pairing.shared == frozenset({"chess", "jazz", "go"})


def test_longest_waiting_wins_among_equally_good_candidates(queue: Blocking) -> None:
    queue_up(
        queue,
        seeker(1, ["tea"]),
        seeker(2, ["chess", "jazz"]),
        seeker(3, ["jazz", "chess"]),
        seeker(4, ["chess", "jazz"]),
    )

    assert partner_of(queue.join(seeker(5, ["chess", "jazz"]))) == 2
    assert partner_of(queue.join(seeker(6, ["chess", "jazz"]))) == 3


def test_rejoining_puts_a_person_at_the_back_of_the_queue(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess"]), seeker(2, ["chess"]))
    queue.join(seeker(1, ["chess"], excluded=[2]))

    assert partner_of(queue.join(seeker(3, ["chess"]))) == 2


def test_without_shared_interests_the_longest_waiting_person_is_chosen(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]), seeker(2, ["go"]))

    pairing = queue.join(seeker(3, ["chess"]))

    assert partner_of(pairing) == 1
    assert pairing is not None and pairing.shared == frozenset()


def test_arrival_without_interests_is_paired_with_the_longest_waiting(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]), seeker(2))

    assert partner_of(queue.join(seeker(3))) == 1


def test_a_shared_interest_beats_a_longer_wait(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]), seeker(2, ["chess"]))

    assert partner_of(queue.join(seeker(3, ["chess"]))) == 2


def test_a_person_is_never_paired_with_themself(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], tab="tab-a"))

    assert queue.join(seeker(1, ["chess"], tab="tab-b")) is None
    assert queue.waiting_count(SPHERE) == 1


def test_arrival_is_not_paired_with_someone_they_excluded(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess"]), seeker(2, ["tea"]))

    assert partner_of(queue.join(seeker(3, ["chess"], excluded=[1]))) == 2


def test_arrival_is_not_paired_with_someone_who_excluded_them(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess"], excluded=[3]), seeker(2, ["tea"]))

    assert partner_of(queue.join(seeker(3, ["chess"]))) == 2


def test_arrival_waits_when_every_candidate_is_excluded(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess"], excluded=[3]), seeker(2, ["chess"]))

    assert queue.join(seeker(3, ["chess"], excluded=[2])) is None
    assert queue.waiting_count(SPHERE) == 3


def test_pools_are_separate(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], pool=SPHERE))

    assert queue.join(seeker(2, ["chess"], pool=OTHER_SPHERE)) is None
    assert queue.waiting_count(SPHERE) == 1
    assert queue.waiting_count(OTHER_SPHERE) == 1


def test_joining_another_pool_moves_the_person(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], pool=SPHERE))
    queue.join(seeker(1, ["chess"], pool=OTHER_SPHERE))

    assert queue.waiting_count(SPHERE) == 0
    assert queue.waiting_count(OTHER_SPHERE) == 1
    assert queue.join(seeker(2, ["chess"], pool=SPHERE)) is None
    assert partner_of(queue.join(seeker(3, ["chess"], pool=OTHER_SPHERE))) == 1


def test_waiting_count_of_an_unknown_pool_is_zero(queue: Blocking) -> None:
    assert queue.waiting_count(99) == 0


# Recent partners.


def test_recent_partners_are_not_paired_again_within_the_window(
    queue: Blocking, clock: FakeClock
) -> None:
    queue.join(seeker(1, ["chess"]))
    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1

    clock.advance(WINDOW - 1)
    queue.join(seeker(1, ["chess"]))
    assert queue.join(seeker(2, ["chess"])) is None


def test_recent_partners_may_be_paired_again_once_the_window_has_passed(
    queue: Blocking, clock: FakeClock
) -> None:
    queue.join(seeker(1, ["chess"]))
    queue.join(seeker(2, ["chess"]))

    clock.advance(WINDOW)
    queue.join(seeker(1, ["chess"]))
    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1


def test_a_recent_partner_is_passed_over_for_someone_else(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess", "jazz"]))
    queue.join(seeker(2, ["chess", "jazz"]))
    queue_up(queue, seeker(1, ["chess", "jazz"]), seeker(3, ["tea"]))

    assert partner_of(queue.join(seeker(2, ["chess", "jazz"]))) == 3


def test_note_parted_keeps_two_people_apart_for_the_window(
    queue: Blocking, clock: FakeClock
) -> None:
    queue.note_parted(1, 2)
    queue.join(seeker(1, ["chess"]))

    clock.advance(WINDOW - 1)
    assert queue.join(seeker(2, ["chess"])) is None
    assert queue.is_waiting(1) and queue.is_waiting(2)

    clock.advance(1)
    assert partner_of(queue.join(seeker(1, ["chess"]))) == 2


def test_the_window_counts_from_the_latest_time_two_people_were_together(
    queue: Blocking, clock: FakeClock
) -> None:
    queue.join(seeker(1, ["chess"]))
    queue.join(seeker(2, ["chess"]))
    clock.advance(300)
    queue.note_parted(2, 1)

    clock.advance(WINDOW - 1)
    queue.join(seeker(1, ["chess"]))
    assert queue.join(seeker(2, ["chess"])) is None

    clock.advance(1)
    assert partner_of(queue.join(seeker(1, ["chess"]))) == 2


def test_partings_noted_twice_at_the_same_moment_expire_together(
    queue: Blocking, clock: FakeClock
) -> None:
    queue.note_parted(1, 2)
    queue.note_parted(2, 1)
    clock.advance(WINDOW)
    queue.join(seeker(1, ["chess"]))

    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1


def test_a_parting_with_oneself_changes_nothing(queue: Blocking) -> None:
    queue.note_parted(1, 1)
    queue.join(seeker(1, ["chess"]))

    assert queue.join(seeker(1, ["chess"])) is None
    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1


# Familiar faces: a familiar pairing only when both sides allow one.


def test_familiar_faces_are_paired_when_both_allow_it(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], familiar=[2]))

    assert partner_of(queue.join(seeker(2, ["chess"], familiar=[1]))) == 1


@pytest.mark.parametrize(
    ("waiting_allows", "arrival_allows"), [(False, True), (True, False), (False, False)]
)
def test_familiar_faces_are_not_paired_unless_both_allow_it(
    queue: Blocking, waiting_allows: bool, arrival_allows: bool
) -> None:
    queue.join(seeker(1, ["chess"], familiar=[2], familiar_allowed=waiting_allows))

    assert queue.join(seeker(2, ["chess"], familiar=[1], familiar_allowed=arrival_allows)) is None
    assert queue.waiting_count(SPHERE) == 2


def test_the_arrivals_familiar_faces_decide_not_the_waiting_persons(queue: Blocking) -> None:
    # Person 1's list is from when they started waiting; person 2's is read now.
    queue.join(seeker(1, familiar=[2], familiar_allowed=False))
    assert partner_of(queue.join(seeker(2))) == 1

    queue.join(seeker(3, familiar_allowed=False))
    assert queue.join(seeker(4, familiar=[3])) is None


def test_a_familiar_face_out_of_allowance_is_passed_over_for_someone_new(
    queue: Blocking,
) -> None:
    queue_up(queue, seeker(1, ["chess", "jazz"], familiar=[3]), seeker(2, ["tea"]))

    pairing = queue.join(seeker(3, ["chess", "jazz"], familiar=[1], familiar_allowed=False))

    assert partner_of(pairing) == 2


def test_without_an_allowance_strangers_are_paired_as_ever(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], familiar=[7, 8], familiar_allowed=False))

    assert partner_of(queue.join(seeker(2, ["chess"], familiar=[9], familiar_allowed=False))) == 1


def test_familiar_faces_are_chosen_by_the_usual_order_not_first(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess", "jazz"]), seeker(2, ["chess"], familiar=[3]))

    # Person 2 is familiar but shares less than person 1.
    assert partner_of(queue.join(seeker(3, ["chess", "jazz"], familiar=[2]))) == 1


def test_the_recent_partner_window_applies_to_familiar_faces_too(
    queue: Blocking, clock: FakeClock
) -> None:
    queue.join(seeker(1, ["chess"], familiar=[2]))
    queue.join(seeker(2, ["chess"], familiar=[1]))

    clock.advance(WINDOW - 1)
    queue.join(seeker(1, ["chess"], familiar=[2]))
    assert queue.join(seeker(2, ["chess"], familiar=[1])) is None


def test_a_waiting_persons_allowance_comes_back_with_them(queue: Blocking) -> None:
    waiting = seeker(1, ["chess"], excluded=[5], familiar_allowed=False)
    queue.join(waiting)
    left = queue.leave(1)
    assert left == waiting and not left.familiar_allowed

    queue.join(waiting)
    pairing = queue.join(seeker(2, ["chess"]))
    assert pairing is not None and pairing.partner == waiting

    queue.restore(pairing, arrival=False)
    left = queue.leave(1, "tab-1")
    assert left == waiting and not left.familiar_allowed
    # A restored partner is judged by its allowance again: person 3 is familiar to them.
    queue.restore(pairing, arrival=False)
    assert queue.join(seeker(3, ["chess"], familiar=[1])) is None


# Which of those waiting are an arrival's recent partners (the waiting screen's hint).


def test_recent_partners_waiting_are_those_together_within_the_window_who_wait_there(
    queue: Blocking, clock: FakeClock
) -> None:
    for partner in (2, 3, 4, 5):
        queue.note_parted(1, partner)
    clock.advance(WINDOW - 1)
    queue.note_parted(1, 6)
    queue_up(
        queue,
        seeker(2, tab="tab-two"),
        seeker(3, pool=OTHER_SPHERE),
        seeker(6),
        seeker(7),
    )
    # Person 4 does not wait; person 7 waits but was never with person 1.

    assert queue.recent_partners_waiting(1, SPHERE) == {2: "tab-two", 6: "tab-6"}
    assert queue.recent_partners_waiting(1, OTHER_SPHERE) == {3: "tab-3"}

    clock.advance(1)
    assert queue.recent_partners_waiting(1, SPHERE) == {6: "tab-6"}


def test_recent_partners_waiting_ignores_exclusions_either_way(queue: Blocking) -> None:
    queue.note_parted(1, 2)
    queue.note_parted(1, 3)
    queue_up(queue, seeker(2, excluded=[1]), seeker(3))

    assert queue.recent_partners_waiting(1, SPHERE) == {2: "tab-2", 3: "tab-3"}


def test_a_pairing_makes_the_two_recent_partners_of_each_other(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"]))
    queue.join(seeker(2, ["chess"]))
    queue.join(seeker(1, ["chess"], tab="tab-again"))

    assert queue.recent_partners_waiting(2, SPHERE) == {1: "tab-again"}
    assert queue.recent_partners_waiting(1, SPHERE) == {}


def test_nobody_waiting_means_no_recent_partners_waiting(queue: Blocking) -> None:
    assert queue.recent_partners_waiting(1, SPHERE) == {}


# Leaving and one wait per person.


def test_leave_stops_the_wait_and_returns_the_seeker(queue: Blocking) -> None:
    waiting = seeker(1, ["chess", "jazz"], excluded=[7, 8])
    queue.join(waiting)

    assert queue.leave(1) == waiting
    assert not queue.is_waiting(1)
    assert queue.waiting_count(SPHERE) == 0
    assert queue.join(seeker(2, ["chess"])) is None


def test_leave_from_the_waiting_tab_stops_the_wait(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], tab="tab-a"))

    left = queue.leave(1, "tab-a")

    assert left is not None and left.tab == "tab-a"
    assert not queue.is_waiting(1)


def test_leave_from_another_tab_does_nothing(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], tab="tab-a"))

    assert queue.leave(1, "tab-b") is None
    assert queue.is_waiting(1)
    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1


def test_leave_of_someone_not_waiting_returns_none(queue: Blocking) -> None:
    assert queue.leave(1) is None
    assert queue.leave(1, "tab-1") is None


def test_a_second_tab_joining_replaces_the_first(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"], tab="tab-a"))
    queue.join(seeker(1, ["jazz"], tab="tab-b"))

    assert queue.waiting_count(SPHERE) == 1
    assert queue.leave(1, "tab-a") is None
    pairing = queue.join(seeker(2, ["jazz"]))
    assert pairing is not None
    assert pairing.partner.tab == "tab-b"
    assert pairing.shared == frozenset({"jazz"})


def test_a_replaced_wait_leaves_nothing_behind_in_the_old_interests(queue: Blocking) -> None:
    queue_up(queue, seeker(2, ["tea"]), seeker(1, ["chess"], tab="tab-a"))
    queue.join(seeker(1, ["jazz"], tab="tab-b", excluded=[2]))

    # Had the "chess" wait survived, person 1 would be chosen for sharing it.
    assert partner_of(queue.join(seeker(3, ["chess"]))) == 2


def test_matched_people_stop_waiting_everywhere(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess", "jazz", "go"]))
    queue.join(seeker(2, ["chess", "jazz", "go"]))

    assert not queue.is_waiting(1)
    assert not queue.is_waiting(2)
    assert queue.waiting_count(SPHERE) == 0
    assert queue.leave(1) is None
    for interest in ["chess", "jazz", "go", "tea"]:
        assert queue.join(seeker(10, [interest])) is None
        queue.leave(10)


def test_a_matched_person_cannot_be_matched_again_until_they_rejoin(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess"]), seeker(2, ["go"]))

    assert partner_of(queue.join(seeker(3, ["chess"]))) == 1
    assert partner_of(queue.join(seeker(4, ["chess"]))) == 2
    assert queue.join(seeker(5, ["chess"])) is None


# Bounded scanning: the cost of one arrival does not depend on the queue, and
# a crowd of people the arrival may not meet neither hangs nor misleads it.
CROWD = range(10, 210)


def test_a_huge_exclusion_set_still_finds_the_eligible_candidate(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["chess"]), seeker(2, ["chess"]))
    huge = frozenset(range(3, 100_000)) | {1}

    assert partner_of(queue.join(seeker(100_000, ["chess"], excluded=huge))) == 2


def test_ineligible_people_ahead_in_the_queue_are_skipped(
    backend: Backend, clock: FakeClock
) -> None:
    queue = backend.queue(scan_limit=4, clock=clock)
    arrival = 1000
    blocked_by_arrival = [seeker(person, ["chess"]) for person in range(100, 105)]
    blocking_arrival = [seeker(person, ["chess"], excluded=[arrival]) for person in range(200, 205)]
    queue_up(queue, *blocked_by_arrival, *blocking_arrival, seeker(7, ["chess"]))

    pairing = queue.join(seeker(arrival, ["chess"], excluded=range(100, 105)))

    assert partner_of(pairing) == 7


def test_a_crowd_of_ineligible_people_in_a_bucket_does_not_hide_an_eligible_person(
    backend: Backend, clock: FakeClock
) -> None:
    queue = backend.queue(scan_limit=4, clock=clock)
    arrival = 100_000
    queue_up(queue, seeker(1, ["tea"]), *(seeker(person, ["chess", "jazz"]) for person in CROWD))

    pairing = queue.join(seeker(arrival, ["chess", "jazz"], excluded=CROWD))

    assert partner_of(pairing) == 1
    assert queue.waiting_count(SPHERE) == len(CROWD)


def test_an_arrival_facing_only_a_crowd_it_may_not_meet_waits(
    backend: Backend, clock: FakeClock
) -> None:
    queue = backend.queue(scan_limit=4, clock=clock)
    arrival = 100_000
    queue_up(queue, *(seeker(person, ["chess"], excluded=[arrival]) for person in CROWD))

    assert queue.join(seeker(arrival, ["chess"])) is None
    assert queue.is_waiting(arrival)
    assert partner_of(queue.join(seeker(5, ["chess"]))) == CROWD[0]


def test_a_crowd_of_recent_partners_is_skipped(backend: Backend, clock: FakeClock) -> None:
    queue = backend.queue(scan_limit=4, clock=clock)
    arrival = 100_000
    crowd = range(10, 20)
    for person in crowd:
        queue.note_parted(arrival, person)
    queue_up(queue, *(seeker(person, ["chess"]) for person in crowd), seeker(7, ["chess"]))

    assert partner_of(queue.join(seeker(arrival, ["chess"]))) == 7


def test_a_better_candidate_is_found_through_any_of_the_arrivals_interests(
    backend: Backend, clock: FakeClock
) -> None:
    queue = backend.queue(scan_limit=2, clock=clock)
    queue_up(queue, seeker(1, ["chess"]), seeker(2, ["chess"]), seeker(3, ["chess", "jazz"]))

    # Person 3 is beyond the first two of "chess" but first in "jazz".
    assert partner_of(queue.join(seeker(4, ["chess", "jazz"]))) == 3


@pytest.mark.parametrize(("scan_limit", "expected_partner"), [(2, 1), (32, 5)])
def test_on_a_large_pool_only_the_oldest_of_each_interest_are_compared(
    backend: Backend, clock: FakeClock, scan_limit: int, expected_partner: int
) -> None:
    queue = backend.queue(scan_limit=scan_limit, clock=clock)
    queue_up(
        queue,
        seeker(1, ["chess"]),
        seeker(2, ["chess"]),
        seeker(3, ["jazz"]),
        seeker(4, ["jazz"]),
        seeker(5, ["chess", "jazz"]),
    )

    # Person 5 shares most, but is third in both of the arrival's buckets.
    assert partner_of(queue.join(seeker(6, ["chess", "jazz"]))) == expected_partner


@pytest.mark.parametrize(("ineligible", "expected_partner"), [(3, 7), (4, None)])
def test_the_scan_gives_up_after_four_times_scan_limit_ineligible_people(
    backend: Backend, clock: FakeClock, ineligible: int, expected_partner: int | None
) -> None:
    queue = backend.queue(scan_limit=1, clock=clock)
    arrival = 1000
    blocked = range(100, 100 + ineligible)
    queue_up(queue, *(seeker(person, ["chess"]) for person in blocked), seeker(7, ["chess"]))

    assert partner_of(queue.join(seeker(arrival, ["chess"], excluded=blocked))) == expected_partner


@pytest.mark.parametrize(("ineligible", "expected_partner"), [(3, 7), (4, None)])
def test_without_a_shared_interest_only_the_first_four_times_scan_limit_are_looked_at(
    backend: Backend, clock: FakeClock, ineligible: int, expected_partner: int | None
) -> None:
    queue = backend.queue(scan_limit=1, clock=clock)
    arrival = 1000
    blocked = range(100, 100 + ineligible)
    queue_up(queue, *(seeker(person, ["tea"]) for person in blocked), seeker(7, ["go"]))

    assert partner_of(queue.join(seeker(arrival, ["chess"], excluded=blocked))) == expected_partner


def test_a_long_bucket_of_ineligible_people_is_read_past_its_first_slice(
    backend: Backend, clock: FakeClock
) -> None:
    queue = backend.queue(scan_limit=8, clock=clock)
    arrival = 100_000
    blocked = range(100, 130)
    queue_up(queue, *(seeker(person, ["chess"]) for person in blocked), seeker(7, ["chess"]))

    assert partner_of(queue.join(seeker(arrival, ["chess"], excluded=blocked))) == 7


# Restoring a pairing whose conversation could not start.


def test_a_restored_partner_waits_again_at_its_old_place(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]), seeker(2, ["go"]), seeker(3, ["jazz"]))
    pairing = queue.join(seeker(4, ["go"]))
    assert partner_of(pairing) == 2
    assert pairing is not None

    queue.restore(pairing, arrival=False)

    assert queue.is_waiting(2) and not queue.is_waiting(4)
    # Nobody shares an interest with these arrivals: the queue order decides.
    assert partner_of(queue.join(seeker(5, ["x"]))) == 1
    assert partner_of(queue.join(seeker(6, ["x"]))) == 2
    assert partner_of(queue.join(seeker(7, ["x"]))) == 3


def test_a_restored_partner_is_first_again_in_its_interests(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]), seeker(2, ["chess"]), seeker(3, ["chess"]))
    pairing = queue.join(seeker(4, ["chess"]))
    assert pairing is not None and partner_of(pairing) == 2

    queue.restore(pairing, arrival=False)

    assert partner_of(queue.join(seeker(5, ["chess"]))) == 2


def test_a_restored_arrival_waits_at_the_back(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]), seeker(2, ["chess"]))
    pairing = queue.join(seeker(3, ["chess"]))
    assert pairing is not None and partner_of(pairing) == 2

    queue.restore(pairing, partner=False)

    assert queue.is_waiting(3) and not queue.is_waiting(2)
    assert partner_of(queue.join(seeker(5, ["x"]))) == 1
    assert partner_of(queue.join(seeker(6, ["x"]))) == 3


def test_restore_puts_both_back_without_pairing_them(queue: Blocking) -> None:
    first, second = seeker(1, ["chess"], excluded=[9]), seeker(2, ["chess"])
    queue.join(first)
    pairing = queue.join(second)
    assert pairing is not None

    queue.restore(pairing)

    assert queue.waiting_count(SPHERE) == 2
    assert queue.leave(1, "tab-1") == first
    assert queue.leave(2, "tab-2") == second


def test_restored_people_are_not_recent_partners(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"]))
    pairing = queue.join(seeker(2, ["chess"]))
    assert pairing is not None

    queue.restore(pairing)

    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1


def test_people_not_restored_are_not_recent_partners_either(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"]))
    pairing = queue.join(seeker(2, ["chess"]))
    assert pairing is not None

    queue.restore(pairing, arrival=False, partner=False)

    assert queue.waiting_count(SPHERE) == 0
    queue.join(seeker(1, ["chess"]))
    assert partner_of(queue.join(seeker(2, ["chess"]))) == 1


def test_someone_already_waiting_again_keeps_their_new_wait(queue: Blocking) -> None:
    queue.join(seeker(1, ["chess"]))
    pairing = queue.join(seeker(2, ["chess"]))
    assert pairing is not None
    queue.join(seeker(2, ["jazz"], pool=OTHER_SPHERE, tab="tab-new"))

    queue.restore(pairing)

    assert queue.waiting_count(SPHERE) == 1
    assert queue.waiting_count(OTHER_SPHERE) == 1
    assert queue.leave(2, "tab-2") is None
    left = queue.leave(2, "tab-new")
    assert left is not None and left.pool == OTHER_SPHERE


def test_a_pairing_without_a_place_puts_the_partner_at_the_back(queue: Blocking) -> None:
    queue_up(queue, seeker(1, ["tea"]))
    made_by_hand = Pairing(arrival=seeker(3), partner=seeker(2), shared=frozenset())

    queue.restore(made_by_hand, arrival=False)

    assert partner_of(queue.join(seeker(5, ["x"]))) == 1
    assert partner_of(queue.join(seeker(6, ["x"]))) == 2


# Atomicity: several processes (or tasks) joining at once.


def test_concurrent_arrivals_never_share_a_waiting_person(backend: Backend) -> None:
    one, other = backend.matchers(processes=2)
    waiting = range(1, 41)
    arrivals = range(100, 180)

    async def scenario() -> list[Pairing | None]:
        for person in waiting:
            await one.join(seeker(person, ["chess"], excluded=waiting))
        # Arrivals exclude one another: they can only take a waiting person.
        joins = [
            (one if index % 2 else other).join(seeker(person, ["chess"], excluded=arrivals))
            for index, person in enumerate(arrivals)
        ]
        return await asyncio.gather(*joins)

    pairings = [each for each in backend.run(scenario()) if each is not None]

    partners = [each.partner.person for each in pairings]
    assert sorted(partners) == list(waiting)
    assert backend.run(one.waiting_count(SPHERE)) == len(arrivals) - len(waiting)


def test_two_arrivals_at_once_take_the_one_waiting_person_once(backend: Backend) -> None:
    one, other = backend.matchers(processes=2)

    async def round_(base: int) -> tuple[Pairing | None, Pairing | None]:
        waiting, a, b = base, base + 1, base + 2
        await one.join(seeker(waiting, ["chess"]))
        first, second = await asyncio.gather(
            one.join(seeker(a, ["chess"], excluded=[b])),
            other.join(seeker(b, ["chess"], excluded=[a])),
        )
        await one.leave(a)
        await one.leave(b)
        return first, second

    for base in range(0, 60, 3):
        first, second = backend.run(round_(base))
        assert [partner_of(first), partner_of(second)].count(base) == 1
        assert (first is None) != (second is None)


# Generated operations against the reference (tests/matching/reference.py).
# The engine's own property tests run many more examples of the same machines
# and MemoryMatcher only wraps the engine; each Redis step is a network call,
# so both halves keep to modest counts.

MACHINE_STEPS = 40


def test_the_matcher_chooses_exactly_as_the_reference_on_small_pools(backend: Backend) -> None:
    machines.run_against_reference(
        backend.machine_queue,
        scan_limit=machines.EXACT_SCAN_LIMIT,
        exact=True,
        examples=backend.examples(memory=30, redis=40),
        steps=MACHINE_STEPS,
    )


def test_the_matcher_keeps_every_rule_when_the_scan_is_cut_short(backend: Backend) -> None:
    machines.run_against_reference(
        backend.machine_queue,
        scan_limit=1,
        exact=False,
        examples=backend.examples(memory=20, redis=25),
        steps=MACHINE_STEPS,
    )


def test_familiar_faces_at_most_one_in_four_matches_and_never_a_bad_repeat(
    backend: Backend,
) -> None:
    machines.run_familiar_faces(
        backend.machine_queue,
        scan_limit=machines.EXACT_SCAN_LIMIT,
        exact=True,
        examples=backend.examples(memory=30, redis=40),
        steps=MACHINE_STEPS,
    )


def test_arrivals_facing_a_crowd_get_the_reference_choice(backend: Backend) -> None:
    @settings(
        max_examples=backend.examples(memory=50, redis=60),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(crowd=machines.crowds, noted_partings=machines.partings, arrivals=machines.arrival_lists)
    def check(
        crowd: list[Seeker], noted_partings: list[tuple[int, int]], arrivals: list[Seeker]
    ) -> None:
        machines.arrivals_facing_a_crowd(backend.machine_queue, crowd, noted_partings, arrivals)

    check()
