"""The Redis matcher in the same scenario: a redis-server of the benchmark's own, one call per join.

``RedisMatcher`` is driven as the gateway drives it: awaited on a uvloop event
loop (uvicorn's loop, as ``make run`` serves), through redis-py's asyncio
client with hiredis, over loopback TCP to a ``redis-server`` this benchmark
starts on a free port and stops at the end.  A join is a network call, so its
cost is wall-clock time; beside it are this thread's CPU time during the call
(the client's share: redis-py, the event loop, our encoding, the kernel's
loopback send) and the server's time running the script.  That last one is
read from the server's SLOWLOG in a pass of its own after the timed
repetitions, because logging every command (the script's own included) costs
the server time too and would inflate the timed figures.

The workload is the engine's, with one difference in how the queue is held at
N.  The engine's prefilled people exclude one another so that they never pair
among themselves; in Redis that would be N exclusion sets of N people each.
Instead they are queued at the back without a scan (``queue_at_back``), and so
are the partners who join again after each timed pairing, exactly as the
engine's re-joins end whenever no timed arrival is left waiting (always, in
practice: the run records it).  Arrivals, the only joins that are timed,
meet the same people in (about, see ``_prefill``) the same order.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import sys
import time
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TypeVar

import redis
import redis.asyncio
import uvloop

from bench.common import RedisServer
from bench.common import redis_server as common_redis_server
from bench.matching.scenario import (
    CPU_CLOCK_OVERHEAD_NS,
    RECENT_PARTNER_WINDOW,
    Batch,
    Scenario,
)
from bench.matching.workload import POOL
from chatspheres.matching.engine import Pairing, Seeker
from chatspheres.matching.redis_matcher import RedisMatcher

T = TypeVar("T")

# Someone who never waits: the partner of the pairings ``queue_at_back`` restores.
NOBODY = Seeker(person=-(10**12), tab="nobody", pool=POOL, interests=frozenset())
# Each join logs itself and each command its script runs (about 20 in all),
# so the log is read and emptied every SLOWLOG_ARRIVALS arrivals.
SLOWLOG_LENGTH = 50_000
SLOWLOG_ARRIVALS = 400
FLOOR_SAMPLES = 2_000
PREFILL_AT_ONCE = 16


@contextmanager
def redis_server() -> Iterator[RedisServer | None]:
    """A ``redis-server`` of this benchmark's own on a free port, or None if not installed."""
    if shutil.which("redis-server") is None:
        yield None
        return
    # The slow log is off while timing; RedisScenario.server_join_us turns it on for its pass.
    slowlog = ["--slowlog-log-slower-than", "-1", "--slowlog-max-len", str(SLOWLOG_LENGTH)]
    with common_redis_server(slowlog) as server:
        yield server


async def queue_at_back(matcher: RedisMatcher, seeker: Seeker) -> None:
    """Queue someone at the back without a scan: ``restore`` of a pairing with nobody."""
    await matcher.restore(
        Pairing(arrival=seeker, partner=NOBODY, shared=frozenset()), partner=False
    )


async def _awaited(call: Awaitable[T]) -> T:
    return await call


def _run(loop: asyncio.AbstractEventLoop, call: Awaitable[T]) -> T:
    return loop.run_until_complete(_awaited(call))


class _Blocking:
    """The matcher called from the scenario's synchronous bookkeeping (untimed)."""

    def __init__(self, matcher: RedisMatcher, loop: asyncio.AbstractEventLoop) -> None:
        self._matcher = matcher
        self._loop = loop

    def join(self, seeker: Seeker) -> Pairing | None:
        return _run(self._loop, self._matcher.join(seeker))

    def note_parted(self, a: int, b: int) -> None:
        _run(self._loop, self._matcher.note_parted(a, b))


