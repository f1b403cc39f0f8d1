"""SIGTERM drains a server process: its sockets close with 1012, and no conversation stays active.

With Redis, a tab whose process stops reconnects to another process and
resumes there, call and all; a tab that does not come back has its call ended
as `disconnected` by another process's sweep after the grace period. A lone
process (no Redis) ends its calls itself as it stops, since nobody can resume
them.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal as signals
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from websockets.exceptions import ConnectionClosed

from chatspheres.calls.models import Conversation
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import RECEIVE_LIMIT_SECONDS, Tab, match, signal
from tests.redis_support import OwnRedis, own_redis  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# Short, so that the test waits little for a tab that does not come back.
GRACE_SECONDS = 2

CLOSE_SERVICE_RESTART = 1012
# After its graceful shutdown uvicorn raises the signal again, so the process
# ends "killed by SIGTERM" as its supervisor expects; 0 is as good.
STOPPED_BY_SIGTERM = (0, -signals.SIGTERM)

ROOT = Path(__file__).resolve().parents[2]
# Bound a hang while a process starts or stops; they time nothing.
START_LIMIT_SECONDS = 30
STOP_LIMIT_SECONDS = 30


def database_url() -> str:
    """This test's database, as a server process is told it (DATABASE_URL)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db["USER"] or ""
    if db["PASSWORD"]:
        user += f":{db['PASSWORD']}"
    at = f"{user}@" if user else ""
    return f"postgres://{at}{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@dataclass
