"""The in-process ``Matcher`` behaves as the engine it wraps."""

from __future__ import annotations

import asyncio

from chatspheres.matching.backends import Matcher, MemoryMatcher
from chatspheres.matching.engine import MatchingEngine, Pairing, Seeker

SPHERE = 7


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def seeker(person: int, *interests: str, ticket: str = "tab") -> Seeker:
    return Seeker(person=person, ticket=ticket, pool=SPHERE, interests=frozenset(interests))


def test_memory_matcher_is_a_matcher() -> None:
    assert isinstance(MemoryMatcher(), Matcher)


def test_join_queues_the_first_arrival_and_pairs_the_second() -> None:
    matcher = MemoryMatcher()
    first, second = seeker(1, "chess"), seeker(2, "chess", "jazz")

    async def scenario() -> tuple[Pairing | None, int, Pairing | None, int]:
        queued = await matcher.join(first)
        count_while_waiting = await matcher.waiting_count(SPHERE)
        paired = await matcher.join(second)
        return queued, count_while_waiting, paired, await matcher.waiting_count(SPHERE)

    queued, count_while_waiting, paired, count_after = asyncio.run(scenario())

    assert queued is None
    assert count_while_waiting == 1
    assert paired == Pairing(arrival=second, partner=first, shared=frozenset({"chess"}))
    assert count_after == 0


def test_leave_respects_the_ticket() -> None:
    matcher = MemoryMatcher()
    waiting = seeker(1, "chess", ticket="tab-a")

    async def scenario() -> tuple[Seeker | None, Seeker | None, int]:
        await matcher.join(waiting)
        wrong_tab = await matcher.leave(1, "tab-b")
        right_tab = await matcher.leave(1, "tab-a")
        return wrong_tab, right_tab, await matcher.waiting_count(SPHERE)

    wrong_tab, right_tab, count = asyncio.run(scenario())

    assert wrong_tab is None
    assert right_tab == waiting
    assert count == 0


def test_leave_without_a_ticket_stops_any_wait() -> None:
    matcher = MemoryMatcher()

    async def scenario() -> Seeker | None:
        await matcher.join(seeker(1, "chess"))
        return await matcher.leave(1)

    assert asyncio.run(scenario()) == seeker(1, "chess")


def test_note_parted_keeps_the_two_apart() -> None:
    engine = MatchingEngine(recent_partner_window=60.0, clock=FakeClock())
    matcher = MemoryMatcher(engine)

    async def scenario() -> Pairing | None:
        await matcher.note_parted(1, 2)
        await matcher.join(seeker(1, "chess"))
        return await matcher.join(seeker(2, "chess"))

    assert asyncio.run(scenario()) is None
    assert engine.is_waiting(1) and engine.is_waiting(2)


def test_the_given_engine_is_the_one_used() -> None:
    engine = MatchingEngine()
    matcher = MemoryMatcher(engine)

    asyncio.run(matcher.join(seeker(1, "chess")))

    assert engine.is_waiting(1)
    assert engine.waiting_count(SPHERE) == 1
