"""What every benchmark shares: the machine, a scratch ChatSpheres, /proc readings, results.

Benchmarks never run inside ``make test``. Each one prints its figures and
writes ``bench/results/<name>.json``; ``bench/report.py`` turns the results
into docs/performance.md with plots.
"""

from __future__ import annotations

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
        store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        store[HASH_SESSION_KEY] = user.get_session_auth_hash()
        store.create()
        cookies.append(f"{settings.SESSION_COOKIE_NAME}={store.session_key}")
    return cookies
