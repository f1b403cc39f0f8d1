"""Idle sockets: what 1,000, 5,000 and 10,000 signed-in, idle tabs cost our server.

Each repetition starts a fresh server (``python -m chatspheres.server``, as
`make run` serves it) and grows one population of idle sockets on it:
1,000 → 5,000 → 10,000. Each socket is a real member's tab: a WebSocket to
``/ws/`` with the member's session cookie and our own Origin, kept open after
its ``ready`` frame and doing nothing else (the server's keep-alive pings are
answered by the client library, as a browser does).

Figures per size: server RSS (the server's process tree, from /proc) once the
sockets are open and idle, memory per socket = (RSS_N - RSS_0) / N, where
RSS_0 is taken after a few warm-up sockets have come and gone (so one-time
lazy imports are not charged to the sockets); connect-to-ready time per
socket (TCP connect + handshake + authentication + the ``ready`` frame) at
p50/p99 with a bounded number of handshakes in flight, and for a few probe
sockets opened one at a time beside the idle ones (a new tab's wait); the
time to open the whole step; and the server's CPU while the sockets sit idle.

Last, one more server (same configuration, under tracemalloc:
bench/sockets/traced_server.py) takes 1,000 idle sockets, and the Python
allocations they keep are listed per socket, by library and by allocation
site: what an idle socket is made of.

Repetitions: 3 (1 with --quick, which also stops at 1,000 sockets), fewer if
the run would pass about four minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    ROOT,
    cpu_seconds,
    free_port,
    listening_process,
    median,
    our_server,
    percentile,
    rss_bytes,
    save_figure,
    scratch,
    write_result,
)
from bench.sockets.members import bulk_session_cookies, create_members

# The targets: at most 50 KiB per idle socket, and no worse than the
# 22 KiB the first gateway measured before the real-time core was rewritten.
TARGET_KIB_PER_SOCKET = 22
CEILING_KIB_PER_SOCKET = 50
CONCURRENCY = 64  # handshakes in flight at once
WARMUP_SOCKETS = 20
PROBES = (
    50  # sockets opened one at a time once N are idle: a new tab's wait, without our own queueing
)
SETTLE_SECONDS = 3.0
OPEN_TIMEOUT = 60.0
TIME_BUDGET_SECONDS = 240.0  # repetitions beyond the first only while the run stays within this


def raise_fd_limit(needed: int) -> int:
    """Raise this process's open-file limit (the server subprocess inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < needed:
        with contextlib.suppress(ValueError, OSError):  # needs privileges; try anyway
            resource.setrlimit(resource.RLIMIT_NOFILE, (needed, needed))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        raise SystemExit(
            f"need {needed} open files per process, the hard limit is {hard}: "
            "raise it (ulimit -Hn) first"
        )
    return soft


