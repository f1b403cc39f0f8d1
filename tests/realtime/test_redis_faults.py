"""Redis going away and coming back, against a redis-server of the test's own.

First the hub on its own: while Redis is down its calls raise redis-py's
``ConnectionError`` (the gateway answers ``unavailable``); when Redis comes
back empty the hub subscribes again, writes its state again and says so.

Then the whole site: two server processes on two ports share the Redis and
the test database. Redis restarts ten times while tabs are connected, people
queue and signals are relayed; no process exits, no socket is lost, and
matching works again within 5 s each time. While Redis is down pages still
render, ``queue.join`` is refused in words, and ``/readyz`` says 503 while
``/healthz`` says 200.

Every wait is bounded; it never times the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from chatspheres.realtime.hub import Envelope
from chatspheres.realtime.redis_hub import RedisHub, redis_client
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member, session_cookie
from tests.realtime.procs import ServerProcess, ServerProcesses, server_processes  # noqa: F401
from tests.realtime.wsclient import Tab, signal
from tests.redis_support import OwnRedis, own_redis  # noqa: F401

# How soon after Redis is back matching must work again (the promise).
RECOVERY_LIMIT_SECONDS = 5.0
# A bound on waits that are not promises, only guards against a hang.
WAIT_LIMIT_SECONDS = 10.0
RESTARTS = 10


# The hub on its own -------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.got: list[Envelope] = []

    async def deliver(self, envelope: Envelope) -> None:
        self.got.append(envelope)

    def deliver_now(self, envelope: Envelope) -> bool:
        self.got.append(envelope)
        return True


async def until(condition: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not await condition():
        assert time.monotonic() < deadline, f"{what} did not happen"
        await asyncio.sleep(0.02)


def test_a_hub_refuses_while_redis_is_down_and_restores_itself_after(
    own_redis: OwnRedis,  # noqa: F811
) -> None:
    async def scenario() -> None:
        client = redis_client(own_redis.url)
        hub = RedisHub(client, url=own_redis.url, prefix="t:", process_ttl=0.5, reconnect_grace=20)
        restorations: list[float] = []

        async def restored() -> None:
            restorations.append(time.monotonic())

        hub.on_restored = restored
        await hub.start()
        inbox = Recorder()
        await hub.subscribe("user:1", inbox)
        await hub.presence_add("sphere:1", 1)
        await hub.tab_attach("tab", 1, "socket")

        own_redis.stop()
        assert await hub.ready() is False
        with pytest.raises(RedisConnectionError):
            await hub.presence_counts(["sphere:1"])
        with pytest.raises(RedisConnectionError):
            await hub.publish("user:1", Envelope('{"type":"x"}', "x"))
        with pytest.raises(RedisConnectionError):
            await hub.tab_attach("other", 2, "s")
        assert hub.publish_now("tab:elsewhere", Envelope('{"type":"x"}', "x")) is True
        await asyncio.sleep(0.6)  # background tasks keep failing, quietly

        own_redis.start()  # empty, as after a crash
        await until(lambda: _true(len(restorations) == 1), "restoring")
        assert await hub.ready() is True
        assert await hub.presence_counts(["sphere:1"]) == {"sphere:1": 1}
        assert await hub.tabs_alive(["tab"]) == {"tab"}

        async def delivered() -> bool:
            await hub.publish("user:1", Envelope('{"type":"back"}', "back"))
            return bool(inbox.got)

        await until(delivered, "delivery after the restart")
        await hub.stop()
        await client.aclose()

    asyncio.run(scenario())


async def _true(value: bool) -> bool:
    return value


# The site ------------------------------------------------------------------------------


@pytest.fixture
def opened() -> Iterator[list[Tab]]:
    """Tabs to drop when the test ends (asked for after the servers: dropped before they stop)."""
    tabs: list[Tab] = []
    yield tabs
    for tab in tabs:
        # Dropped rather than closed: a closing handshake would wait behind
        # the frames the test never read.
        with contextlib.suppress(Exception):
            tab.drop()


def redis_env(server: OwnRedis) -> dict[str, str]:
    return {"REDIS_URL": server.url, "REDIS_KEY_PREFIX": "fault:"}


def next_frame(tab: Tab, deadline: float) -> dict[str, Any] | None:
    """The tab's next frame, or None when none came before ``deadline``."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return None
    try:
        message = tab.ws.recv(timeout=remaining)
    except TimeoutError:
        return None
    frame = json.loads(message)
    assert isinstance(frame, dict)
    if "id" in frame:
        tab.last_event_id = max(tab.last_event_id, frame.pop("id"))
    return frame


