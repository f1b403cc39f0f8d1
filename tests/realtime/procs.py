"""Server processes for tests: ``python -m chatspheres.server`` on ports of their own.

Tests of several processes (or hosts) sharing Redis and the database start
real server processes rather than threads, so that each has its own runtime,
hub and event loop, and can be killed::

    def test_something(server_processes: ServerProcesses, own_redis: OwnRedis) -> None:
        first, second = server_processes.start(2, env={"REDIS_URL": own_redis.url})
        tab = Tab(first.live, member)           # tests.realtime.wsclient.Tab
        second.kill()                           # a crash
        assert first.alive()

Each process serves the test database (:func:`database_url`: the SQLite file
or the PostgreSQL database pytest-django made) and writes its output to a
log file, shown when it fails to start and available as :meth:`ServerProcess.log`.
The fixture stops every process it started when the test ends, however it ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connections

from tests.conftest import LiveServer

# Bounds a hang while a server starts or stops; it does not time anything.
START_LIMIT_SECONDS = 20.0
STOP_LIMIT_SECONDS = 10.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port(host: str = "127.0.0.1") -> int:
    """A port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def database_url() -> str:
    """The database this test uses, as a ``DATABASE_URL`` for another process."""
    settings = connections["default"].settings_dict
    name = str(settings["NAME"])
    if settings["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" not in settings["ENGINE"]:
        raise RuntimeError(f"no URL for the database engine {settings['ENGINE']}")
    user = quote(str(settings.get("USER") or ""), safe="")
    password = quote(str(settings.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings.get("HOST") or "127.0.0.1"
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(name, safe='')}"


def server_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a server process: this one's, on the test database, quieter."""
    env = dict(os.environ)
    # A test of the memory hub must not inherit a developer's REDIS_URL.
    env.pop("REDIS_URL", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "chatspheres.settings",
            "DATABASE_URL": database_url(),
            "PYTHONUNBUFFERED": "1",
            "UVICORN_LOG_LEVEL": "warning",
            "LOG_LEVEL": "WARNING",
        }
    )
    env.update(extra or {})
    return env


@dataclass
class ServerProcess:
    """One running server process and where it listens."""

    name: str
    host: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def live(self) -> LiveServer:
        """The process as the socket clients (``wsclient.Tab``) address a server."""
        return LiveServer(url=self.url, host=self.host, port=self.port)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")

    def fetch(self, path: str, *, cookie: str = "") -> tuple[int, str]:
        """Status and body of a GET to this process (status 0 when it does not answer at all)."""
        request = urllib.request.Request(f"{self.url}{path}")  # noqa: S310 (http only)
        if cookie:
            request.add_header("Cookie", cookie)
        try:
            with urllib.request.urlopen(request, timeout=START_LIMIT_SECONDS) as response:  # noqa: S310
                return int(response.status), response.read().decode(errors="replace")
        except urllib.error.HTTPError as error:
            return int(error.code), error.read().decode(errors="replace")
        except OSError as error:
            return 0, repr(error)

    def get(self, path: str, *, cookie: str = "") -> int:
        """The status of a GET to this process (0 when it does not answer at all)."""
        return self.fetch(path, cookie=cookie)[0]

    def wait_until_serving(self) -> None:
        """Wait (bounded) until /healthz answers; fail with the process's log if it never does."""
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while time.monotonic() < deadline:
            if not self.alive():
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log()}")
            if self.get("/healthz") == 200:
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"{self.name} did not serve within {START_LIMIT_SECONDS} s:\n{self.log()}"
        )

    def stop(self) -> int | None:
        """Stop gracefully (SIGTERM), killing the process if it does not stop in time."""
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_LIMIT_SECONDS)
            except subprocess.TimeoutExpired:
                self.kill()
        return self.process.returncode

    def kill(self) -> None:
        """Kill the process at once, as a crash would."""
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=STOP_LIMIT_SECONDS)


class ServerProcesses:
    """Starts server processes; :meth:`close` stops every one of them."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(env or {})
        self._folder = Path(tempfile.mkdtemp(prefix="chatspheres-servers-"))
        self.started: list[ServerProcess] = []

    def start(
        self,
        count: int = 1,
        *,
        env: Mapping[str, str] | None = None,
        host: str = "127.0.0.1",
        arguments: Sequence[str] = (),
    ) -> list[ServerProcess]:
        """Start ``count`` processes (all at once), return them once each one serves.

        ``arguments`` go to the server command as well (e.g. ``("--workers", "2")``).
        """
        environment = server_environment({**self._env, **(env or {})})
        fresh = [self._spawn(host, environment, arguments) for _ in range(count)]
        for server in fresh:
            server.wait_until_serving()
        return fresh

    def _spawn(
        self, host: str, environment: dict[str, str], arguments: Sequence[str] = ()
    ) -> ServerProcess:
        name = f"server-{len(self.started) + 1}"
        port = free_port(host)
        log_path = self._folder / f"{name}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "chatspheres.server",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    *arguments,
                ],
                cwd=PROJECT_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server = ServerProcess(name, host, port, process, log_path)
        self.started.append(server)
        return server

    def close(self) -> None:
        """Stop every process started here (killing those that do not stop); print their logs.

        pytest shows what a test printed only when it failed: then each
        process's log is there to read.
        """
        for server in self.started:
            try:
                server.stop()
            except Exception:  # the next one must be stopped all the same
                server.process.kill()
        for server in self.started:
            print(f"----- {server.name} ({server.url}), exit code {server.process.returncode}")
            print(server.log())


@pytest.fixture
def server_processes(transactional_db: None) -> Iterator[ServerProcesses]:
    """Start server processes on the test database; all are stopped when the test ends."""
    processes = ServerProcesses()
    try:
        yield processes
    finally:
        processes.close()
