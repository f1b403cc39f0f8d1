"""``python -m chatspheres.taskworker``: the task worker as the server command runs it.

It takes django-tasks-db's ``manage.py db_worker`` options and works its
queue, with these differences:

- it claims up to ``TASK_WORKER_CLAIM`` ready tasks in one transaction and
  saves their results together (:class:`ClaimingWorker`): two write
  transactions fewer per task, which were most of what an email cost the
  worker (bench/worker/profile.py);
- every ``TASK_UPKEEP_SECONDS`` it puts back the emails and tasks a lost
  worker left behind and prunes old records (:func:`worker_upkeep`);
- on Linux it asks the kernel to send it SIGTERM when the process that
  started it dies, so a server killed outright (SIGKILL, a crash) never
  leaves an orphaned worker behind (SIGTERM lets the worker finish the task
  it is running, then exit);
- it runs at a lower CPU priority (``TASK_WORKER_NICE``, 10 by default), so
  that pages served on the same machine keep their times while it is busy
  (not in the idle CPU class, SCHED_IDLE: pages would keep their times
  better, but a worker starved while it holds SQLite's write lock keeps
  every page that writes waiting);
- it keeps its SQLite connection between tasks, and waits when SQLite stays
  locked past its busy timeout instead of ending;
- it logs each task's start and end only with ``-v 2`` (a failed task is
  logged at any verbosity): two lines per email would be a flood.

Run on its own (production, a service of its own): see
docs/operator-guide.md, "The task worker".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import random
import signal
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

# prctl(2) option: the signal sent to this process when its parent dies.
PR_SET_PDEATHSIG = 1

# A claimed batch stops starting tasks after this long and hands the rest
# back to the queue: a slow mail server then holds few tasks away from the
# other workers, and a claim stays far younger than TASK_STALE_SECONDS.
BATCH_SECONDS = 10.0
# The pause after SQLite stayed locked past its busy timeout.
LOCKED_PAUSE_SECONDS = 1.0
# Tries at saving a batch's results (or handing back its unstarted tasks)
# before leaving them to the upkeep: the tasks did run, and every task here
# is safe to run twice (an email's row is claimed once).
SAVE_ATTEMPTS = 5

logger = logging.getLogger("chatspheres.taskworker")


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send SIGTERM when the parent dies; exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        raise SystemExit(0)


class WorkerLost(Exception):
    """Recorded on a task whose worker was lost while running it (:func:`tasks_lost_fail`)."""


class ClaimingWorker:
    """django-tasks-db's worker loop, claiming several ready tasks per transaction.

    ``db_worker`` takes one task per exclusive transaction and saves each
    task's result in a transaction of its own. This loop claims up to
    ``claim`` ready tasks (in the queue's order: priority, ``run_after``,
    age) in one transaction, runs them one after another, and saves the
    batch's successful results in one transaction; a failure is saved at
    once, as db_worker saves it. Tasks not started when the batch ends
    (after ``batch_seconds``, or on SIGTERM) go back to the queue as they
    were. ``task_started`` and ``task_finished`` are sent as db_worker sends
    them (``task_finished`` once the result is saved); a result's
    ``finished_at`` is when its batch was saved.

    It composes db_worker's ``Worker`` (``base``), for its options and its
    signals: a SIGTERM lets the running task finish, saves the batch, and
    ends the loop.
    """

    def __init__(
        self,
        *,
        claim: int,
        upkeep_seconds: float = 0,
        batch_seconds: float = BATCH_SECONDS,
        **options: Any,
    ) -> None:
        from django_tasks_db.management.commands.db_worker import Worker

        self.base = Worker(**options)
        self.claim = max(1, claim)
        self.upkeep_seconds = upkeep_seconds
        self.batch_seconds = batch_seconds
        self.next_upkeep = 0.0
        self.ran = 0

    def run(self) -> None:
        """Run tasks until stopped (with ``batch``: until none is ready)."""
        from django.db import close_old_connections

        base = self.base
        logger.info(
            "Starting worker worker_id=%s queues=%s, claiming up to %d tasks at a time",
            base.worker_id,
            ",".join(base.queue_names),
            self.claim,
        )
        if base.startup_delay and base.interval:
            # Workers started together do not all ask at the same moment.
            time.sleep(random.random())  # noqa: S311
        while base.running:
            close_old_connections()
            if self.upkeep_seconds and time.monotonic() >= self.next_upkeep:
                self.upkeep()
            claimed = self.claim_ready()
            if claimed:
                self.run_claimed(claimed)
            elif claimed is not None and base.batch:
                logger.info("No more tasks to run for worker_id=%s", base.worker_id)
                return
            if base.max_tasks is not None and self.ran >= base.max_tasks:
                logger.info("Ran %d tasks on worker_id=%s", self.ran, base.worker_id)
                return
            if base.running and not claimed:
                time.sleep(LOCKED_PAUSE_SECONDS if claimed is None else base.interval)

    def claim_ready(self) -> list[Any] | None:
        """Mark up to ``claim`` ready tasks as run by this worker, in one transaction.

        None when the database stayed locked past its busy timeout: the loop
        waits and asks again (a long write elsewhere must not end the worker).
        """
        from django.db import OperationalError
        from django.utils import timezone
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult
        from django_tasks_db.utils import exclusive_transaction, is_locked_database_exception

        base = self.base
        tasks = DBTaskResult.objects.ready().filter(backend_name=base.backend_name)
        if not base.process_all_queues:
            tasks = tasks.filter(queue_name__in=base.queue_names)
        if base.excluded_queue_names:
            tasks = tasks.exclude(queue_name__in=base.excluded_queue_names)
        limit = self.claim
        if base.max_tasks is not None:
            limit = min(limit, base.max_tasks - self.ran)
        try:
            with exclusive_transaction(tasks.db):
                rows = list(tasks.select_for_update(skip_locked=True)[:limit])
                now = timezone.now()
                fresh = [row for row in rows if not row.worker_ids]
                if fresh:
                    DBTaskResult.objects.filter(pk__in=[row.pk for row in fresh]).update(
                        status=TaskResultStatus.RUNNING, started_at=now, worker_ids=[base.worker_id]
                    )
                for row in rows:
                    if row.worker_ids:  # run before and put back: its list grows
                        row.claim(base.worker_id)
                    else:
                        row.status, row.started_at = TaskResultStatus.RUNNING, now
                        row.worker_ids = [base.worker_id]
        except OperationalError as error:
            if not is_locked_database_exception(error):
                raise
            logger.warning("the database stayed locked; trying again in 1 s")
            return None
        return rows

    def run_claimed(self, rows: list[Any]) -> None:
        """Run a claimed batch in order, save its results, hand back what was not started."""
        base = self.base
        started = time.monotonic()
        succeeded: list[tuple[Any, Any]] = []
        ran = 0
        # Held for the whole batch: db_worker ends the process at once on a
        # SIGTERM between tasks, which would leave the batch unsaved.
        base.running_task = True
        try:
            for row in rows:
                late = ran and time.monotonic() - started > self.batch_seconds
                if late or not base.running:
                    break
                ran += 1
                value = self.run_one(row)
                if value is not _FAILED:
                    succeeded.append((row, value))
        finally:
            try:
                self.save_results(succeeded)
                self.hand_back(rows[ran:])
            finally:
                self.ran += ran
                base.running_task = False

    def run_one(self, row: Any) -> Any:
        """Run one claimed task; its return value, or ``_FAILED`` (the failure is saved)."""
        from django_tasks.base import TaskContext
        from django_tasks.signals import task_finished, task_started

        try:
            task_result = row.task_result
            task = task_result.task
            task_started.send(sender=type(task.get_backend()), task_result=task_result)
            if task.takes_context:
                value = task.call(
                    TaskContext(task_result=task_result), *task_result.args, **task_result.kwargs
                )
            else:
                value = task.call(*task_result.args, **task_result.kwargs)
            # Saved with the batch: a value the database cannot store fails
            # this task now, not the batch's save later.
            json.dumps(value)
        except BaseException as error:  # db_worker records every failure, an exit's too
            row.set_failed(error)
            try:
                failed = row.task_result
                task_finished.send(sender=type(failed.task.get_backend()), task_result=failed)
            except Exception:
                logger.exception("Task id=%s failed unexpectedly", row.id)
            return _FAILED
        return value

    def save_results(self, succeeded: list[tuple[Any, Any]]) -> None:
        """Save a batch's successful results in one transaction, then send ``task_finished``."""
        if not succeeded:
            return
        from django.db import transaction
        from django.utils import timezone
        from django_tasks.base import TaskResultStatus
        from django_tasks.signals import task_finished
        from django_tasks_db.models import DBTaskResult

        now = timezone.now()
        by_value: dict[str, list[Any]] = {}
        for row, value in succeeded:
            row.status, row.finished_at, row.return_value = TaskResultStatus.SUCCESSFUL, now, value
            row.exception_class_path = row.traceback = ""
            by_value.setdefault(json.dumps(value, sort_keys=True), []).append(row)

        def save() -> None:
            with transaction.atomic(using=DBTaskResult.objects.db):
                for rows in by_value.values():
                    DBTaskResult.objects.filter(pk__in=[row.pk for row in rows]).update(
                        status=TaskResultStatus.SUCCESSFUL,
                        finished_at=now,
                        return_value=rows[0].return_value,
                        exception_class_path="",
                        traceback="",
                    )

        if not _persist(save, what=f"the results of {len(succeeded)} tasks"):
            return
        for row, _value in succeeded:
            result = row.task_result
            task_finished.send(sender=type(result.task.get_backend()), task_result=result)

    def hand_back(self, rows: list[Any]) -> None:
        """Return claimed tasks that were not started to the queue, as they were."""
        if not rows:
            return
        from django.db import transaction
        from django_tasks.base import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        def save() -> None:
            with transaction.atomic(using=DBTaskResult.objects.db):
                for row in rows:
                    DBTaskResult.objects.filter(pk=row.pk, status=TaskResultStatus.RUNNING).update(
                        status=TaskResultStatus.READY,
                        started_at=None,
                        worker_ids=row.worker_ids[:-1],
                    )

        _persist(save, what=f"{len(rows)} tasks handed back")

    def upkeep(self) -> None:
        """Run :func:`worker_upkeep`; a failure is logged, and it runs again next time."""
        try:
            done = worker_upkeep()
        except Exception:
            logger.exception(
                "the worker's upkeep failed; it runs again in %g s", self.upkeep_seconds
            )
        else:
            if any(done.values()):
                logger.info("upkeep: %s", ", ".join(f"{n} {what}" for what, n in done.items()))
        self.next_upkeep = time.monotonic() + self.upkeep_seconds


