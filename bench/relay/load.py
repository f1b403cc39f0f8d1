"""Ping-pong between the two sockets of each pair, and one measured window.

Per pair exactly one message is in flight: A sends, the server relays it to
B, B answers at once, the server relays the answer to A, A records the round
trip and sends the next. Every frame a client receives in this phase is one
relay (one message delivered to the partner).

Two loads, the same pairs and messages:

* saturating (:func:`measure`): A sends the next message as soon as the
  answer is back, so the server runs flat out; its CPU per relayed message is
  the figure to compare, and a round trip waits behind every other pair's;
* paced (:func:`measure_paced`): A sends at a fixed rate (each pair in its
  own slot of the period, so the load is even), far below what the server
  can take; the round trip is then what a person's signal waits for.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.common import CLOCK_TICKS, cpu_seconds, percentile, process_tree
from bench.relay.wire import Socket

MESSAGE_BYTES = 190

perf_counter = time.perf_counter


# What a browser's host/srflx candidate line says after "candidate:"; cut to fit.
CANDIDATE_TAIL = (
    "842163049 1 udp 1677729535 198.51.100.7 52614 typ srflx raddr 10.0.0.2 rport 52614 "
    "generation 0 ufrag Zp3q network-id 1 network-cost 10"
)


def padded(build: Callable[[str], dict[str, Any]], size: int = MESSAGE_BYTES) -> bytes:
    """``build(filler)`` as compact JSON of exactly ``size`` bytes (``filler`` sized to fit)."""

    def dump(filler: str) -> bytes:
        return json.dumps(build(filler), separators=(",", ":")).encode()

    room = size - len(dump(""))
    if room < 1:
        raise ValueError(f"the message is already {size - room} bytes without its candidate")
    filler = (CANDIDATE_TAIL * (1 + room // len(CANDIDATE_TAIL)))[:room]
    if filler.endswith(" "):
        filler = filler[:-1] + "0"
    message = dump(filler)
    assert len(message) == size, len(message)
    return message


def ice_candidate(filler: str) -> dict[str, Any]:
    """What RTCIceCandidate.toJSON() gives; ``filler`` is the candidate line's tail."""
    return {"candidate": f"candidate:{filler}", "sdpMid": "0", "sdpMLineIndex": 0}


def system_seconds(pid: int) -> float:
    """The kernel-side share (stime) of ``pid``'s tree: syscalls and the loopback's TCP work."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                total += int(stat.read().rsplit(")", 1)[1].split()[12])
        except OSError:
            continue
    return total / CLOCK_TICKS


def cpu_of(pids: Sequence[int]) -> list[float]:
    """User + system CPU seconds of each of several process trees (the servers of one side)."""
    return [cpu_seconds(pid) for pid in pids]


def system_of(pids: Sequence[int]) -> float:
    return sum(system_seconds(pid) for pid in pids)


class Stats:
    """Counters shared by every pair of one server's run (a plain object: the hot path)."""

    __slots__ = (
        "busy",
        "drained",
        "paced",
        "relays",
        "rtts",
        "running",
        "unexpected",
        "unexpected_sample",
    )

    def __init__(self) -> None:
        self.relays = 0
        self.rtts: list[float] = []
        self.running = False
        # While set, A waits for its next slot instead of sending at once.
        self.paced = False
        self.busy = 0
        # Set when the last busy pair has stopped after a window.
        self.drained: asyncio.Event | None = None
        self.unexpected = 0
        self.unexpected_sample: bytes | None = None

    def odd_frame(self, data: bytes) -> None:
        self.unexpected += 1
        if self.unexpected_sample is None:
            self.unexpected_sample = bytes(data[:300])