class RedisScenario(Scenario):
    """The scenario with ``RedisMatcher`` on the benchmark's own server."""

    def __init__(self, prefilled: list[Seeker], server: RedisServer, kind: str = "redis") -> None:
        """Queue ``prefilled`` (untimed) under a key prefix of this scenario's own.

        ``kind``: "redis", or "redis_familiar" for the familiar-faces rule at
        work (see ``Scenario``).  Both may live on the server at once.
        """
        self.kind = kind
        self.now = 0.0
        self.loop = uvloop.new_event_loop()
        self.client = redis.asyncio.Redis.from_url(server.url)
        self.prefix = f"bench:{kind}:"
        self.redis = RedisMatcher(
            self.client,
            key_prefix=self.prefix,
            recent_partner_window=RECENT_PARTNER_WINDOW,
            clock=self.clock,
        )
        self.matcher = _Blocking(self.redis, self.loop)
        self._run(self._prefill(prefilled))
        self.roundtrip_floor_us = self._run(self._roundtrip_floor())
        self._start_bookkeeping(prefilled)

    async def _prefill(self, prefilled: list[Seeker]) -> None:
        await self._delete_own_keys()
        # A few at a time, to spare minutes at 100,000: the server takes them
        # in about the order they were sent, so the queue's order is the
        # engine's give or take a few places among the oldest of the prefill.
        for start in range(0, len(prefilled), PREFILL_AT_ONCE):
            await asyncio.gather(
                *(
                    queue_at_back(self.redis, replace(seeker, excluded=frozenset()))
                    for seeker in prefilled[start : start + PREFILL_AT_ONCE]
                )
            )
        if await self.redis.waiting_count(POOL) != len(prefilled):
            raise AssertionError("prefill did not queue everyone")

    async def _roundtrip_floor(self) -> float:
        """Median wall time of a PING through the same client: what any call costs here."""
        samples = []
        for _ in range(FLOOR_SAMPLES):
            started = time.perf_counter_ns()
            await self.client.ping()
            samples.append(time.perf_counter_ns() - started)
        return statistics.median(samples) / 1000

    def server_join_us(self, arrivals: list[Seeker]) -> list[int]:
        """The server's time running each join's script, µs, over more arrivals (untimed)."""
        self._run(self.client.config_set("slowlog-log-slower-than", 0))
        durations: list[int] = []
        try:
            for start in range(0, len(arrivals), SLOWLOG_ARRIVALS):
                self._run(self.client.slowlog_reset())
                super().run(arrivals[start : start + SLOWLOG_ARRIVALS], Batch())
                durations.extend(self._run(self._logged_joins()))
        finally:
            self._run(self.client.config_set("slowlog-log-slower-than", -1))
        return durations

    async def _logged_joins(self) -> list[int]:
        join_script = f"EVALSHA {self.redis.script_shas['join']} ".encode()
        entries = await self.client.slowlog_get(SLOWLOG_LENGTH)
        return [
            int(entry["duration"]) for entry in entries if entry["command"].startswith(join_script)
        ]

    def _run(self, call: Awaitable[T]) -> T:
        return _run(self.loop, call)

    def timed_join(self, arrival: Seeker) -> tuple[Pairing | None, int, int]:
        """``join`` awaited on the loop, timed inside it as the gateway would experience it."""
        return self._run(self._timed_join(arrival))

    async def _timed_join(self, arrival: Seeker) -> tuple[Pairing | None, int, int]:
        cpu, perf = time.thread_time_ns, time.perf_counter_ns
        started_cpu = cpu()
        started = perf()
        pairing = await self.redis.join(arrival)
        ended = perf()
        return pairing, ended - started, max(0, cpu() - started_cpu - CPU_CLOCK_OVERHEAD_NS)

    def rejoin(self, seeker: Seeker) -> Pairing | None:
        """A prefilled person joins again: at the back, unless a timed arrival waits."""
        if self.active_waiting:
            # Without the engine's exclusions this may pair two prefilled
            # people; it does not happen in practice (arrivals_left_waiting).
            return self.matcher.join(seeker)
        self._run(queue_at_back(self.redis, seeker))
        return None

    async def _delete_own_keys(self) -> None:
        batch = []
        async for key in self.client.scan_iter(match=f"{self.prefix}*", count=10_000):
            batch.append(key)
            if len(batch) == 10_000:
                await self.client.unlink(*batch)
                batch = []
        if batch:
            await self.client.unlink(*batch)

    def close(self) -> None:
        """Delete this scenario's keys and close the client and the loop."""
        self._run(self._delete_own_keys())
        self._run(self.client.aclose())
        self.loop.close()


def client_description() -> str:
    """What drives the matcher: the client library, its parser and the event loop."""
    import hiredis

    python = ".".join(map(str, sys.version_info[:3]))
    return (
        f"redis-py {redis.__version__} asyncio with hiredis {hiredis.__version__},"
        f" uvloop {uvloop.__version__}, Python {python}"
    )