def wait_for(tab: Tab, kind: str, deadline: float) -> dict[str, Any] | None:
    """Read until a frame of type ``kind`` (others are skipped); None if none came in time."""
    while True:
        frame = next_frame(tab, deadline)
        if frame is None or frame["type"] == kind:
            return frame


def join_queue(tab: Tab, sphere: Sphere, deadline: float) -> str:
    """Send queue.join until the queue answers (not ``unavailable``); the answer's type."""
    while time.monotonic() < deadline:
        tab.send({"type": "queue.join", "sphere": sphere.pk})
        while True:
            frame = next_frame(tab, deadline)
            if frame is None:
                break
            if frame["type"] in ("queue.waiting", "match.found"):
                return str(frame["type"])
            if frame["type"] == "error" and frame["code"] == "unavailable":
                time.sleep(0.05)
                break
    raise AssertionError(f"queue.join was not answered by {tab.server.url}")


def relayed(sender: Tab, receiver: Tab, conversation: str, note: str, deadline: float) -> bool:
    """Whether a signal from ``sender`` reaches ``receiver`` in time (resent until it does)."""
    sent = itertools.count()
    while time.monotonic() < deadline:
        sender.send(signal(conversation, f"{note}-{next(sent)}"))
        frame = wait_for(receiver, "signal", min(deadline, time.monotonic() + 0.2))
        if frame is not None and note in frame["data"]["candidate"]["candidate"]:
            return True
    return False