# run_one's answer for a task that failed (None is a task's own return value).
_FAILED = object()


def _persist(save: Any, *, what: str) -> bool:
    """Run ``save``, again after a pause while SQLite stays locked; False if it never could."""
    from django.db import OperationalError
    from django_tasks_db.utils import is_locked_database_exception

    for attempt in range(1, SAVE_ATTEMPTS + 1):
        try:
            save()
            return True
        except OperationalError as error:
            if not is_locked_database_exception(error) or attempt == SAVE_ATTEMPTS:
                logger.exception(
                    "could not save %s; they stay 'running' until the upkeep finds them", what
                )
                return False
            time.sleep(0.1 * attempt)
    return False


def tasks_lost_fail(*, now: datetime | None = None) -> int:
    """Mark tasks running longer than ``settings.TASK_STALE_SECONDS`` as failed; how many.

    A worker killed mid-task (SIGKILL, a crash, the machine) leaves its task
    "running" for ever. No task here runs that long (a batch is handed back
    after ``BATCH_SECONDS``), so such a row is recorded as failed with
    :class:`WorkerLost`, and pruned later with the other failures. What the
    task was doing is not run again from here: an email's own row is put
    back by ``email_sweep``.
    """
    from django.conf import settings
    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TASK_STALE_SECONDS)
    return DBTaskResult.objects.filter(
        status=TaskResultStatus.RUNNING, started_at__lt=cutoff
    ).update(
        status=TaskResultStatus.FAILED,
        finished_at=now,
        exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
        traceback=f"WorkerLost: still running after {settings.TASK_STALE_SECONDS:g} s;"
        " its worker was lost (killed or crashed)\n",
    )


