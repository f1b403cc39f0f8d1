"""``/healthz`` and ``/readyz``: alive whatever happens; ready when the database and hub answer."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connections

from chatspheres.asgi import application
from chatspheres.realtime import health
from chatspheres.realtime.hub import MemoryHub
from tests.conftest import LiveServer

# A reply that takes longer than this means the test failed; it bounds a hang.
REPLY_LIMIT_SECONDS = 10


def get(url: str, method: str = "GET") -> tuple[int, str]:
    """Status and body of a plain request."""
    request = urllib.request.Request(url, method=method)  # noqa: S310 (http only)
    try:
        with urllib.request.urlopen(request, timeout=REPLY_LIMIT_SECONDS) as response:  # noqa: S310
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def call(path: str, method: str = "GET") -> tuple[int, dict[bytes, bytes], str]:
    """Status, headers and body of one request to the ASGI application, without a server."""
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(application(scope, receive, send))
    start, body = sent[0], sent[1]
    return start["status"], dict(start["headers"]), body["body"].decode()


class UnreadyHub(MemoryHub):
    """A hub whose backing service does not answer."""

    async def ready(self) -> bool:
        return False


class HangingHub(MemoryHub):
    """A hub whose backing service never answers at all."""

    async def ready(self) -> bool:
        await asyncio.Event().wait()
        return True


@pytest.fixture
def broken_database(transactional_db: None) -> Iterator[None]:
    """The database unreachable for new connections (as if its server were gone)."""
    settings = connections.settings["default"]
    original = settings["NAME"]
    if settings["ENGINE"].endswith("sqlite3"):
        settings["NAME"] = "/nonexistent/folder/chatspheres.sqlite3"
    else:
        settings["NAME"] = "chatspheres_no_such_database"
    try:
        yield
    finally:
        settings["NAME"] = original


def test_a_live_process_is_healthy_and_ready(live_server: LiveServer) -> None:
    assert get(f"{live_server.url}/healthz") == (200, "ok\n")
    assert get(f"{live_server.url}/readyz") == (200, "ready\n")
    assert get(f"{live_server.url}/healthz", method="HEAD") == (200, "")


def test_healthz_needs_neither_database_nor_hub(broken_database: None) -> None:
    status, headers, body = call("/healthz")
    assert (status, body) == (200, "ok\n")
    assert headers[b"content-type"] == b"text/plain; charset=utf-8"
    assert headers[b"cache-control"] == b"no-store"


def test_readyz_says_the_database_does_not_answer(
    broken_database: None, caplog: pytest.LogCaptureFixture
) -> None:
    status, _headers, body = call("/readyz")
    assert status == 503
    assert body == "not ready: the database does not answer\n"
    # The database refused, not the test harness (which forbids access without a marker).
    assert "OperationalError" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_readyz_needs_a_running_hub() -> None:
    # No server runs here: the runtime (and its hub) was never started.
    status, _headers, body = call("/readyz")
    assert (status, body) == (503, "not ready: the real-time runtime is not running\n")


@pytest.mark.django_db(transaction=True)
def test_readyz_says_the_hub_does_not_answer() -> None:
    assert asyncio.run(health.readiness_problem(MemoryHub())) is None
    assert asyncio.run(health.readiness_problem(UnreadyHub())) == "the hub (Redis) does not answer"


@pytest.mark.django_db(transaction=True)
def test_readyz_gives_up_on_a_hub_that_hangs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "CHECK_LIMIT_SECONDS", 0.1)
    problem = asyncio.run(health.readiness_problem(HangingHub()))
    assert problem == "the hub (Redis) does not answer in time"