@dataclass
class Population:
    """The idle sockets open so far against one server."""

    url: str
    origin: str
    cookies: list[str]
    sockets: list[Any] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    async def open_one(self, cookie: str) -> tuple[Any, float]:
        from websockets.asyncio.client import connect

        began = time.perf_counter()
        socket = await connect(
            self.url,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            compression=None,  # the server has per-message compression off anyway
            ping_interval=None,  # the server pings; the client only answers, as a browser does
            open_timeout=OPEN_TIMEOUT,
            close_timeout=10,
            max_queue=4,
        )
        try:
            frame = json.loads(await asyncio.wait_for(socket.recv(), OPEN_TIMEOUT))
        except BaseException:
            await socket.close()
            raise
        if frame.get("type") != "ready":
            await socket.close()
            raise RuntimeError(f"expected a ready frame, got {frame!r}")
        return socket, time.perf_counter() - began

    async def grow_to(self, total: int) -> dict[str, float]:
        """Open sockets until ``total`` are open; connect-to-ready figures for the new ones."""
        start = len(self.sockets)
        gate = asyncio.Semaphore(CONCURRENCY)
        latencies: list[float] = []

        async def one(cookie: str) -> None:
            async with gate:
                try:
                    socket, seconds = await self.open_one(cookie)
                except Exception as error:  # counted and reported, never hidden
                    self.failures.append(f"{type(error).__name__}: {error}")
                    return
                self.sockets.append(socket)
                latencies.append(seconds)

        began = time.perf_counter()
        await asyncio.gather(*(one(cookie) for cookie in self.cookies[start:total]))
        elapsed = time.perf_counter() - began
        if len(self.sockets) != total:
            raise RuntimeError(
                f"only {len(self.sockets)} of {total} sockets opened; "
                f"first failures: {self.failures[:3]}"
            )
        return {
            "opened": total - start,
            "open_all_seconds": round(elapsed, 2),
            "opened_per_second": round((total - start) / elapsed, 1),
            "connect_to_ready_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "connect_to_ready_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        }

    async def probe(self, cookies: list[str]) -> dict[str, float]:
        """Open sockets one at a time beside the idle ones, then close them: a new tab's wait."""
        latencies = []
        for cookie in cookies:
            socket, seconds = await self.open_one(cookie)
            latencies.append(seconds)
            await socket.close()
        return {
            "probe_connect_to_ready_p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
            "probe_connect_to_ready_p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
        }

    def still_open(self) -> int:
        from websockets.protocol import State

        return sum(1 for socket in self.sockets if socket.state is State.OPEN)

    async def close_all(self) -> None:
        for first in range(0, len(self.sockets), 500):
            batch = self.sockets[first : first + 500]
            await asyncio.gather(*(socket.close() for socket in batch), return_exceptions=True)
        self.sockets.clear()


def describe(step: dict[str, Any]) -> str:
    """One line for one size."""
    return (
        f"{step['sockets']:>6} sockets: RSS {step['rss_mib']:7.1f} MiB, "
        f"{step['kib_per_socket']:6.2f} KiB/socket; connect→ready "
        f"p50 {step['connect_to_ready_p50_ms']:.1f} ms, "
        f"p99 {step['connect_to_ready_p99_ms']:.1f} ms ({CONCURRENCY} in flight), "
        f"one at a time p50 {step['probe_connect_to_ready_p50_ms']:.1f} ms, "
        f"p99 {step['probe_connect_to_ready_p99_ms']:.1f} ms; "
        f"all opened in {step['open_all_seconds']:.1f} s"
    )


async def settled_rss(pid: int) -> tuple[int, float]:
    """RSS once the server is idle (sampled until it stops moving), and its CPU % meanwhile."""
    cpu_before, began = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(SETTLE_SECONDS)
    previous = rss_bytes(pid)
    for _ in range(10):
        await asyncio.sleep(0.5)
        current = rss_bytes(pid)
        if abs(current - previous) <= 0.002 * previous:
            break
        previous = current
    cpu = (cpu_seconds(pid) - cpu_before) / (time.monotonic() - began) * 100
    return current, cpu


async def one_repetition(
    port: int, pid: int, cookies: list[str], sizes: list[int]
) -> dict[str, Any]:
    probe_cookies = cookies[WARMUP_SOCKETS : WARMUP_SOCKETS + PROBES]
    population = Population(
        url=f"ws://127.0.0.1:{port}/ws/",
        origin=f"http://127.0.0.1:{port}",
        cookies=cookies[WARMUP_SOCKETS + PROBES :],
    )
    rss_cold = rss_bytes(pid)
    # A few sockets come and go first: the first handshake imports and caches
    # what every later one reuses, which is not a cost of the sockets.
    warmup = Population(
        url=population.url, origin=population.origin, cookies=cookies[:WARMUP_SOCKETS]
    )
    await warmup.grow_to(WARMUP_SOCKETS)
    await warmup.close_all()
    gc.collect()
    rss_0, cpu_0 = await settled_rss(pid)
    steps = []
    for size in sizes:
        opening = await population.grow_to(size)
        rss_n, cpu_n = await settled_rss(pid)
        open_now = population.still_open()
        probing = await population.probe(probe_cookies)
        step = {
            "sockets": size,
            **opening,
            **probing,
            "rss_mib": round(rss_n / 2**20, 1),
            "kib_per_socket": round((rss_n - rss_0) / size / 1024, 2),
            "still_open_after_settling": open_now,
            "server_cpu_percent_idle": round(cpu_n, 1),
        }
        steps.append(step)
        print(
            f"    {describe(step)}; idle server CPU {cpu_n:.0f}%, {open_now} still open", flush=True
        )
    await population.close_all()
    return {
        "rss_cold_mib": round(rss_cold / 2**20, 1),
        "rss_0_mib": round(rss_0 / 2**20, 1),
        "server_cpu_percent_no_sockets": round(cpu_0, 1),
        "steps": steps,
    }