class Pair:
    """Two tabs in one conversation playing ping-pong through the server."""

    __slots__ = ("a", "b", "in_flight", "prefix", "sent", "stats", "to_a", "to_b")

    def __init__(
        self, a: Socket, b: Socket, *, to_b: bytes, to_a: bytes, prefix: bytes, stats: Stats
    ) -> None:
        self.a, self.b = a, b
        self.to_b, self.to_a = to_b, to_a
        # What every relayed frame starts with; anything else is counted, not answered.
        self.prefix = prefix
        self.stats = stats
        self.sent = 0.0
        self.in_flight = False

    def start(self) -> None:
        self.a.on_frame = self.at_a
        self.b.on_frame = self.at_b
        self.stats.busy += 1
        self.fire()

    def fire(self) -> None:
        """A sends the next message (paced: when its slot comes)."""
        self.in_flight = True
        self.sent = perf_counter()
        self.a.send(self.to_b)

    def at_b(self, data: bytes) -> None:
        stats = self.stats
        if not data.startswith(self.prefix):
            stats.odd_frame(data)
            return
        stats.relays += 1
        self.b.send(self.to_a)

    def at_a(self, data: bytes) -> None:
        now = perf_counter()
        stats = self.stats
        if not data.startswith(self.prefix):
            stats.odd_frame(data)
            return
        stats.relays += 1
        stats.rtts.append(now - self.sent)
        if stats.running and not stats.paced:
            self.sent = now
            self.a.send(self.to_b)
            return
        self.in_flight = False
        if not stats.paced:
            stats.busy -= 1
            if stats.busy == 0 and stats.drained is not None:
                stats.drained.set()


@dataclass
class Window:
    relays: int
    seconds: float
    server_cpu_seconds: float
    server_system_seconds: float
    generator_cpu_seconds: float
    rtts: list[float]
    stalled_pairs: int
    unexpected_frames: int
    # Paced windows only: the rate asked for, and slots skipped because the
    # pair's previous message was still on its way.
    paced_rate_per_pair: float | None = None
    late_slots: int = 0
    # CPU seconds per process of ``server_pids``, in that order.
    cpu_by_process: list[float] = field(default_factory=list)

    def figures(self) -> dict[str, Any]:
        relays = max(1, self.relays)
        return (
            {
                "relays": self.relays,
                "seconds": round(self.seconds, 3),
                "relays_per_second": self.relays / self.seconds,
                "server_cpu_us_per_relay": self.server_cpu_seconds / relays * 1e6,
                "server_system_us_per_relay": self.server_system_seconds / relays * 1e6,
                "server_cores_busy": self.server_cpu_seconds / self.seconds,
                "generator_cpu_us_per_relay": self.generator_cpu_seconds / relays * 1e6,
                "generator_cores_busy": self.generator_cpu_seconds / self.seconds,
                "rtt_p50_ms": percentile(self.rtts, 0.50) * 1e3,
                "rtt_p99_ms": percentile(self.rtts, 0.99) * 1e3,
                "rtt_samples": len(self.rtts),
                "stalled_pairs": self.stalled_pairs,
                "unexpected_frames": self.unexpected_frames,
            }
            | (
                {"cpu_us_per_relay_by_process": [cpu / relays * 1e6 for cpu in self.cpu_by_process]}
                if len(self.cpu_by_process) > 1
                else {}
            )
            | (
                {
                    "paced_rate_per_pair": self.paced_rate_per_pair,
                    "rtt_p95_ms": percentile(self.rtts, 0.95) * 1e3,
                    "rtt_max_ms": max(self.rtts, default=float("nan")) * 1e3,
                    "late_slots": self.late_slots,
                }
                if self.paced_rate_per_pair is not None
                else {}
            )
        )


