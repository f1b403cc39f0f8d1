"""The task worker: email tasks per second into an SMTP server, and the pages while it works.

The site runs as ``make run`` runs it (``python -m chatspheres.server``, which
starts the task worker beside the server) on a scratch SQLite database, its
SMTP backend pointed at an SMTP server in this process (``aiosmtpd`` on a
loopback port, counting what arrives, as the tests' sink does).

First the rate: ``EMAILS`` emails are asked for, 100 per transaction
(``notifications.emails.email_send``, as the site does: a row and a task
each), and the worker sends them with nothing else going on; the rate is
their number over the time from the first commit to the last one's arrival
at the SMTP server. Then the pages: with a backlog of emails waiting, the page
``/spheres/`` is requested over HTTP, one request at a time on a keep-alive
connection, in blocks of ``BLOCK``, alternately with the worker processes
paused (SIGSTOP: the worker idle) and running (busy sending), so that both
sides share whatever else the machine is doing, and the same database.

Reported, for one worker process (the default, ``TASK_WORKERS=1``) and for
two: the sustained rate (emails per second, median of the rounds), and the
page's p50 idle and busy, with their ratio. The targets (the issue's: at
least 200 email tasks per second, the page's p50 moving by at most 10%) are
judged on the default.
"""

from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from bench.common import (
    free_port,
    median,
    our_server,
    percentile,
    process_tree,
    scratch,
    write_result,
)

EMAILS = 3000
QUICK_EMAILS = 1000
REQUESTS = 300
QUICK_REQUESTS = 100
ROUNDS = 3
QUICK_ROUNDS = 2
WARM_UP = 30
# Emails saved per transaction.
CHUNK = 100
# Page requests per block, alternately with the workers paused and running.
BLOCK = 25
PAGE = "/spheres/"
TARGET_RATE = 200.0
# Gaps and causes, for the report (bench/report.py reads "notes").
NOTES = (
    "Where a send's time goes (python -m bench.worker.profile): two SQL statements (the"
    " email's claim, UPDATE ... RETURNING, and its mark as sent) plus a tenth of one for the"
    " batch of tasks; building the MIME message and the four SMTP exchanges with the sink"
    " take the rest. django-tasks-db's own loop took four UPDATEs, a SELECT and a BEGIN per"
    " email, and about a third more of the worker's CPU.",
    "The page's p50 moves with the CPU the worker and the sink take on 2 cores, not the"
    " database: /spheres/ only reads (2 SELECTs), and a SQLite reader next to a busy writer"
    " took 0.02 ms longer; the server's CPU per request rose 9% while the worker ran"
    " (shared hardware). Figures vary between runs on this shared machine: four full runs"
    " of one process gave 1.00x, 1.06x, 1.09x and 1.23x at load averages 0.7, 1.3, 1.0 and"
    " 2.0; two processes take more of the CPU and move the page more. The idle CPU class"
    " (SCHED_IDLE) kept pages within 1.12x at load 3 but was not kept: a worker starved"
    " while holding SQLite's write lock keeps writing pages waiting.",
)
POSTGRESQL_NOTE = (
    "On PostgreSQL the worker's statements run in a PostgreSQL server process at the normal"
    " CPU priority, beside the site's: its niceness covers only its own half of the work,"
    " and the page moves more than on SQLite. The worker commits without waiting for the"
    " disk (synchronous_commit off, its connection only); with it on, it sent 80 a second."
)
TARGET_PAGE_RATIO = 1.10
# Task worker processes (TASK_WORKERS): the default first, which the targets
# judge, then two, for a machine that needs more.
PROCESSES = (1, 2)
# The worker's niceness unless TASK_WORKER_NICE says otherwise (settings.py).
DEFAULT_NICE = 10
# Bounds a round: 3,000 emails at the target rate take 15 s.
DRAIN_LIMIT_SECONDS = 180.0


