"""``python -m bench.worker.profile [EMAILS] [--db-worker] [--cprofile]``: an email's costs.

Saves EMAILS emails (1,000 by default) on a scratch SQLite database, then
runs the task worker's loop in this process until the queue is empty, into
the benchmark's SMTP sink (a process of its own). Prints the worker's CPU
time per email (a figure the machine's other load changes less than the
wall time), the sink's, and the SQL statements per email by kind.
``--db-worker`` runs django-tasks-db's own loop instead, for comparison;
``--cprofile`` adds the functions that took the most time.

Not a benchmark of record (``python -m bench.worker`` is): a tool for
finding what to cut.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import sys
import time
from typing import Any

from bench.common import cpu_seconds, scratch
from bench.worker.run import CountingSink, ask_for_emails


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker.profile")
    parser.add_argument("emails", nargs="?", type=int, default=1000)
    parser.add_argument("--db-worker", action="store_true", help="django-tasks-db's own loop")
    parser.add_argument("--cprofile", action="store_true", help="list the costliest functions")
    args = parser.parse_args(argv)
    sink = CountingSink(nice=0)
    os.environ.update(
        {
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(sink.port),
        }
    )
    try:
        with scratch():
            from django.conf import settings
            from django.db import connection

            # As chatspheres.taskworker runs it: one connection kept open.
            settings.DATABASES["default"]["CONN_MAX_AGE"] = None
            ask_for_emails(args.emails, "profile")
            worker = build_worker(db_worker=args.db_worker)
            statements: collections.Counter[str] = collections.Counter()

            def count(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
                statements[sql.split(None, 1)[0].upper()] += 1
                return execute(sql, params, many, context)

            profile = cProfile.Profile()
            sink_cpu = cpu_seconds(sink.process.pid)
            with connection.execute_wrapper(count):
                wall, cpu = time.perf_counter(), time.process_time()
                if args.cprofile:
                    profile.enable()
                worker.run()
                profile.disable()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            sink.wait_for(args.emails, 30)
            sink_cpu = cpu_seconds(sink.process.pid) - sink_cpu
    finally:
        sink.stop()
    per = {kind: round(number / args.emails, 2) for kind, number in sorted(statements.items())}
    print(f"{args.emails} emails ({'db_worker' if args.db_worker else 'chatspheres.taskworker'})")
    print(f"  worker CPU per email: {cpu / args.emails * 1000:.2f} ms")
    print(f"  sink CPU per email:   {sink_cpu / args.emails * 1000:.2f} ms")
    print(f"  wall: {wall:.2f} s ({args.emails / wall:.0f} per second)")
    print(f"  SQL statements per email: {per}")
    if args.cprofile:
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("cumulative").print_stats(40)
    return 0


def build_worker(*, db_worker: bool) -> Any:
    """A worker that stops once the queue is empty, without the upkeep."""
    options: dict[str, Any] = {
        "queue_names": ["default"],
        "interval": 0,
        "batch": True,
        "backend_name": "default",
        "startup_delay": False,
        "max_tasks": None,
        "worker_id": "profile",
        "excluded_queue_names": [],
    }
    if db_worker:
        from django_tasks_db.management.commands.db_worker import Worker

        return Worker(**options)
    from django.conf import settings

    from chatspheres.taskworker import ClaimingWorker

    return ClaimingWorker(claim=settings.TASK_WORKER_CLAIM, **options)


if __name__ == "__main__":
    sys.exit(main())
