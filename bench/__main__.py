"""``python -m bench [--quick] [names…]``: every benchmark, one after another, then the report.

This is what ``make bench`` runs. Each benchmark runs in its own subprocess
(``python -m bench.<name>``), so one cannot skew the next through a warm
heap or a leftover server; they run in turn, never at once, because they
measure CPU on a 2-core machine. A benchmark whose package does not exist
is skipped with a message; one that fails or overruns its time limit does
not stop the others. Then ``python -m bench.report`` writes
docs/performance.md from whatever results exist.

What happened to each benchmark (wall time, exit status, why it was not
measured) is saved in ``bench/results/_run.json`` for the report.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from bench.common import RESULTS, ROOT

# In the order they run. The time limit is a safety net well above each
# benchmark's budget (the whole run is meant to take under 20 minutes:
# relay ~8 with its Redis mode, connect ~3, sockets ~4, reconnect ~2,
# matching and pages ~3 together).
BENCHMARKS: dict[str, int] = {
    "matching": 300,
    "pages": 240,
    "people": 240,
    "sockets": 420,
    "relay": 900,
    "reconnect": 300,
    "connect": 420,
    "ring": 240,
    "prompt": 240,
    "meter": 180,
    "worker": 300,
    "messages": 300,
}
REPORT_TIME_LIMIT = 120
RUN_RECORD = RESULTS / "_run.json"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def run_module(module: str, arguments: list[str], time_limit: int) -> tuple[str, float, str | None]:
    """Run ``python -m <module>``; return its status, wall seconds and, if it failed, why."""
    started = time.perf_counter()
    # Its own process group, so that on a timeout the benchmark and the
    # servers and browsers it started are stopped together, and nothing else.
    process = subprocess.Popen(
        [sys.executable, "-m", module, *arguments], cwd=ROOT, start_new_session=True
    )
    try:
        code = process.wait(timeout=time_limit)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=15)
        return "timeout", time.perf_counter() - started, f"stopped after its {time_limit} s limit"
    except KeyboardInterrupt:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
        raise
    wall = time.perf_counter() - started
    if code != 0:
        return "failed", wall, f"`python -m {module}` exited with status {code}"
    return "ok", wall, None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument(
        "names",
        nargs="*",
        metavar="name",
        help=f"benchmarks to run (default: all, in this order: {', '.join(BENCHMARKS)})",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no such benchmark: {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})")
    names = [name for name in BENCHMARKS if not args.names or name in args.names]
    extra = ["--quick"] if args.quick else []
    RESULTS.mkdir(parents=True, exist_ok=True)
    record: dict[str, Any] = {
        "started": now(),
        "quick": args.quick,
        "command": " ".join(["python -m bench", *extra, *args.names]),
        "benchmarks": [],
    }
    began = time.perf_counter()
    for name in names:
        entry: dict[str, Any] = {
            "name": name,
            "command": " ".join([f"python -m bench.{name}", *extra]),
        }
        if not (ROOT / "bench" / name / "__main__.py").exists():
            entry.update(status="skipped", wall_s=0.0, reason=f"bench/{name} does not exist yet")
            print(
                f"== bench.{name}: skipped, bench/{name}/__main__.py does not exist yet", flush=True
            )
        else:
            print(f"== bench.{name}: {entry['command']}", flush=True)
            entry["started"] = now()
            status, wall, reason = run_module(f"bench.{name}", extra, BENCHMARKS[name])
            entry.update(status=status, wall_s=round(wall, 1), finished=now())
            if reason:
                entry["reason"] = reason
            print(f"== bench.{name}: {status} in {wall:.1f} s", flush=True)
        record["benchmarks"].append(entry)
        # Saved after each one, so that an interrupted run still leaves a record.
        RUN_RECORD.write_text(json.dumps(record, indent=2) + "\n")
    record["benchmarks_wall_s"] = round(time.perf_counter() - began, 1)
    RUN_RECORD.write_text(json.dumps(record, indent=2) + "\n")
    print("== bench.report", flush=True)
    report_status, report_wall, report_reason = run_module("bench.report", [], REPORT_TIME_LIMIT)
    total = time.perf_counter() - began
    print()
    print("wall time per benchmark:")
    for entry in record["benchmarks"]:
        suffix = f" ({entry['reason']})" if entry.get("reason") else ""
        print(f"  {entry['name']:<9} {entry['wall_s']:7.1f} s  {entry['status']}{suffix}")
    suffix = f" ({report_reason})" if report_reason else ""
    print(f"  {'report':<9} {report_wall:7.1f} s  {report_status}{suffix}")
    print(f"  {'total':<9} {total:7.1f} s")
    failed = [e["name"] for e in record["benchmarks"] if e["status"] in {"failed", "timeout"}]
    if report_status != "ok":
        failed.append("report")
    if failed:
        print(f"not all went well: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