def _serve_sink(port: int, count: Any, last: Any, stop: Any, ready: Any, nice: int) -> None:
    """The SMTP server's process: counts each message and the time it arrived."""
    from aiosmtpd.controller import Controller

    os.nice(nice)
    logging.getLogger("mail.log").setLevel(logging.WARNING)

    class Counter:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            with count.get_lock():
                count.value += 1
                last.value = time.monotonic()
            return "250 Message accepted for delivery"

    controller = Controller(Counter(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


class CountingSink:
    """An SMTP server on a loopback port, in a process of its own, counting what arrives.

    Its own process, so that its work never delays this process's timing of
    pages; niced like the worker, since in production the mail server is
    another machine and its CPU is not the site's.
    """

    def __init__(self, nice: int) -> None:
        context = multiprocessing.get_context("spawn")
        self.port = free_port()
        self._count = context.Value("q", 0)
        self._last = context.Value("d", 0.0)
        self._stop = context.Event()
        ready = context.Event()
        self.process = context.Process(
            target=_serve_sink,
            args=(self.port, self._count, self._last, self._stop, ready, nice),
            daemon=True,
        )
        self.process.start()
        if not ready.wait(30):
            raise RuntimeError("the SMTP sink did not start")

    @property
    def count(self) -> int:
        return int(self._count.value)

    @property
    def last_arrival(self) -> float:
        """When the last message arrived (``time.monotonic``, the same clock in every process)."""
        return float(self._last.value)

    def stop(self) -> None:
        self._stop.set()
        self.process.join(timeout=10)

    def wait_for(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True


def page_times(port: int, requests: int) -> list[float]:
    """``requests`` GETs of the page, one after another on one keep-alive connection (ms each)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    times = []
    try:
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("GET", PAGE)
            answer = connection.getresponse()
            answer.read()
            times.append((time.perf_counter() - started) * 1000)
            if answer.status != 200:
                raise RuntimeError(f"GET {PAGE} answered {answer.status}")
    finally:
        connection.close()
    return times


def ask_for_emails(count: int, round_name: str) -> float:
    """Save ``count`` emails and their tasks, CHUNK per transaction; when the first committed.

    Chunks, as many requests would make them: one long transaction would
    hold SQLite's write lock away from the worker. The worker starts on the
    first chunk while the rest are saved (faster than it sends them).
    """
    from django.db import transaction

    from chatspheres.notifications.emails import email_send

    first_commit = 0.0
    for start in range(0, count, CHUNK):
        with transaction.atomic():
            for index in range(start, min(count, start + CHUNK)):
                email_send(
                    to=f"member{index}@example.com",
                    subject="Your call with Ana starts in 24 hours",
                    template="email/notification.txt",
                    context={
                        "name": f"Member {index}",
                        "words": "Your call with Ana starts at Sun 10:00",
                        "url": "https://chatspheres.example/people/ana/",
                    },
                    key=f"bench:{round_name}:{index}",
                )
        first_commit = first_commit or time.monotonic()
    return first_commit


def sent_rows() -> dict[str, int]:
    from django.db.models import Count

    from chatspheres.notifications.models import OutgoingEmail

    return dict(
        OutgoingEmail.objects.values_list("state").annotate(n=Count("id")).values_list("state", "n")
    )


def task_workers(server_pid: int) -> list[int]:
    """The task worker processes the server started."""
    found = []
    for pid in process_tree(server_pid)[1:]:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
                if b"chatspheres.taskworker" in cmdline.read():
                    found.append(pid)
        except OSError:
            continue
    return found


def signal_all(pids: list[int], number: int) -> None:
    """Signal each worker; one that has gone (restarted by the server) is skipped.

    Never stop at the first gone: a worker left paused would ignore even the
    SIGTERM its dying server sends it.
    """
    for pid in pids:
        try:
            os.kill(pid, number)
        except ProcessLookupError:
            continue


def drain(sink: CountingSink, expected: int) -> None:
    if not sink.wait_for(expected, DRAIN_LIMIT_SECONDS):
        raise RuntimeError(
            f"only {sink.count} of {expected} emails arrived in"
            f" {DRAIN_LIMIT_SECONDS:g} s: {sent_rows()}"
        )


def measure(
    area: Any, sink: CountingSink, processes: int, *, emails: int, requests: int, rounds: int
) -> dict[str, Any]:
    """With ``processes`` task worker processes: the send rate, and page times idle and busy.

    Rate rounds: ``emails`` emails asked for at once, nothing else going on;
    the rate is their number over the time from the commit to the last one's
    arrival. Page rounds: a backlog of emails, and blocks of
    ``BLOCK`` requests with the workers paused (SIGSTOP: idle) and running
    (busy), alternately, so that both phases share the machine's other load
    and the same database.
    """
    idle: list[float] = []
    busy: list[float] = []
    rates: list[dict[str, Any]] = []
    env = {
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
        "TASK_WORKER_WITH_SERVER": "true",
        "TASK_WORKERS": str(processes),
    }
    # The bench process saves the emails; the server's workers send them.
    os.environ.update(env)
    with our_server(area, env=env) as (server, port):
        page_times(port, WARM_UP)
        workers = task_workers(server.pid)
        if len(workers) != processes:
            raise RuntimeError(f"expected {processes} task workers, found {workers}")
        for round_number in range(rounds):
            expected = sink.count + emails
            committed = ask_for_emails(emails, f"{processes}:rate:{round_number}")
            drain(sink, expected)
            seconds = sink.last_arrival - committed
            rates.append(
                {"emails": emails, "seconds": round(seconds, 3), "per_s": emails / seconds}
            )
            print(
                f"{processes} process(es), round {round_number + 1}: {emails} emails in"
                f" {seconds:.2f} s ({emails / seconds:.0f}/s)",
                flush=True,
            )
        for round_number in range(rounds):
            workers = task_workers(server.pid)  # the server restarts one that died
            # Saved while the workers run: one paused inside a transaction
            # would keep this write waiting (the pages only read).
            expected = sink.count + emails
            ask_for_emails(emails, f"{processes}:pages:{round_number}")
            try:
                for block in range(requests // BLOCK):
                    paused_first = block % 2 == 0
                    for paused in (paused_first, not paused_first):
                        signal_all(workers, signal.SIGSTOP if paused else signal.SIGCONT)
                        (idle if paused else busy).extend(page_times(port, BLOCK))
            finally:
                signal_all(workers, signal.SIGCONT)
            drain(sink, expected)
            print(
                f"{processes} process(es), pages {round_number + 1}: p50 idle"
                f" {median(idle):.2f} ms, busy {median(busy):.2f} ms",
                flush=True,
            )
        states = sent_rows()
    idle_p50, busy_p50 = median(idle), median(busy)
    return {
        "processes": processes,
        "rounds": rates,
        "rate_per_s": round(median([row["per_s"] for row in rates]), 1),
        "states": states,
        "page": {
            "url": PAGE,
            "requests_per_phase": len(idle),
            "idle_p50_ms": round(idle_p50, 3),
            "idle_p99_ms": round(percentile(idle, 0.99), 3),
            "busy_p50_ms": round(busy_p50, 3),
            "busy_p99_ms": round(percentile(busy, 0.99), 3),
            "busy_over_idle": round(busy_p50 / idle_p50, 3),
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer emails and requests")
    parser.add_argument(
        "--processes",
        default=",".join(str(count) for count in PROCESSES),
        help="task worker process counts to measure, comma-separated (default: %(default)s)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="measure on PostgreSQL instead: a scratch database at this URL"
        " (postgres://user@host:port/name), created and dropped by the run;"
        " figures go to bench/results/worker-postgresql.json",
    )
    args = parser.parse_args(argv)
    emails = QUICK_EMAILS if args.quick else EMAILS
    requests = QUICK_REQUESTS if args.quick else REQUESTS
    rounds = QUICK_ROUNDS if args.quick else ROUNDS
    counts = [int(count) for count in args.processes.split(",")]
    started = time.perf_counter()
    load_before = [round(value, 2) for value in os.getloadavg()]
    # Read before Django's settings are (scratch() chooses their var folder).
    sink = CountingSink(nice=int(os.environ.get("TASK_WORKER_NICE") or DEFAULT_NICE))
    database = "sqlite"
    try:
        with scratch_database(args.postgres), scratch() as area:
            from django.conf import settings

            from chatspheres.spheres.services import sphere_upsert

            database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
            default_processes = settings.TASK_WORKERS
            for number in range(1, 6):
                sphere_upsert(
                    slug=f"sphere-{number}",
                    name=f"Sphere {number}",
                    tagline="A sphere.",
                    description="A sphere to talk in.",
                )
            configurations = [
                measure(area, sink, processes, emails=emails, requests=requests, rounds=rounds)
                for processes in counts
            ]
    finally:
        sink.stop()
    by_count = {row["processes"]: row for row in configurations}
    default = by_count.get(default_processes, configurations[0])
    rate, page = default["rate_per_s"], default["page"]
    what = f"the default {default['processes']} worker process(es)"
    targets = [
        {
            "name": f"email tasks sent into the SMTP server, sustained, by {what}"
            " (median of the rounds)",
            "target": f"≥ {TARGET_RATE:g} per second",
            "value": f"{rate:.0f} per second",
            "passed": rate >= TARGET_RATE,
        },
        {
            "name": f"{PAGE} p50 while {what} send, against idle (same run)",
            "target": f"at most {TARGET_PAGE_RATIO:.2f}\N{MULTIPLICATION SIGN}",
            "value": f"{page['busy_p50_ms']:.2f} ms / {page['idle_p50_ms']:.2f} ms"
            f" = {page['busy_over_idle']:.3f}\N{MULTIPLICATION SIGN}",
            "passed": page["busy_over_idle"] <= TARGET_PAGE_RATIO,
        },
    ]
    for other in configurations:
        print(
            f"{other['processes']} process(es): {other['rate_per_s']:.0f} per second, page p50"
            f" {other['page']['busy_over_idle']:.3f}\N{MULTIPLICATION SIGN} idle"
        )
    for target in targets:
        verdict = "pass" if target["passed"] else "FAIL"
        print(f"[{verdict}] {target['name']}: {target['value']} (target {target['target']})")
    figures = {
        "quick": args.quick,
        "database": database,
        "worker": {
            "default_processes": default_processes,
            "claim": int(os.environ.get("TASK_WORKER_CLAIM") or 0) or "default",
            "nice": int(os.environ.get("TASK_WORKER_NICE") or DEFAULT_NICE),
        },
        # Other work on this shared machine takes CPU from the worker.
        "load_average_before": load_before,
        "load_average_after": [round(value, 2) for value in os.getloadavg()],
        "emails_per_round": emails,
        "configurations": configurations,
        "targets": targets,
        "notes": [*NOTES, *([POSTGRESQL_NOTE] if database == "postgresql" else [])],
        "wall_s": round(time.perf_counter() - started, 1),
    }
    if args.postgres:
        # A result of its own: worker.json keeps the default's (SQLite) figures.
        path = write_result("worker-postgresql", figures)
        document = json.loads(path.read_text())
        document["command"] = " ".join(["python", "-m", "bench.worker", *sys.argv[1:]])
        path.write_text(json.dumps(document, indent=2) + "\n")
    else:
        write_result("worker", figures)
    return 0


@contextmanager
def scratch_database(url: str | None) -> Iterator[None]:
    """With a URL: a new PostgreSQL database there, as DATABASE_URL, dropped afterwards."""
    if not url:
        yield
        return
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name.replace("_", "").isalnum():
        raise SystemExit(f"--postgres: {name!r} is not a plain database name")
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(maintenance, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
        connection.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        os.environ.pop("DATABASE_URL", None)
        from django.db import connections

        connections.close_all()
        with psycopg.connect(maintenance, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