def still_open(tab: Tab, sphere: Sphere) -> None:
    """The socket answers (a sphere.enter gets the sphere's counts back)."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    tab.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert wait_for(tab, "sphere.presence", deadline) is not None, f"tab {tab.id} is silent"


def assert_all_alive(servers: list[ServerProcess]) -> None:
    for server in servers:
        assert server.alive(), f"{server.name} exited:\n{server.log()}"


@pytest.mark.django_db(transaction=True)
def test_ten_redis_restarts_during_activity_lose_no_process_no_socket_and_no_queue(
    own_redis: OwnRedis,  # noqa: F811 (first: it must outlive the servers)
    server_processes: ServerProcesses,  # noqa: F811
    opened: list[Tab],
    sphere: Sphere,
) -> None:
    servers = server_processes.start(2, env=redis_env(own_redis))
    first, second = servers
    ana = Tab(first.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(second.live, make_member("ben@example.com", spheres=(sphere,)))
    opened += [ana, ben]
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    assert join_queue(ana, sphere, deadline) == "queue.waiting"
    assert join_queue(ben, sphere, deadline) == "match.found"
    found = wait_for(ana, "match.found", deadline)
    assert found is not None
    conversation = found["conversation"]

    for round_number in range(RESTARTS):
        # Someone waits on one process when Redis goes.
        hosts = (first, second) if round_number % 2 == 0 else (second, first)
        waiter = Tab(
            hosts[0].live, make_member(f"wait{round_number}@example.com", spheres=(sphere,))
        )
        arrival = Tab(
            hosts[1].live, make_member(f"come{round_number}@example.com", spheres=(sphere,))
        )
        opened += [waiter, arrival]
        assert join_queue(waiter, sphere, time.monotonic() + WAIT_LIMIT_SECONDS) == "queue.waiting"
        ana.send(signal(conversation, f"during-{round_number}"))  # relayed, or lost with Redis

        own_redis.restart()  # killed, then started empty
        back = time.monotonic()
        recovered = back + RECOVERY_LIMIT_SECONDS

        # The queue works again: the one who waited is paired with a newcomer.
        if join_queue(arrival, sphere, recovered) == "queue.waiting":
            assert wait_for(arrival, "match.found", recovered) is not None, (
                f"round {round_number}: the newcomer was not paired within "
                f"{RECOVERY_LIMIT_SECONDS} s"
            )
        assert wait_for(waiter, "match.found", recovered) is not None, (
            f"round {round_number}: the one who waited was not paired again"
        )
        # Signals cross between the processes again.
        note = f"round-{round_number}"
        assert relayed(ana, ben, conversation, note, recovered), f"{note}: ana to ben"
        assert relayed(ben, ana, conversation, note, recovered), f"{note}: ben to ana"
        assert_all_alive(servers)

    for tab in opened:
        still_open(tab, sphere)
    assert_all_alive(servers)
    for server in servers:
        # One warning per failure, not a traceback for every call.
        assert "Traceback" not in server.log(), server.log()


@pytest.mark.django_db(transaction=True)
def test_while_redis_is_down_pages_render_the_queue_refuses_in_words_and_readyz_says_503(
    own_redis: OwnRedis,  # noqa: F811 (first: it must outlive the servers)
    server_processes: ServerProcesses,  # noqa: F811
    opened: list[Tab],
    sphere: Sphere,
) -> None:
    servers = server_processes.start(2, env=redis_env(own_redis))
    member = make_member("ana@example.com", spheres=(sphere,))
    cookie = session_cookie(member)
    tab = Tab(servers[0].live, member, cookie=cookie)
    away = Tab(servers[1].live, member, cookie=cookie)
    opened += [tab, away]
    for server in servers:
        assert server.fetch("/readyz") == (200, "ready\n")

    own_redis.stop()
    try:
        # A new socket, and a dropped one coming back, are told to try again.
        code, reason = closed_at_once(servers[0], cookie)
        assert code == 1013
        assert (
            reason
            == "ChatSpheres can't reach a service it needs right now; this page reconnects soon."
        )
        away.drop()
        code, _reason = closed_at_once(servers[1], cookie, resume=(away.id, away.last_event_id))
        assert code == 1013

        for server in servers:
            assert server.get("/", cookie=cookie) == 200
            assert server.get(f"/spheres/{sphere.slug}/", cookie=cookie) == 200
            assert server.get("/") == 200  # signed out too
            assert server.fetch("/healthz") == (200, "ok\n")
            status, body = server.fetch("/readyz")
            assert status == 503
            assert body == "not ready: the hub (Redis) does not answer\n"

        tab.send({"type": "queue.join", "sphere": sphere.pk})
        refusal = wait_for(tab, "error", time.monotonic() + WAIT_LIMIT_SECONDS)
        assert refusal is not None
        assert refusal["code"] == "unavailable"
        assert refusal["message"] == (
            "ChatSpheres can't reach a service it needs right now. Please try again in a moment."
        )
        assert_all_alive(servers)
    finally:
        own_redis.start()

    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    for server in servers:
        while server.fetch("/readyz")[0] != 200:
            assert time.monotonic() < deadline, f"{server.name} is not ready again"
            time.sleep(0.05)
    assert join_queue(tab, sphere, time.monotonic() + RECOVERY_LIMIT_SECONDS) == "queue.waiting"
    # The process wrote the tab that dropped back to Redis (as lost): it resumes.
    known = redis.Redis.from_url(own_redis.url)
    try:
        while not known.exists(f"fault:tab:{away.id}"):
            assert time.monotonic() < deadline, "the lost tab was not restored"
            time.sleep(0.05)
    finally:
        known.close()
    assert away.reconnect()["resumed"] is True
    assert_all_alive(servers)


def closed_at_once(
    server: ServerProcess, cookie: str, resume: tuple[str, int] | None = None
) -> tuple[int, str]:
    """The close code and reason of a socket the server accepts only to close."""
    url = server.live.ws_url
    if resume is not None:
        url += f"?tab={resume[0]}&last_event_id={resume[1]}"
    with (
        connect(
            url,
            origin=server.url,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            open_timeout=WAIT_LIMIT_SECONDS,
        ) as socket,
        pytest.raises(ConnectionClosed) as closed,
    ):
        socket.recv(timeout=WAIT_LIMIT_SECONDS)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason
