"""``python -m chatspheres.server``: what it refuses before serving, and its task worker."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

from chatspheres.notifications.emails import email_send
from chatspheres.notifications.models import OutgoingEmail
from chatspheres.server import TaskWorker, metrics_folder
from tests.mailsink import MailSink

ROOT = Path(__file__).resolve().parent.parent
# Bounds a hang; a refusal takes well under a second.
COMMAND_LIMIT_SECONDS = 30


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(*arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run the server command with REDIS_URL unset (plus ``env``); it must end by itself."""
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "chatspheres.server", *arguments],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=COMMAND_LIMIT_SECONDS,
        check=False,
    )


def test_several_workers_without_redis_are_refused_at_once_saying_why() -> None:
    port = free_port()
    done = serve("--workers", "3", "--port", str(port))
    assert done.returncode == 2
    assert done.stdout == ""  # it never said it was serving
    assert done.stderr.strip().splitlines() == [
        "chatspheres.server: --workers 3 needs Redis: several processes need Redis to share "
        "the queue, presence and events; set REDIS_URL (or run one worker)."
    ]
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass  # nothing was ever bound


def test_an_empty_redis_url_counts_as_none() -> None:
    done = serve("--workers", "2", "--check", REDIS_URL="")
    assert done.returncode == 2
    assert "set REDIS_URL" in done.stderr


def test_the_check_make_run_does_first_passes_for_one_worker_or_with_redis() -> None:
    assert serve("--workers", "1", "--check").returncode == 0
    with_redis = serve("--workers", "4", "--check", REDIS_URL="redis://127.0.0.1:6379/0")
    assert (with_redis.returncode, with_redis.stderr) == (0, "")


def test_no_workers_at_all_is_a_usage_error() -> None:
    done = serve("--workers", "0", "--check")
    assert done.returncode == 2
    assert "--workers must be 1 or more" in done.stderr


def test_the_metrics_folder_is_emptied_of_an_earlier_runs_figures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "metrics"
    folder.mkdir()
    (folder / "counter_1234.db").write_bytes(b"old")
    (folder / "gauge_livesum_1234.db").write_bytes(b"old")
    (folder / "README").write_text("not ours to delete")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    assert metrics_folder(8000) == folder
    assert sorted(path.name for path in folder.iterdir()) == ["README"]


def test_by_default_the_metrics_folder_is_per_port_under_var(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from django.conf import settings

    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    port = free_port()
    folder = metrics_folder(port)
    try:
        assert folder == Path(settings.VAR_DIR) / "prometheus" / str(port)
        assert folder.is_dir()
    finally:
        folder.rmdir()


# The task worker ---------------------------------------------------------------

SLEEPER = (sys.executable, "-c", "import time; time.sleep(120)")
# Generous: a server and a worker starting on a busy 2-core machine.
START_SECONDS = 60


def test_the_task_worker_runs_until_stopped_and_stops_gracefully() -> None:
    worker = TaskWorker(SLEEPER, stop_seconds=5)
    worker.start()
    try:
        assert worker.process is not None and worker.process.poll() is None
    finally:
        worker.stop()
    assert worker.process.returncode == -signal.SIGTERM
    assert (worker.starts, worker.gave_up) == (1, False)


def test_a_worker_that_dies_is_restarted_with_backoff_then_given_up(
    capsys: pytest.CaptureFixture[str],
) -> None:
    worker = TaskWorker(
        (sys.executable, "-c", "raise SystemExit(3)"), restart_delays=(0.01, 0.02, 0.03)
    )
    worker.start()
    assert worker._watcher is not None
    worker._watcher.join(timeout=30)
    worker.stop()
    assert (worker.starts, worker.gave_up) == (4, True)
    lines = capsys.readouterr().err.splitlines()
    assert [line for line in lines if "restarting it in" in line] == [
        "chatspheres.server: ERROR the task worker stopped unexpectedly (exit status 3); "
        f"restarting it in {delay:g} s"
        for delay in (0.01, 0.02, 0.03)
    ]
    assert lines[-1].startswith(
        "chatspheres.server: ERROR the task worker stopped (exit status 3) 4 times in a row; "
        "not restarting it."
    )


def test_a_worker_stopped_while_waiting_to_restart_is_not_started_again() -> None:
    worker = TaskWorker((sys.executable, "-c", "raise SystemExit(1)"), restart_delays=(30,))
    worker.start()
    assert worker.process is not None
    worker.process.wait(timeout=30)
    worker.stop()
    assert worker.starts == 1


def database_url() -> str:
    """The test database, as a DATABASE_URL a server process can use."""
    from django.db import connection

    config = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{config['NAME']}"
    password = f":{config['PASSWORD']}" if config.get("PASSWORD") else ""
    return (
        f"postgres://{config['USER']}{password}@{config['HOST'] or '127.0.0.1'}:"
        f"{config['PORT'] or 5432}/{config['NAME']}"
    )


def start_server(port: int, **env: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    environment.update(env)
    return subprocess.Popen(
        [sys.executable, "-m", "chatspheres.server", "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def read_until(server: subprocess.Popen[str], needle: str) -> list[str]:
    """The server's output lines up to the one containing ``needle`` (bounded by START_SECONDS)."""
    assert server.stdout is not None
    seen: list[str] = []
    timer = threading.Timer(START_SECONDS, server.kill)
    timer.start()
    try:
        for line in server.stdout:
            seen.append(line.rstrip("\n"))
            if needle in line:
                return seen
    finally:
        timer.cancel()
    pytest.fail(f"the server never said {needle!r}: {seen}")


def test_the_server_command_runs_the_task_worker_which_sends_email_and_stops_with_it(
    transactional_db: None, smtp_sink: MailSink, settings: Any
) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    port = free_port()
    server = start_server(
        port,
        DATABASE_URL=database_url(),
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST=smtp_sink.host,
        EMAIL_PORT=str(smtp_sink.port),
    )
    try:
        lines = read_until(server, "Uvicorn running on")
        [started] = [line for line in lines if "the task worker is running" in line]
        worker_pid = int(started.rsplit("pid ", 1)[1].rstrip(")"))
        email_send(
            to="ana@example.com",
            subject="From the worker",
            template="email/notification.txt",
            context={"name": "Ana", "words": "Hello", "url": "http://127.0.0.1:8000/"},
            key="test:server-worker",
        )
        [mail] = smtp_sink.wait_for(1, timeout=START_SECONDS)
        assert mail["Subject"].endswith("From the worker")
        for _ in range(100):  # the row is marked sent just after the server accepted it
            if OutgoingEmail.objects.get().state == OutgoingEmail.State.SENT:
                break
            threading.Event().wait(0.1)
        assert OutgoingEmail.objects.get().state == OutgoingEmail.State.SENT
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=COMMAND_LIMIT_SECONDS)
    assert server.returncode == 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)


def test_without_the_worker_setting_the_server_starts_none(transactional_db: None) -> None:
    server = start_server(free_port(), DATABASE_URL=database_url(), TASK_WORKER_WITH_SERVER="false")
    try:
        lines = read_until(server, "Uvicorn running on")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=COMMAND_LIMIT_SECONDS)
    assert not [line for line in lines if "task worker" in line]
