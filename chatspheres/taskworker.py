"""``python -m chatspheres.taskworker``: the task worker as the server command runs it.

It is django-tasks-db's ``manage.py db_worker`` (same options, passed on),
with three differences:

- on Linux it asks the kernel to send it SIGTERM when the process that
  started it dies, so a server killed outright (SIGKILL, a crash) never
  leaves an orphaned worker behind (SIGTERM lets the worker finish the task
  it is running, then exit);
- it runs at a lower CPU priority (``TASK_WORKER_NICE``, 10 by default), so
  that pages served on the same machine keep their times while it is busy;
- it keeps its SQLite connection between tasks, and waits when SQLite stays
  locked past its busy timeout instead of ending.

Run on its own (production, a service of its own) it behaves exactly like
``manage.py db_worker``: see docs/operator-guide.md, "The task worker".
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import time

# prctl(2) option: the signal sent to this process when its parent dies.
PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send SIGTERM when the parent dies; exit now if it already has."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        raise SystemExit(0)


def ride_out_locked_database() -> None:
    """Keep the worker going when SQLite stays locked past its busy timeout.

    db_worker opens its claiming transaction outside its own retry, so a
    writer holding SQLite's lock for longer than ``busy_timeout`` (a large
    import, a slow migration) would end the process; it now waits a second
    and goes on. Other database errors still end it (and the server command
    restarts it).
    """
    from django.db.utils import OperationalError
    from django_tasks_db.management.commands import db_worker
    from django_tasks_db.utils import is_locked_database_exception

    loop = db_worker.Worker.run

    def run(worker: db_worker.Worker) -> None:
        while True:
            try:
                loop(worker)
                return
            except OperationalError as error:
                if not is_locked_database_exception(error) or not worker.running:
                    raise
                db_worker.logger.warning("the database stayed locked; trying again in 1 s")
                time.sleep(1)

    db_worker.Worker.run = run  # type: ignore[method-assign, assignment]


def main(argv: list[str] | None = None) -> None:
    parent = os.environ.pop("CHATSPHERES_TASKWORKER_PARENT", "")
    if parent.isdigit():
        die_with_parent(int(parent))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings
    from django.core.management import execute_from_command_line

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
    import django

    django.setup()
    ride_out_locked_database()

    execute_from_command_line(["manage.py", "db_worker", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    main()
