"""Serve ChatSpheres with uvicorn, configured the way it is measured.

``python -m chatspheres.server`` is what ``make run`` starts; tests and
benchmarks build the same configuration with :func:`uvicorn_config`.

``--workers N`` runs N worker processes on the one port under uvicorn's
supervisor. They share the queue, presence and events through Redis, so N > 1
needs ``REDIS_URL``; and each keeps its metrics in files under
``var/prometheus/<port>/`` (``PROMETHEUS_MULTIPROC_DIR``, emptied at start)
so that one scrape of ``/metrics`` covers them all.

The command also runs the task worker (emails, reminders: django-tasks'
``db_worker``; ``TASK_WORKERS`` processes of it) as child processes it owns:
started before the server, stopped after it (on SIGTERM, SIGINT or the
server's own end), and each restarted with backoff if it dies
(:class:`TaskWorker`). ``--no-task-worker``
or ``TASK_WORKER_WITH_SERVER=false`` leaves it out, for a deployment that
runs it as a service of its own (docs/operator-guide.md).
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import uvicorn

from chatspheres.common.config import env_choice, env_port, env_str

# How the command ends when it refuses to start (argparse's code for bad usage).
EXIT_USAGE = 2


def uvicorn_config(
    *, host: str = "127.0.0.1", port: int = 8000, **overrides: Any
) -> uvicorn.Config:
    """The uvicorn settings ChatSpheres relies on."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "lifespan": "on",
        # Per-message compression doubles the CPU cost of every relayed signal
        # (docs/decisions/0001-realtime-gateway.md); signaling frames are small.
        "ws_per_message_deflate": False,
        # uvicorn's WebSocket protocol plus a synchronous lane for relayed
        # signals (chatspheres/realtime/fastpath.py).
        "ws": "chatspheres.realtime.fastpath:GatewayWebSocketProtocol",
        "ws_max_size": settings.REALTIME_MAX_FRAME_BYTES,
        "ws_ping_interval": settings.REALTIME_PING_INTERVAL,
        "ws_ping_timeout": settings.REALTIME_PING_TIMEOUT,
        # X-Forwarded-For/-Proto only from the proxies in TRUSTED_PROXIES
        # (none by default). Given explicitly: uvicorn's own default trusts
        # loopback, where anyone on the machine could claim any address.
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.TRUSTED_PROXIES),
        "server_header": False,
        "log_level": env_choice(
            "UVICORN_LOG_LEVEL", "info", ("critical", "error", "warning", "info", "debug", "trace")
        ),
    }
    options.update(overrides)
    return uvicorn.Config("chatspheres.asgi:application", **options)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatspheres.server", description="Serve ChatSpheres."
    )
    parser.add_argument("--host", default=env_str("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=env_port("PORT", 8000))
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes serving the one port (more than one needs REDIS_URL)",
    )
    parser.add_argument(
        "--check", action="store_true", help="only check these options, then exit (make run)"
    )
    parser.add_argument(
        "--no-task-worker",
        action="store_true",
        help="do not start the task worker (run `python -m chatspheres.taskworker` yourself)",
    )
    args = parser.parse_args(argv)
    load_settings()
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    refusal = workers_refusal(args.workers)
    if refusal is not None:
        print(f"chatspheres.server: {refusal}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE)
    if args.check:
        return
    if args.workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before any worker starts: prometheus_client reads it when imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(args.port))
    config = uvicorn_config(host=args.host, port=args.port, workers=args.workers)
    from django.conf import settings

    task_workers = (
        [TaskWorker() for _ in range(settings.TASK_WORKERS)]
        if settings.TASK_WORKER_WITH_SERVER and not args.no_task_worker
        else []
    )
    if task_workers:
        # uvicorn handles SIGTERM and SIGINT while it serves, then raises the
        # signal again under the handler found before it: this one, which
        # ends the command through the `finally` below, so the worker is
        # stopped too (also for a signal that comes while starting up).
        for stopping in (signal.SIGTERM, signal.SIGINT):
            signal.signal(stopping, _exit_on_signal)
        for task_worker in task_workers:
            task_worker.start()
    print(
        f"ChatSpheres is serving on http://{args.host}:{args.port}"
        + (f" with {args.workers} worker processes" if args.workers > 1 else ""),
        flush=True,
    )
    try:
        if args.workers == 1:
            uvicorn.Server(config).run()
            return
        # What uvicorn.run() does for workers, with our configuration object.
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[config.bind_socket()]).run()
    finally:
        stop_all(task_workers)