def run_repetition(area: Any, cookies: list[str], sizes: list[int]) -> dict[str, Any]:
    import uvloop

    with (
        our_server(area) as (process, port),
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        return runner.run(one_repetition(port, process.pid, cookies, sizes))


# ------------------------------------------------------------------ what a socket is made of


@contextmanager
def traced_server(area: Any, snapshot: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Our server (same configuration) under tracemalloc: bench/sockets/traced_server.py."""
    port = free_port()
    command = [sys.executable, "-m", "bench.sockets.traced_server", "--host", "127.0.0.1"]
    env = {**area.env, "BENCH_TRACEMALLOC_SNAPSHOT": str(snapshot)}
    with listening_process([*command, "--port", str(port)], port=port, env=env) as served:
        yield served


async def signal_and_wait(
    process: subprocess.Popen[bytes], signum: int, flag: Path, *, seconds: float
) -> None:
    """Send ``signum`` to the traced server and wait (bounded) until it raises ``flag``."""
    flag.unlink(missing_ok=True)  # noqa: ASYNC240  (a local tmp file: instant)
    process.send_signal(signum)
    for _ in range(int(seconds * 10)):
        if flag.exists():  # noqa: ASYNC240
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"the traced server did not answer signal {signum}")


async def take_snapshot(process: subprocess.Popen[bytes], path: Path) -> tracemalloc.Snapshot:
    await signal_and_wait(process, signal.SIGUSR1, Path(f"{path}.done"), seconds=60)
    return tracemalloc.Snapshot.load(str(path))


def _area_of(filename: str) -> str:
    for marker, name in (
        ("/uvicorn/", "uvicorn"),
        ("/websockets/", "websockets (protocol library)"),
        ("/asyncio/", "asyncio (tasks, futures, queues)"),
        ("/chatspheres/", "chatspheres"),
        ("/django/", "django"),
        ("/asgiref/", "asgiref"),
    ):
        if marker in filename:
            return name
    return "other"


async def socket_costs(
    area: Any, cookies: list[str], count: int, snapshot_path: Path
) -> dict[str, Any]:
    """Python allocations per idle socket, by allocating line and by library (tracemalloc)."""
    with traced_server(area, snapshot_path) as (process, port):
        population = Population(
            url=f"ws://127.0.0.1:{port}/ws/",
            origin=f"http://127.0.0.1:{port}",
            cookies=cookies[:WARMUP_SOCKETS],
        )
        await population.grow_to(WARMUP_SOCKETS)
        await population.close_all()
        await asyncio.sleep(1)
        tracing = Path(f"{snapshot_path}.tracing")
        await signal_and_wait(process, signal.SIGUSR2, tracing, seconds=10)
        before = await take_snapshot(process, snapshot_path)
        population = Population(
            url=population.url, origin=population.origin, cookies=cookies[:count]
        )
        await population.grow_to(count)
        await asyncio.sleep(SETTLE_SECONDS)
        after = await take_snapshot(process, snapshot_path)
        await population.close_all()
    ignore = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
    ]
    before, after = before.filter_traces(ignore), after.filter_traces(ignore)
    by_line = after.compare_to(before, "lineno")
    total = sum(stat.size_diff for stat in by_line)
    by_area: dict[str, int] = {}
    for stat in by_line:
        name = _area_of(stat.traceback[0].filename)
        by_area[name] = by_area.get(name, 0) + stat.size_diff

    def short(frame: tracemalloc.Frame) -> str:
        name = frame.filename.split("site-packages/")[-1].split("/lib/python3.11/")[-1]
        return f"{name.replace(str(ROOT) + os.sep, '')}:{frame.lineno}"

    top = []
    by_path = after.compare_to(before, "traceback")
    for stat in sorted(by_path, key=lambda stat: stat.size_diff, reverse=True)[:15]:
        top.append(
            {
                # the allocating line first, then its callers
                "where": " ← ".join(short(frame) for frame in reversed(stat.traceback)),
                "bytes_per_socket": round(stat.size_diff / count),
                "blocks_per_socket": round(stat.count_diff / count, 2),
            }
        )
    # Our own share, line by line (the allocating line in chatspheres/): what a
    # change in the real-time core costs per socket.
    ours = sorted(
        (stat for stat in by_line if "/chatspheres/" in stat.traceback[0].filename),
        key=lambda stat: stat.size_diff,
        reverse=True,
    )
    return {
        "sockets": count,
        "python_heap_kib_per_socket": round(total / count / 1024, 2),
        "chatspheres_allocation_sites": [
            {
                "where": short(stat.traceback[0]),
                "bytes_per_socket": round(stat.size_diff / count),
                "blocks_per_socket": round(stat.count_diff / count, 2),
            }
            for stat in ours[:12]
            if stat.size_diff > 0
        ],
        "by_library_kib_per_socket": {
            name: round(size / count / 1024, 2)
            for name, size in sorted(by_area.items(), key=lambda kv: -kv[1])
        },
        "top_allocation_sites": top,
    }


def run_costs(area: Any, cookies: list[str], count: int) -> dict[str, Any]:
    import uvloop

    with (
        tempfile.TemporaryDirectory(prefix="sockets-trace-") as folder,
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
    ):
        return runner.run(socket_costs(area, cookies, count, Path(folder) / "snapshot"))


def plot(repetitions: list[dict[str, Any]], medians: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for index, repetition in enumerate(repetitions, 1):
        xs = [0] + [step["sockets"] for step in repetition["steps"]]
        ys = [repetition["rss_0_mib"]] + [step["rss_mib"] for step in repetition["steps"]]
        left.plot(xs, ys, marker="o", alpha=0.6, label=f"repetition {index}")
    base = median([r["rss_0_mib"] for r in repetitions])
    top = max(step["sockets"] for step in medians)
    left.plot(
        [0, top],
        [base, base + top * TARGET_KIB_PER_SOCKET / 1024],
        linestyle="--",
        color="tab:red",
        label=f"target: {TARGET_KIB_PER_SOCKET} KiB per socket",
    )
    left.set_xlabel("idle signed-in sockets")
    left.set_ylabel("server RSS (MiB)")
    left.set_title("Server memory against idle sockets")
    left.set_ylim(bottom=0)
    left.legend(fontsize=8)

    xs = [step["sockets"] for step in medians]
    right.plot(xs, [s["connect_to_ready_p50_ms"] for s in medians], marker="o", label="p50")
    right.plot(xs, [s["connect_to_ready_p99_ms"] for s in medians], marker="s", label="p99")
    right.plot(
        xs,
        [s["probe_connect_to_ready_p50_ms"] for s in medians],
        marker="^",
        label="p50, one at a time",
    )
    right.plot(
        xs,
        [s["probe_connect_to_ready_p99_ms"] for s in medians],
        marker="v",
        label="p99, one at a time",
    )
    right.set_xlabel("sockets open (step ends at)")
    right.set_ylabel(f"connect → ready (ms); p50/p99: {CONCURRENCY} in flight")
    right.set_title("Connect-to-ready time (medians of repetitions)")
    right.set_ylim(bottom=0)
    right.legend(fontsize=8)
    save_figure(fig, "sockets")


def notes(worst: float, costs: dict[str, Any]) -> list[str]:
    """Gaps and their causes, from this run's figures."""
    if worst <= TARGET_KIB_PER_SOCKET:
        return []
    sites = {
        site["where"]: site["bytes_per_socket"] for site in costs["chatspheres_allocation_sites"]
    }

    def at(prefix: str) -> int:
        return sum(size for where, size in sites.items() if where.startswith(prefix))

    ours = costs["by_library_kib_per_socket"].get("chatspheres", 0.0)
    frames = at("chatspheres/asgi.py") + at("chatspheres/realtime/gateway.py")
    return [
        f"{worst:.1f} KiB per idle socket, above the {TARGET_KIB_PER_SOCKET} KiB measured before"
        f" the real-time core was rewritten. Our own code holds {ours:.2f} KiB of each idle"
        " socket's Python heap (tracemalloc; 1.57 KiB before the rewrite); the rest (uvicorn,"
        " websockets, asyncio) did not change. By line: the coroutines a socket's life runs in"
        f" (asgi.py, gateway.py: {frames} B, one frame more than before: _serve_tab), the"
        " tab's app states"
        f" (tab.py: {at('chatspheres/realtime/tab.py')} B: a dict and one object per app), and"
        f" the hub's entries for the tab (hub.py: {at('chatspheres/realtime/hub.py')} B: two"
        " channel lists, the tab registry's entry, the member's event log). Made smaller in"
        " this round: the event log's deque is made with the member's first event (an empty"
        " one was 768 B per connected member).",
        "Proposed, outside the files this round could change: GatewayWebSocketProtocol could"
        " drop uvicorn's handshake request and response once the socket is accepted (their"
        " headers stay referenced for the socket's life): measured with --costs-only, 1.2 KiB"
        " less per idle socket, as much as the rewrite added; the gateway could call serve()"
        " itself rather than through _serve_tab (one coroutine frame, ~0.3 KiB); the tab's"
        " app states could be a tuple indexed per registry rather than a dict (~0.2 KiB).",
    ]


def costs_only(count: int) -> None:
    """A diagnosis run: what ``count`` idle sockets are made of, printed."""
    raise_fd_limit(count + WARMUP_SOCKETS + 500)
    with scratch() as area:
        ids = create_members(count + WARMUP_SOCKETS)
        costs = run_costs(area, bulk_session_cookies(ids), count)
    print(
        f"Python heap per idle socket (tracemalloc, {count} sockets):"
        f" {costs['python_heap_kib_per_socket']:.2f} KiB"
    )
    for name, kib in costs["by_library_kib_per_socket"].items():
        print(f"  {kib:6.2f} KiB  {name}")
    print("of which chatspheres, by allocating line:")
    for site in costs["chatspheres_allocation_sites"]:
        blocks = site["blocks_per_socket"]
        print(f"  {site['bytes_per_socket']:6d} B  {blocks:5.2f} blocks  {site['where']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="200 and 1,000 sockets, one repetition"
    )
    parser.add_argument(
        "--repetitions", type=int, help="default 3 (1 with --quick), fewer if time runs out"
    )
    parser.add_argument(
        "--costs-only",
        action="store_true",
        help="only list what an idle socket is made of (tracemalloc); writes no result",
    )
    args = parser.parse_args()
    if args.costs_only:
        costs_only(1000)
        return
    sizes = [200, 1000] if args.quick else [1000, 5000, 10000]
    wanted = args.repetitions or (1 if args.quick else 3)
    began = time.monotonic()
    fd_limit = raise_fd_limit(max(sizes) + WARMUP_SOCKETS + PROBES + 500)

    load_before = os.getloadavg()
    with scratch() as area:
        made = time.monotonic()
        ids = create_members(max(sizes) + WARMUP_SOCKETS + PROBES)
        cookies = bulk_session_cookies(ids)
        setup_seconds = time.monotonic() - made
        print(f"sockets: {len(ids)} members with sessions in {setup_seconds:.1f} s")
        print(f"  open-file limit {fd_limit}")
        repetitions: list[dict[str, Any]] = []
        for index in range(wanted):
            spent = time.monotonic() - began
            if repetitions and spent + spent / len(repetitions) > TIME_BUDGET_SECONDS:
                print(f"  stopping after {len(repetitions)} repetitions: time budget")
                break
            growth = " → ".join(map(str, sizes))
            print(f"  repetition {index + 1}/{wanted} (fresh server, growing {growth})")
            repetitions.append(run_repetition(area, cookies, sizes))
        cost_sockets = 500 if args.quick else 1000
        print(f"  what an idle socket is made of: {cost_sockets} sockets, server under tracemalloc")
        costs = run_costs(area, cookies, cost_sockets)

    medians = []
    for position, size in enumerate(sizes):
        steps = [repetition["steps"][position] for repetition in repetitions]
        medians.append(
            {"sockets": size}
            | {
                key: round(median([step[key] for step in steps]), 2)
                for key in (
                    "rss_mib",
                    "kib_per_socket",
                    "connect_to_ready_p50_ms",
                    "connect_to_ready_p99_ms",
                    "probe_connect_to_ready_p50_ms",
                    "probe_connect_to_ready_p99_ms",
                    "open_all_seconds",
                    "opened_per_second",
                    "server_cpu_percent_idle",
                )
            }
        )
    worst = max(step["kib_per_socket"] for step in medians)
    load_after = os.getloadavg()
    elapsed = time.monotonic() - began

    print()
    rss_0 = median([r["rss_0_mib"] for r in repetitions])
    print(f"  medians of {len(repetitions)} repetitions; RSS before any socket {rss_0:.1f} MiB")
    for step in medians:
        print(f"  {describe(step)}")
    verdict = "pass" if worst <= TARGET_KIB_PER_SOCKET else "MISS"
    ceiling = "pass" if worst <= CEILING_KIB_PER_SOCKET else "MISS"
    heap = costs["python_heap_kib_per_socket"]
    print(
        f"  Python heap per idle socket (tracemalloc, {costs['sockets']} sockets): {heap:.1f} KiB"
    )
    for name, kib in costs["by_library_kib_per_socket"].items():
        print(f"    {kib:6.2f} KiB  {name}")
    for site in costs["top_allocation_sites"][:10]:
        print(f"    {site['bytes_per_socket']:6d} B  {site['where']}")
    print("  of which chatspheres, by allocating line:")
    for site in costs["chatspheres_allocation_sites"]:
        print(f"    {site['bytes_per_socket']:6d} B  {site['where']}")
    print(
        f"  worst: {worst:.1f} KiB per idle socket (target ≤ {TARGET_KIB_PER_SOCKET}: {verdict};"
        f" ≤ {CEILING_KIB_PER_SOCKET}: {ceiling})"
    )
    print(f"  took {elapsed:.0f} s")

    write_result(
        "sockets",
        {
            "method": (
                "fresh server per repetition; on it one population grows "
                + " → ".join(map(str, sizes))
                + " idle signed-in sockets (Origin + session cookie, kept open after the ready"
                " frame); RSS of the server's process tree from /proc after the sockets settle;"
                f" RSS_0 after {WARMUP_SOCKETS} warm-up sockets opened and closed;"
                " KiB per socket = (RSS_N - RSS_0) / N; connect-to-ready = TCP connect to the"
                f" ready frame, {CONCURRENCY} handshakes in flight while growing, and {PROBES}"
                " probe sockets opened one at a time once the N sockets are idle (probe_*);"
                " medians over repetitions"
            ),
            "client": (
                "asyncio (uvloop) + websockets, one process; the server's keep-alive pings are"
                " answered by the client library"
            ),
            "open_file_limit": fd_limit,
            "repetitions": len(repetitions),
            "setup_seconds": round(setup_seconds, 1),
            "medians": medians,
            "per_repetition": repetitions,
            "python_heap_per_socket": costs,
            "targets": [
                {
                    "name": "server memory per idle socket (worst size), no worse than before"
                    " the real-time core was rewritten",
                    "target": f"<= {TARGET_KIB_PER_SOCKET} KiB",
                    "value": f"{worst:.1f} KiB",
                    "ratio": round(worst / TARGET_KIB_PER_SOCKET, 3),
                    "passed": worst <= TARGET_KIB_PER_SOCKET,
                },
                {
                    "name": "server memory per idle socket (worst size)",
                    "target": f"<= {CEILING_KIB_PER_SOCKET} KiB",
                    "value": f"{worst:.1f} KiB",
                    "passed": worst <= CEILING_KIB_PER_SOCKET,
                },
            ],
            "notes": notes(worst, costs),
            "load_average_1min": {"before": load_before[0], "after": load_after[0]},
            "elapsed_seconds": round(elapsed, 1),
        },
    )
    plot(repetitions, medians)


if __name__ == "__main__":
    main()