def task_results_prune(*, now: datetime | None = None) -> int:
    """Delete finished task rows past their keeping time; how many.

    Successful ones after ``settings.TASK_RESULTS_KEEP_DAYS``, failed ones
    after ``TASK_FAILED_RESULTS_KEEP_DAYS`` (kept longer, to look into).
    An email's own row keeps its record (``emails.email_records_prune``).
    """
    from django.conf import settings
    from django.db.models import Q
    from django.utils import timezone
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from chatspheres.notifications.emails import delete_in_chunks

    now = now or timezone.now()
    return delete_in_chunks(
        DBTaskResult.objects.filter(
            Q(
                status=TaskResultStatus.SUCCESSFUL,
                finished_at__lt=now - timedelta(days=settings.TASK_RESULTS_KEEP_DAYS),
            )
            | Q(
                status=TaskResultStatus.FAILED,
                finished_at__lt=now - timedelta(days=settings.TASK_FAILED_RESULTS_KEEP_DAYS),
            )
        )
    )


def worker_upkeep(*, now: datetime | None = None) -> dict[str, int]:
    """The worker's periodic upkeep: lost work put back, old records pruned; counts by what.

    Safe to run in several workers at once, and by hand (``manage.py
    email_sweep --prune``).
    """
    from django.utils import timezone

    from chatspheres.notifications.emails import email_records_prune, email_sweep

    now = now or timezone.now()
    return {
        **email_sweep(now=now).counts(),
        "lost tasks marked failed": tasks_lost_fail(now=now),
        "task results pruned": task_results_prune(now=now),
        "email records pruned": email_records_prune(now=now),
    }