def load_settings() -> None:
    """Read every setting now, so that an invalid one stops the command before it serves.

    An invalid value ends the process with one line naming it
    (``chatspheres/common/config.py``), even under ``--check``.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 (reading one value loads the settings module)


def workers_refusal(workers: int) -> str | None:
    """Why this many workers cannot run with these settings, in one sentence; None if they can."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    if workers > 1 and not settings.REDIS_URL:
        return (
            f"--workers {workers} needs Redis: several processes need Redis to share "
            "the queue, presence and events; set REDIS_URL (or run one worker)."
        )
    return None


def metrics_folder(port: int) -> Path:
    """The folder the workers keep their metrics in, emptied of an earlier run's files.

    ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it, else
    ``var/prometheus/<port>/``. Only metric files (``*.db``) are removed.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(settings.VAR_DIR) / "prometheus" / str(port)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def _exit_on_signal(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def say(line: str) -> None:
    """One line from the command to its standard error."""
    print(f"chatspheres.server: {line}", file=sys.stderr, flush=True)


# The worker's command: db_worker without its code reloader (a worker
# restarted mid-task by a file change would leave the task half done).
TASK_WORKER_COMMAND = (sys.executable, "-m", "chatspheres.taskworker", "--no-reload")


class TaskWorker:
    """The task worker as a child process: started, watched, restarted with backoff, stopped.

    A worker that exits while the server runs is logged and started again
    after ``restart_delays`` (1 s, then longer, up to 30 s); one that ran
    ``healthy_seconds`` counts as healthy again, so the delays start over.
    After ``len(restart_delays)`` failures in a row it is left stopped, with
    an error line saying so: a worker that cannot start (a database it cannot
    reach) would otherwise spin. The server goes on serving either way; tasks
    wait in the database for a worker.
    """

    def __init__(
        self,
        command: Sequence[str] = TASK_WORKER_COMMAND,
        *,
        restart_delays: Sequence[float] = (1, 2, 5, 10, 30, 30),
        healthy_seconds: float = 60,
        stop_seconds: float = 30,
    ) -> None:
        self.command = list(command)
        self.restart_delays = list(restart_delays)
        self.healthy_seconds = healthy_seconds
        self.stop_seconds = stop_seconds
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.gave_up = False
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._watcher: threading.Thread | None = None

    def start(self) -> None:
        """Start the worker and the thread that watches it."""
        self._spawn()
        self._watcher = threading.Thread(target=self._watch, name="task-worker", daemon=True)
        self._watcher.start()

    def _spawn(self) -> None:
        environment = {**os.environ, "CHATSPHERES_TASKWORKER_PARENT": str(os.getpid())}
        # The metrics folder belongs to the web workers, whose files one scrape
        # sums; the task worker holds no sockets and would only add empty ones.
        environment.pop("PROMETHEUS_MULTIPROC_DIR", None)
        with self._lock:
            if self._stopping.is_set():
                return
            # A session of its own: a Ctrl-C in the terminal reaches the
            # server only, and the server stops the worker once, gracefully.
            process = subprocess.Popen(  # noqa: S603 (our own command, no shell)
                self.command, env=environment, start_new_session=True
            )
            self.process = process
            self.starts += 1
        say(f"the task worker is running (pid {process.pid})")

    def _watch(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            process = self.process
            assert process is not None
            started = time.monotonic()
            code = process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - started >= self.healthy_seconds:
                failures = 0
            if failures >= len(self.restart_delays):
                self.gave_up = True
                say(
                    f"ERROR the task worker stopped (exit status {code}) {failures + 1} times "
                    "in a row; not restarting it. Emails and reminders wait in the database "
                    "until a worker runs: see the lines above, then restart the server."
                )
                return
            delay = self.restart_delays[failures]
            failures += 1
            say(
                f"ERROR the task worker stopped unexpectedly (exit status {code}); "
                f"restarting it in {delay:g} s"
            )
            if self._stopping.wait(delay):
                return
            self._spawn()

    def stop(self) -> None:
        """Stop the worker: SIGTERM (it finishes its task), SIGKILL if it does not end in time."""
        with self._lock:
            self._stopping.set()
            process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=self.stop_seconds)
            except subprocess.TimeoutExpired:
                say("the task worker did not stop in time; killing it")
                process.kill()
                process.wait()
        if self._watcher is not None:
            self._watcher.join(timeout=5)


def stop_all(task_workers: Sequence[TaskWorker]) -> None:
    """Stop the task workers together: each is told at once, then each is waited for."""
    threads = [threading.Thread(target=worker.stop) for worker in task_workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def free_port() -> socket.socket:
    """A listening socket on a free loopback port (for tests and benchmarks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


if __name__ == "__main__":
    main()
