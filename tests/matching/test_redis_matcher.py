"""What only the Redis ``Matcher`` has: its keys, their expiry, its clock and its failures.

Its matching behaviour is tested with every other backend's in
test_matcher_contract.py.  These tests look at the keys under its prefix,
which is the only way to see that nothing is left behind.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import TypeVar

import pytest
import redis.asyncio
import redis.exceptions

from chatspheres.matching.engine import Pairing, Seeker
from chatspheres.matching.redis_matcher import RedisMatcher
from tests.matching.reference import FakeClock
from tests.redis_support import OwnRedis, own_redis, shared_redis  # noqa: F401

T = TypeVar("T")

SPHERE = 1
WINDOW = 600.0


def seeker(person: int, *interests: str, excluded: tuple[int, ...] = ()) -> Seeker:
    return Seeker(
        person=person,
        tab=f"tab-{person}",
        pool=SPHERE,
        interests=frozenset(interests),
        excluded=frozenset(excluded),
    )


Scenario = Callable[[RedisMatcher, redis.asyncio.Redis], Awaitable[T]]


def run(
    url: str,
    prefix: str,
    scenario: Scenario[T],
    *,
    window: float = WINDOW,
    clock: FakeClock | None = None,
) -> T:
    """Run ``scenario`` with a matcher on ``prefix`` and a client to look at the keys."""

    async def main() -> T:
        client = redis.asyncio.Redis.from_url(url, decode_responses=True)
        try:
            matcher = RedisMatcher(
                client, key_prefix=prefix, recent_partner_window=window, clock=clock
            )
            return await scenario(matcher, client)
        finally:
            await client.aclose()

    return asyncio.run(main())


async def keys_under(client: redis.asyncio.Redis, prefix: str) -> set[str]:
    return {key.removeprefix(prefix) async for key in client.scan_iter(match=f"{prefix}*")}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=1000.0)


@pytest.fixture
def server(shared_redis: tuple[str, str]) -> Iterator[tuple[str, str]]:  # noqa: F811
    yield shared_redis


def test_settings_that_make_no_sense_are_refused() -> None:
    client = redis.asyncio.Redis()
    with pytest.raises(ValueError):
        RedisMatcher(client, scan_limit=0)
    with pytest.raises(ValueError):
        RedisMatcher(client, recent_partner_window=-1)


def test_only_the_counter_and_recent_partners_stay_once_nobody_waits(
    server: tuple[str, str], clock: FakeClock
) -> None:
    url, prefix = server

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> set[str]:
        await matcher.join(seeker(1, "chess", "jazz", excluded=(9,)))
        await matcher.join(seeker(2, "chess"))
        await matcher.join(seeker(3, "go", "tea", excluded=(8,)))
        await matcher.join(seeker(3, "go", "café"))
        await matcher.leave(3)
        await matcher.join(seeker(4, "x"))
        unstarted = await matcher.join(seeker(5, "y"))
        assert unstarted is not None
        await matcher.restore(unstarted, arrival=False, partner=False)
        return await keys_under(client, prefix)

    keys = run(url, prefix, scenario, clock=clock)

    assert keys == {"seq", "r:1", "r:2"}


def test_familiar_faces_leave_nothing_behind(server: tuple[str, str], clock: FakeClock) -> None:
    url, prefix = server
    familiar = Seeker(
        person=1,
        tab="tab-1",
        pool=SPHERE,
        interests=frozenset({"chess"}),
        familiar=frozenset({7, 8}),
        familiar_allowed=False,
    )

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> set[str]:
        await matcher.join(familiar)
        return await keys_under(client, prefix)

    # Only an arrival's familiar faces decide: a waiting person's are not kept.
    assert run(url, prefix, scenario, clock=clock) == {"seq", "w:1", "q:1", "b:1:chess"}


def test_every_key_is_under_the_prefix(own_redis: OwnRedis) -> None:  # noqa: F811
    prefix = "mine:"

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> tuple[int, int]:
        await matcher.join(seeker(1, "chess", excluded=(9,)))
        await matcher.join(seeker(3, "go", excluded=(1,)))
        await matcher.note_parted(5, 6)
        return len(await keys_under(client, prefix)), int(await client.dbsize())

    under_prefix, everything = run(own_redis.url, prefix, scenario)

    assert under_prefix == everything > 0


def test_recent_partners_expire_after_the_window_on_the_server(
    server: tuple[str, str], clock: FakeClock
) -> None:
    url, prefix = server

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> list[int]:
        await matcher.note_parted(1, 2)
        return [await client.pttl(f"{prefix}r:1"), await client.pttl(f"{prefix}r:2")]

    ttls = run(url, prefix, scenario, clock=clock)

    assert all(0 < ttl <= WINDOW * 1000 for ttl in ttls)


def test_expired_recent_partners_are_dropped_when_the_person_joins(
    server: tuple[str, str], clock: FakeClock
) -> None:
    url, prefix = server

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> list[str]:
        await matcher.note_parted(1, 2)
        clock.advance(WINDOW / 2)
        await matcher.note_parted(1, 3)
        clock.advance(WINDOW / 2)
        await matcher.join(seeker(1, "chess"))
        return [str(partner) for partner in await client.zrange(f"{prefix}r:1", 0, -1)]

    still_recent = run(url, prefix, scenario, clock=clock)

    assert still_recent == ["3"]


def test_recent_partners_at_the_edge_of_the_window_are_judged_as_the_engine_judges(
    server: tuple[str, str],
) -> None:
    """The script reads recent partners by score range; at the very edge it decides exactly.

    Apart at 0.9 and back at 1.0 with a 0.1 s window: ``1.0 - 0.9 < 0.1`` holds
    in floating point (the difference rounds below 0.1) while ``0.9 > 1.0 - 0.1``
    does not, so a plain score range would get it wrong.
    """
    url, prefix = server
    clock = FakeClock(now=0.9)

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> list[bool]:
        await matcher.note_parted(1, 2)
        await matcher.note_parted(3, 4)
        clock.now = 1.0
        together_again = [await matcher.join(seeker(1, "chess")) is None]
        together_again.append(await matcher.join(seeker(2, "chess")) is not None)
        clock.now = 1.0000000000000002  # the next double: now the window has passed
        await matcher.join(seeker(3, "go"))
        together_again.append(await matcher.join(seeker(4, "go")) is not None)
        return together_again

    assert 1.0 - 0.9 < 0.1 and not 0.9 > 1.0 - 0.1
    assert not 1.0000000000000002 - 0.9 < 0.1
    assert run(url, prefix, scenario, window=0.1, clock=clock) == [True, False, True]


def test_without_a_window_no_partner_is_remembered(server: tuple[str, str]) -> None:
    url, prefix = server

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> set[str]:
        await matcher.join(seeker(1, "chess"))
        await matcher.join(seeker(2, "chess"))
        await matcher.note_parted(1, 3)
        return await keys_under(client, prefix)

    assert run(url, prefix, scenario, window=0) == {"seq"}


def test_the_servers_clock_keeps_recent_partners_apart(server: tuple[str, str]) -> None:
    url, prefix = server

    async def scenario(
        matcher: RedisMatcher, client: redis.asyncio.Redis
    ) -> tuple[Pairing | None, Pairing | None, Pairing | None]:
        await matcher.join(seeker(1, "chess"))
        first = await matcher.join(seeker(2, "chess"))
        await matcher.join(seeker(1, "chess"))
        again = await matcher.join(seeker(2, "chess"))
        await matcher.note_parted(2, 3)
        await matcher.leave(1)
        parted = await matcher.join(seeker(3, "chess"))
        return first, again, parted

    first, again, parted = run(url, prefix, scenario)

    assert first is not None and first.partner.person == 1
    assert again is None
    assert parted is None


def test_matchers_on_different_prefixes_do_not_meet(server: tuple[str, str]) -> None:
    url, prefix = server

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> Pairing | None:
        elsewhere = RedisMatcher(client, key_prefix=f"{prefix}elsewhere:")
        await matcher.join(seeker(1, "chess"))
        return await elsewhere.join(seeker(2, "chess"))

    assert run(url, prefix, scenario) is None


def test_a_server_that_is_down_raises_redis_errors(own_redis: OwnRedis) -> None:  # noqa: F811
    own_redis.stop()

    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> list[str]:
        calls = [
            matcher.join(seeker(1, "chess")),
            matcher.leave(1, "tab-1"),
            matcher.note_parted(1, 2),
            matcher.restore(Pairing(arrival=seeker(1), partner=seeker(2), shared=frozenset())),
            matcher.waiting_count(SPHERE),
            matcher.is_waiting(1),
            matcher.recent_partners_waiting(1, SPHERE),
        ]
        failures = []
        for call in calls:
            with pytest.raises(redis.exceptions.ConnectionError) as raised:
                await call
            failures.append(type(raised.value).__name__)
        return failures

    assert len(run(own_redis.url, "p:", scenario)) == 7


def test_scripts_are_loaded_again_after_the_server_restarts(
    own_redis: OwnRedis,  # noqa: F811
) -> None:
    async def scenario(matcher: RedisMatcher, client: redis.asyncio.Redis) -> Pairing | None:
        await matcher.join(seeker(1, "chess"))
        own_redis.restart()
        # The restart lost the queue and the server's script cache alike.
        await client.connection_pool.disconnect()
        await matcher.join(seeker(1, "chess"))
        return await matcher.join(seeker(2, "chess"))

    pairing = run(own_redis.url, "p:", scenario)

    assert pairing is not None and pairing.partner.person == 1


def test_interests_and_tabs_with_separator_characters_survive(server: tuple[str, str]) -> None:
    url, prefix = server
    odd = Seeker(
        person=1,
        tab="tab\twith %09 and %25",
        pool=SPHERE,
        interests=frozenset({"tab\there", "100%", "%09", "%2509", "a b"}),
    )

    async def scenario(
        matcher: RedisMatcher, client: redis.asyncio.Redis
    ) -> tuple[Seeker | None, Pairing | None]:
        await matcher.join(odd)
        left = await matcher.leave(1, odd.tab)
        await matcher.join(odd)
        return left, await matcher.join(seeker(2, "%09", "a b", "tab"))

    left, pairing = run(url, prefix, scenario)

    assert left == odd
    assert pairing is not None
    assert pairing.partner == odd
    assert pairing.shared == frozenset({"%09", "a b"})