def worker_from_argv(argv: Sequence[str]) -> tuple[ClaimingWorker, dict[str, Any]]:
    """A worker for ``db_worker``'s command-line options, with its logging set; and the options."""
    from django.conf import settings
    from django_tasks_db.management.commands.db_worker import Command

    command = Command()
    options = vars(command.create_parser("manage.py", "db_worker").parse_args(list(argv)))
    command.configure_logging(options["verbosity"])
    if options["verbosity"] < 2:
        # A failed task is still logged (as an error, with its traceback).
        logging.getLogger("django_tasks").setLevel(logging.WARNING)
    queue_names = options["queue_name"].split(",")
    excluded = options["exclude_queues"].split(",") if options["exclude_queues"] else []
    if excluded and "*" not in queue_names:
        raise SystemExit("--exclude-queues can only be used with --queue-name=*")
    worker = ClaimingWorker(
        claim=settings.TASK_WORKER_CLAIM,
        upkeep_seconds=settings.TASK_UPKEEP_SECONDS,
        queue_names=queue_names,
        interval=options["interval"],
        batch=options["batch"],
        backend_name=options["backend_name"],
        startup_delay=options["startup_delay"],
        max_tasks=options["max_tasks"],
        worker_id=options["worker_id"],
        excluded_queue_names=excluded,
    )
    return worker, options


def main(argv: list[str] | None = None) -> None:
    parent = os.environ.pop("CHATSPHERES_TASKWORKER_PARENT", "")
    if parent.isdigit():
        die_with_parent(int(parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    # Pages first: on a machine the worker shares with the server, a busy
    # worker takes the CPU the server leaves (bench/worker measures it).
    if settings.TASK_WORKER_NICE:
        os.nice(settings.TASK_WORKER_NICE)
    # One thread, one task after another: it keeps its database connection
    # (settings.py closes SQLite's after every request, for the server's
    # threads). Opening one per task cost more than the task itself.
    for database in settings.DATABASES.values():
        if database["ENGINE"] == "django.db.backends.sqlite3":
            database["CONN_MAX_AGE"] = None
        elif database["ENGINE"] == "django.db.backends.postgresql":
            # The worker's commits do not wait for the disk (as SQLite's
            # synchronous=NORMAL does not, for everyone): a send is two
            # commits, and each flush took longer than the send. A database
            # crash may forget its last fraction of a second of them; the
            # upkeep then sends those emails again, or records the tasks lost.
            # What members are told was saved stays synchronous (the site's
            # own connections are untouched).
            options = database.setdefault("OPTIONS", {})
            options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()
    import django

    django.setup()
    worker, options = worker_from_argv(sys.argv[1:] if argv is None else argv)
    if options["reload"] and not options["batch"]:
        from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader

        if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
            worker.base.configure_signals()  # only in the reloaded child
        run_with_reloader(worker.run)
    else:
        worker.base.configure_signals()
        worker.run()


if __name__ == "__main__":
    main()
