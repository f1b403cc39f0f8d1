"""Redis for tests: the shared server under a private key prefix, or a server of the test's own.

Two kinds of test need Redis:

* contract tests (hub, matcher) run against the machine's shared Redis named by
  ``TEST_REDIS_URL`` (or ``REDIS_URL``), each under a key prefix of its own that
  is deleted afterwards. Without either variable they are skipped with the
  reason shown; under ``CI=true`` that is a failure instead.
* fault tests stop and restart Redis, so they start a ``redis-server`` of their
  own on a free loopback port and never touch the shared one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# Bounds a hang while a server starts or stops; it does not time anything.
START_LIMIT_SECONDS = 10


def shared_redis_url() -> str:
    """The shared Redis the contract tests may use, or a skip (a failure under CI=true)."""
    url = os.environ.get("TEST_REDIS_URL") or os.environ.get("REDIS_URL")
    if not url:
        reason = "TEST_REDIS_URL is not set: the Redis half of the contract suite was not run"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return url


def unique_prefix() -> str:
    """A key prefix no other test (or test run) shares."""
    return f"test:{uuid.uuid4().hex[:12]}:"


def delete_prefix(url: str, prefix: str) -> None:
    """Delete every key under ``prefix`` on the server at ``url``."""
    import redis

    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
    finally:
        client.close()


def redis_server_binary() -> str:
    """The redis-server program, or a skip (a failure under CI=true)."""
    path = shutil.which("redis-server")
    if path is None:
        reason = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class OwnRedis:
    """A ``redis-server`` that belongs to one test: it may stop and start it at will."""

    def __init__(self, binary: str, *, bind: str = "127.0.0.1", port: int | None = None) -> None:
        self.binary = binary
        self.bind = bind
        self.port = port or _free_loopback_port()
        self.folder = Path(tempfile.mkdtemp(prefix="chatspheres-redis-"))
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.bind}:{self.port}/0"

    def start(self) -> None:
        """Start the server (nothing kept on disk) and wait until it answers."""
        assert self.process is None, "already running"
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                self.bind,
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.folder),
                "--protected-mode",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.bind, self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"redis-server did not start on {self.bind}:{self.port}")

    def stop(self) -> None:
        """Stop the server at once (its data is gone, as after a crash)."""
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        process.wait(timeout=START_LIMIT_SECONDS)

    def restart(self) -> None:
        self.stop()
        self.start()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def shared_redis() -> Iterator[tuple[str, str]]:
    """``(url, prefix)``: the shared Redis and a key prefix deleted after the test."""
    url = shared_redis_url()
    prefix = unique_prefix()
    try:
        yield url, prefix
    finally:
        delete_prefix(url, prefix)


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    """A running ``redis-server`` of this test's own, on a free loopback port."""
    server = OwnRedis(redis_server_binary())
    server.start()
    try:
        yield server
    finally:
        server.close()