async def measure(
    pairs: Sequence[Pair],
    stats: Stats,
    *,
    server_pids: Sequence[int],
    warmup: float,
    window: float,
    drain_timeout: float = 10.0,
) -> Window:
    """Ping-pong for ``warmup`` seconds, then measure ``window`` seconds, then let it drain.

    Server CPU is summed over ``server_pids`` (every process that carries the
    relay: one server, or two servers and their Redis).
    """
    stats.running = True
    stats.paced = False
    stats.drained = asyncio.Event()
    stats.unexpected = 0
    for pair in pairs:
        pair.start()
    await asyncio.sleep(warmup)

    relays_before = stats.relays
    stats.rtts = []
    cpu_before = cpu_of(server_pids)
    system_before = system_of(server_pids)
    generator_before = time.process_time()
    started = perf_counter()
    await asyncio.sleep(window)
    cpu_after = cpu_of(server_pids)
    system_after = system_of(server_pids)
    generator_after = time.process_time()
    ended = perf_counter()
    relays = stats.relays - relays_before
    rtts, stats.rtts = stats.rtts, []  # round trips after the window are not counted
    stats.running = False

    # Every pair finishes its round trip in flight, so the next window starts clean.
    if stats.busy > 0:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stats.drained.wait(), drain_timeout)
    stalled = stats.busy
    stats.busy = 0
    return Window(
        relays=relays,
        seconds=ended - started,
        server_cpu_seconds=sum(cpu_after) - sum(cpu_before),
        server_system_seconds=system_after - system_before,
        generator_cpu_seconds=generator_after - generator_before,
        rtts=rtts,
        stalled_pairs=stalled,
        unexpected_frames=stats.unexpected,
        cpu_by_process=[
            after - before for after, before in zip(cpu_after, cpu_before, strict=True)
        ],
    )


async def measure_paced(
    pairs: Sequence[Pair],
    stats: Stats,
    *,
    server_pids: Sequence[int],
    rate_per_pair: float,
    warmup: float,
    window: float,
    drain_timeout: float = 10.0,
) -> Window:
    """Each pair sends ``rate_per_pair`` round trips a second, in its own slot of the period.

    The period is cut into slots (one tick each, about 2 ms apart) and the
    pairs are dealt out over them, so the messages arrive evenly rather than
    in one burst per period. A pair whose previous message is still on its
    way when its slot comes skips that slot (counted as late): a round trip
    longer than the period shows in the percentiles, not as a queue.
    """
    period = 1.0 / rate_per_pair
    slots = max(1, min(len(pairs), round(period / 0.002)))
    tick = period / slots
    groups = [pairs[slot::slots] for slot in range(slots)]
    stats.running = True
    stats.paced = True
    stats.unexpected = 0
    for pair in pairs:
        pair.a.on_frame = pair.at_a
        pair.b.on_frame = pair.at_b
        pair.in_flight = False
    loop = asyncio.get_running_loop()
    late = 0
    stop_at = loop.time() + warmup + window

    async def drive() -> None:
        nonlocal late
        began = loop.time()
        beat = 0
        while loop.time() < stop_at:
            for pair in groups[beat % slots]:
                if pair.in_flight:
                    late += 1
                else:
                    pair.fire()
            beat += 1
            await asyncio.sleep(max(0.0, began + beat * tick - loop.time()))

    driver = loop.create_task(drive())
    await asyncio.sleep(warmup)
    relays_before = stats.relays
    late_before = late
    stats.rtts = []
    cpu_before = cpu_of(server_pids)
    system_before = system_of(server_pids)
    generator_before = time.process_time()
    started = perf_counter()
    await asyncio.sleep(window)
    cpu_after = cpu_of(server_pids)
    system_after = system_of(server_pids)
    generator_after = time.process_time()
    ended = perf_counter()
    relays = stats.relays - relays_before
    rtts, stats.rtts = stats.rtts, []
    late_in_window = late - late_before
    await driver
    stats.running = False
    deadline = loop.time() + drain_timeout
    while any(pair.in_flight for pair in pairs) and loop.time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    stalled = sum(1 for pair in pairs if pair.in_flight)
    stats.paced = False
    return Window(
        relays=relays,
        seconds=ended - started,
        server_cpu_seconds=sum(cpu_after) - sum(cpu_before),
        server_system_seconds=system_after - system_before,
        generator_cpu_seconds=generator_after - generator_before,
        rtts=rtts,
        stalled_pairs=stalled,
        unexpected_frames=stats.unexpected,
        paced_rate_per_pair=rate_per_pair,
        late_slots=late_in_window,
        cpu_by_process=[
            after - before for after, before in zip(cpu_after, cpu_before, strict=True)
        ],
    )