class ServerProcess:
    """``python -m chatspheres.server`` in a process of its own, on this test's database."""

    process: subprocess.Popen[bytes]
    live: LiveServer
    log: Path
    var_dir: Path

    def terminate(self) -> None:
        self.process.send_signal(signals.SIGTERM)

    def wait(self) -> int:
        return self.process.wait(timeout=STOP_LIMIT_SECONDS)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.terminate()
            try:
                self.wait()
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=STOP_LIMIT_SECONDS)

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def server_processes() -> Iterator[Callable[..., ServerProcess]]:
    """Start server processes with ``start(env=..., arguments=...)``; all stop at the end."""
    folder = Path(tempfile.mkdtemp(prefix="chatspheres-drain-"))
    started: list[ServerProcess] = []

    def start(env: dict[str, str], arguments: tuple[str, ...] = ()) -> ServerProcess:
        port = _free_port()
        environment = {
            key: value
            for key, value in os.environ.items()
            if key not in ("REDIS_URL", "PROMETHEUS_MULTIPROC_DIR", "DATABASE_URL")
        }
        environment.update(
            DJANGO_SETTINGS_MODULE="chatspheres.settings",
            DATABASE_URL=database_url(),
            # Sessions made by this test must hold there too.
            SECRET_KEY=settings.SECRET_KEY,
            CHATSPHERES_VAR_DIR=str(folder / str(port)),
            UVICORN_LOG_LEVEL="warning",
            **env,
        )
        log = folder / f"server-{port}.log"
        with log.open("wb") as output:
            process = subprocess.Popen(
                [sys.executable, "-m", "chatspheres.server", "--port", str(port), *arguments],
                cwd=ROOT,
                env=environment,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        server = ServerProcess(
            process=process,
            live=LiveServer(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port),
            log=log,
            var_dir=folder / str(port),
        )
        started.append(server)
        _wait_until_serving(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
        for server in started:
            print(f"--- server on port {server.live.port} ---\n{server.log_tail()}")
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_until_serving(server: ServerProcess) -> None:
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server process exited:\n{server.log_tail()}")
        with contextlib.suppress(OSError):
            page = http.client.HTTPConnection("127.0.0.1", server.live.port, timeout=2)
            try:
                page.request("GET", "/readyz")
                if page.getresponse().status == 200:
                    return
            finally:
                page.close()
        time.sleep(0.1)
    raise RuntimeError(f"the server process did not start:\n{server.log_tail()}")


def closed_with(tab: Tab) -> int:
    """Read until the server closes the socket; the close code it gave."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            tab.receive()
    assert closed.value.rcvd is not None, "the server closed the socket with a close frame"
    return closed.value.rcvd.code


def relays_both_ways(first: Tab, second: Tab, conversation: str, note: str) -> None:
    first.send(signal(conversation, f"{note}-there"))
    assert f"{note}-there" in second.receive_type("signal")["data"]["candidate"]["candidate"]
    second.send(signal(conversation, f"{note}-back"))
    assert f"{note}-back" in first.receive_type("signal")["data"]["candidate"]["candidate"]


def conversation_state(public_id: str) -> tuple[str, str]:
    saved = Conversation.objects.get(public_id=public_id)
    return saved.state, saved.end_reason


Start = Callable[..., ServerProcess]


@pytest.fixture
def start(transactional_db: None) -> Iterator[Start]:
    """Start server processes on this test's database; each is stopped after the test."""
    with server_processes() as starter:
        yield starter


def test_sigterm_hands_the_tab_to_another_process_and_the_call_goes_on(
    own_redis: OwnRedis,  # noqa: F811
    start: Start,
    sphere: Sphere,
) -> None:
    env = {"REDIS_URL": own_redis.url, "REALTIME_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS)}
    one, two = start(env=env), start(env=env)
    ana = Tab(one.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(two.live, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)
    conversation = for_ana["conversation"]
    relays_both_ways(ana, ben, conversation, "before")

    two.terminate()
    assert closed_with(ben) == CLOSE_SERVICE_RESTART
    assert two.wait() in STOPPED_BY_SIGTERM

    # Ana hears Ben dropped, then that he is back, on another process.
    assert ana.receive_type("call.partner_away")["grace_seconds"] == GRACE_SECONDS
    # Behind a proxy the page's origin is the same whichever process serves
    # it; here each process has a port, and so an origin, of its own.
    ben.origin = one.live.origin
    ready = ben.reconnect(one.live)
    assert ready["resumed"] is True
    ana.receive_type("call.partner_back")
    relays_both_ways(ana, ben, conversation, "after")
    assert conversation_state(conversation) == ("active", "")

    # Longer than the grace period: nothing ends a call whose tab came back.
    time.sleep(GRACE_SECONDS + 1.5)
    relays_both_ways(ana, ben, conversation, "later")
    assert conversation_state(conversation) == ("active", "")


def test_a_tab_that_does_not_come_back_ends_its_call_as_disconnected_after_the_grace(
    own_redis: OwnRedis,  # noqa: F811
    start: Start,
    sphere: Sphere,
) -> None:
    env = {"REDIS_URL": own_redis.url, "REALTIME_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS)}
    one, two = start(env=env), start(env=env)
    ana = Tab(one.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(two.live, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)
    conversation = for_ana["conversation"]

    stopped = time.monotonic()
    two.terminate()
    assert closed_with(ben) == CLOSE_SERVICE_RESTART
    assert two.wait() in STOPPED_BY_SIGTERM

    away = ana.receive_type("call.partner_away")
    assert away["grace_seconds"] == GRACE_SECONDS
    ended = ana.receive_type("call.ended")
    waited = time.monotonic() - stopped
    assert (ended["reason"], ended["by_me"]) == ("disconnected", False)
    assert GRACE_SECONDS <= waited < GRACE_SECONDS + RECEIVE_LIMIT_SECONDS
    assert conversation_state(conversation) == ("ended", "disconnected")


def test_a_lone_process_ends_its_calls_as_it_stops(start: Start, sphere: Sphere) -> None:
    alone = start(env={})  # no REDIS_URL: one process, everything in its memory
    ana = Tab(alone.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(alone.live, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)

    alone.terminate()
    assert closed_with(ana) == CLOSE_SERVICE_RESTART
    assert closed_with(ben) == CLOSE_SERVICE_RESTART
    assert alone.wait() in STOPPED_BY_SIGTERM
    assert conversation_state(for_ana["conversation"]) == ("ended", "disconnected")
    assert not Conversation.objects.active().exists()
