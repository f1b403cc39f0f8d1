"""What every benchmark shares: the machine, a scratch ChatSpheres, /proc readings, results.

Benchmarks never run inside ``make test``. Each one prints its figures and
writes ``bench/results/<name>.json``; ``bench/report.py`` turns the results
into docs/performance.md with plots.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
VENDOR = ROOT / "bench" / "vendor"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model and software versions of this machine."""
    model = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        total_kib = int(meminfo.readline().split()[1])
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(total_kib / 1024 / 1024, 1),
        "cpu_model": model,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


def write_result(name: str, figures: dict[str, Any]) -> Path:
    """Save one benchmark's figures with the machine, the date and the command."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {
        "benchmark": name,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        # Module form, not sys.argv[0]: that is an absolute path of this machine.
        "command": " ".join(["python", "-m", f"bench.{name}", *sys.argv[1:]]),
        "machine": machine(),
        **figures,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return path


def save_figure(figure: Any, name: str) -> str:
    """Write a matplotlib figure to bench/results/<name>.png; returns its path in the repo."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    figure.savefig(path, dpi=120)
    plt.close(figure)
    print(f"wrote {path.relative_to(ROOT)}")
    return str(path.relative_to(ROOT))


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` fall (nearest rank)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))
    return float(ordered[index])


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        pending.extend(_children(current))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time consumed so far by ``pid``'s process tree."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid``'s process tree."""
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE_SIZE
        except OSError:
            continue
    return total


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, *, attempts: int = 300) -> None:
    """Wait (bounded) until something listens on 127.0.0.1:``port``."""
    for _ in range(attempts):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@dataclass
class Scratch:
    """A throw-away ChatSpheres data folder (database, secret key) for one benchmark."""

    var_dir: Path

    @property
    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["CHATSPHERES_VAR_DIR"] = str(self.var_dir)
        env["DJANGO_SETTINGS_MODULE"] = "chatspheres.settings"
        # The benchmarks measure the relay and the pages, not the limiter's
        # patience: ping-pong pairs send far more than a person ever would.
        env["REALTIME_RATE_PER_SECOND"] = "1000000000"
        env["REALTIME_RATE_BURST"] = "1000000000"
        # Every simulated tab connects from 127.0.0.1: a real site sees them
        # from as many addresses as there are people.
        env["REALTIME_HANDSHAKES_PER_MINUTE"] = "1000000000"
        # Simulated members join the queue again and again.
        env["RATE_LIMIT_QUEUE_JOIN"] = "1000000000/s"
        env["UVICORN_LOG_LEVEL"] = "warning"
        return env


@contextmanager
def scratch() -> Iterator[Scratch]:
    """A migrated scratch database; this process's Django is set up to use it."""
    var_dir = Path(tempfile.mkdtemp(prefix="chatspheres-bench-"))
    area = Scratch(var_dir)
    os.environ.update(
        {k: v for k, v in area.env.items() if k.startswith(("CHATSPHERES", "DJANGO", "REALTIME"))}
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    try:
        yield area
    finally:
        shutil.rmtree(var_dir, ignore_errors=True)


@contextmanager
def listening_process(
    command: Sequence[str], *, port: int, cwd: Path = ROOT, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """Start a server process, wait until it listens on ``port``; stop it afterwards."""
    process = subprocess.Popen(list(command), cwd=cwd, env=env, stdout=subprocess.DEVNULL)
    try:
        wait_for_port(port)
        yield process, port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def our_server(
    area: Scratch, *, port: int | None = None, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``python -m chatspheres.server`` (as `make run` serves it) on a free loopback port.

    ``env`` adds to the scratch area's environment (``REDIS_URL`` for a process
    that shares its hub through Redis).
    """
    port = port or free_port()
    command = [sys.executable, "-m", "chatspheres.server", "--host", "127.0.0.1"]
    environment = {**area.env, **(env or {})}
    with listening_process([*command, "--port", str(port)], port=port, env=environment) as served:
        yield served


@dataclass(frozen=True)
class RedisServer:
    """A redis-server of the benchmark's own (never the shared one on 6379)."""

    url: str
    pid: int
    version: str


@contextmanager
def redis_server(extra_arguments: Sequence[str] = ()) -> Iterator[RedisServer]:
    """Start ``redis-server`` on a free loopback port, persistence off; stop and remove it after."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is needed (apt-get install redis-server)")
    port = free_port()
    folder = tempfile.mkdtemp(prefix="chatspheres-bench-redis-")
    command = [
        binary,
        "--bind",
        "127.0.0.1",
        "--port",
        str(port),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        folder,
        "--protected-mode",
        "no",
        *extra_arguments,
    ]
    try:
        with listening_process(command, port=port) as (process, _):
            version = subprocess.run(
                [binary, "--version"], capture_output=True, text=True, check=False
            ).stdout.split()
            found = next((word[2:] for word in version if word.startswith("v=")), "unknown")
            yield RedisServer(url=f"redis://127.0.0.1:{port}/0", pid=process.pid, version=found)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def session_cookies(user_ids: Sequence[int]) -> list[str]:
    """A signed-in session per member, as the Cookie header a browser sends."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from chatspheres.accounts.models import User

    cookies = []
    for user in User.objects.filter(pk__in=user_ids).order_by("pk"):
        store = SessionStore()
        store[SESSION_KEY] = str(user.pk)
        # The site's own first backend: a session naming one it does not use is signed out.
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={store.session_key}")
    return cookies


MARKS_JS = ROOT / "bench" / "marks.js"


async def open_page(
    playwright: Any,
    base: str,
    cookie: str,
    *,
    scripts: Sequence[Path | str] = (),
    flags: Sequence[str] = (),
) -> tuple[Any, Any]:
    """A headless Chromium signed in with ``cookie``: its browser and a page on ``base``.

    ``scripts`` (a file, or the script's text) run in order before any page script.
    """
    from tests.browser.chromium import CHROMIUM_FLAGS, find_chromium

    path, reason = find_chromium()
    if reason is not None:
        raise SystemExit(reason)
    browser = await playwright.chromium.launch(
        executable_path=path, args=[*CHROMIUM_FLAGS, *flags], headless=True
    )
    context = await browser.new_context(
        base_url=base, permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
    )
    name, value = cookie.split("=", 1)
    await context.add_cookies([{"name": name, "value": value, "url": base}])
    for script in scripts:
        if isinstance(script, Path):
            await context.add_init_script(path=str(script))
        else:
            await context.add_init_script(script)
    return browser, await context.new_page()


def runs_arguments(description: str) -> argparse.Namespace:
    """``--quick`` and ``--runs`` of a benchmark that repeats one measured step."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="5 runs instead of 20 (development)")
    parser.add_argument("--runs", type=int, help="measured runs (default 20, 5 with --quick)")
    args = parser.parse_args()
    args.runs = args.runs or (5 if args.quick else 20)
    return args


def write_press_result(
    name: str,
    results: list[dict[str, Any]],
    *,
    args: argparse.Namespace,
    warm_up: int,
    target_p50_ms: float,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    began: float,
    headline: str,
    target_name: str,
    notes_tail: str,
    figures: dict[str, Any],
) -> None:
    """Print and save a press-to-paint benchmark: each run's ``ms`` and ``moments`` after the press.

    ``figures`` (the definition, the server, the browsers) come first in the result.
    """
    load_before, load_after = load
    latencies = [run["ms"] for run in results]
    steps = {
        step: round(median([run["moments"][step] for run in results if step in run["moments"]]), 1)
        for step in results[0]["moments"]
    }
    p50, p90 = median(latencies), percentile(latencies, 0.9)
    print()
    print(f"  {headline}: p50 {p50:.0f} ms, p90 {p90:.0f} ms (target p50 ≤ {target_p50_ms:.0f})")
    print("  median moments after the press:")
    for step, at in steps.items():
        print(f"    {at:8.1f} ms  {step}")
    print(f"  load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    print(f"  took {time.monotonic() - began:.0f} s")
    write_result(
        name,
        {
            **figures,
            "runs": args.runs,
            "warmup_runs_discarded": warm_up,
            "p50_ms": round(p50, 1),
            "p90_ms": round(p90, 1),
            "min_ms": round(min(latencies), 1),
            "max_ms": round(max(latencies), 1),
            "target_p50_ms": target_p50_ms,
            "meets_target": p50 <= target_p50_ms,
            "per_run_ms": [round(value, 1) for value in latencies],
            "quick": bool(args.quick),
            "targets": [
                {
                    "name": target_name,
                    "target": f"p50 at most {target_p50_ms:.0f} ms",
                    "value": round(p50, 1),
                    "passed": p50 <= target_p50_ms,
                }
            ],
            "notes": [
                "Where the time goes (medians after the press): "
                + "; ".join(f"{step} {at:.0f} ms" for step, at in steps.items())
                + notes_tail,
                f"Load average (1 min) {load_before[0]:.1f} before and {load_after[0]:.1f} after"
                " the run, on a shared 2-core machine.",
            ],
            "median_moments_after_press_ms": steps,
            "load_average_before": round(load_before[0], 2),
            "load_average_after": round(load_after[0], 2),
        },
    )
