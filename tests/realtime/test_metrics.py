"""/metrics: what an operator's scraper reads, and who may read it."""

from __future__ import annotations

import http.client
import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families

from chatspheres.realtime.metrics_endpoint import may_scrape
from chatspheres.realtime.registry import registry
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.procs import ServerProcesses, server_processes  # noqa: F401
from tests.realtime.wsclient import Tab, match, signal
from tests.redis_support import OwnRedis, own_redis  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

BOTH_ROUTES = pytest.mark.parametrize("live_server", ["lane", "asgi"], indirect=True)

# Bounds a hang; it does not time the server.
HTTP_LIMIT_SECONDS = 10


def fetch(
    server: LiveServer, path: str, headers: dict[str, str] | None = None
) -> tuple[int, str, str]:
    """``(status, content type, body)`` of a GET to the test server."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=HTTP_LIMIT_SECONDS)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        connection.close()


Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(server: LiveServer) -> Samples:
    """Every sample of a scrape, keyed by name and labels."""
    status, content_type, body = fetch(server, "/metrics")
    assert status == 200, body
    assert content_type.startswith("text/plain; version=")
    samples: Samples = {}
    for family in text_string_to_metric_families(body):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@BOTH_ROUTES
def test_a_scrape_after_a_match_shows_sockets_queue_waits_calls_and_relays(
    live_server: LiveServer, sphere: Sphere
) -> None:
    """Figures move by what happened (other tests of this process share the counters)."""
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    before = scrape(live_server)
    pool = str(sphere.pk)

    ana.send({"type": "queue.join", "sphere": sphere.pk})
    ana.receive_type("queue.waiting")
    waiting = scrape(live_server)
    assert value(waiting, "chatspheres_tabs_waiting", sphere=pool) == 1

    ben.send({"type": "queue.join", "sphere": sphere.pk})
    for_ana, _for_ben = ana.receive_type("match.found"), ben.receive_type("match.found")
    conversation = for_ana["conversation"]
    for note in ("one", "two", "three"):
        ana.send(signal(conversation, note))
        assert note in ben.receive_type("signal")["data"]["candidate"]["candidate"]
    ben.send({"type": "media.state", "conversation": conversation, "audio": True, "video": False})
    ana.receive_type("media.state")
    after = scrape(live_server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert value(after, "chatspheres_sockets_open") >= 2
    assert moved("chatspheres_sockets_open") == 0  # both were open before the first scrape
    assert value(after, "chatspheres_tabs_waiting", sphere=pool) == 0
    # Ana waited a moment, Ben not at all: two waits, both under a second.
    assert moved("chatspheres_wait_seconds_count") == 2
    assert moved("chatspheres_wait_seconds_bucket", le="1.0") == 2
    assert 0 <= moved("chatspheres_wait_seconds_sum") < 1
    assert moved("chatspheres_active_calls") == 1
    # Three signals and a media state, whichever route they took.
    assert moved("chatspheres_relayed_frames_total") == 4

    ana.send({"type": "call.end", "conversation": conversation, "reason": "ended"})
    ana.receive_type("call.ended")
    ben.receive_type("call.ended")
    assert moved_between(before, scrape(live_server), "chatspheres_active_calls") == 0
    ana.close()
    ben.close()


def moved_between(before: Samples, after: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def failing_chat_handler() -> Iterator[None]:
    """The chat handler fails as a bug would (the test server runs in this process)."""
    schema = registry.schemas["chat.send"]
    original = registry.handlers[schema]

    async def broken(_tab: Any, _message: Any, _text: str) -> None:
        raise RuntimeError("a bug in the chat handler")

    registry.handlers[schema] = broken
    try:
        yield
    finally:
        registry.handlers[schema] = original


def test_a_failing_handler_is_counted_by_type(
    live_server: LiveServer, sphere: Sphere, failing_chat_handler: None
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)
    before = scrape(live_server)
    ana.send({"type": "chat.send", "conversation": for_ana["conversation"], "text": "hello"})
    assert ana.receive_type("error")["code"] == "internal"
    after = scrape(live_server)
    assert moved_between(before, after, "chatspheres_handler_errors_total", type="chat.send") == 1
    ana.close()
    ben.close()


@pytest.fixture
def proxy_on_this_machine(settings: Any) -> None:
    settings.TRUSTED_PROXIES = ["127.0.0.1"]


def test_anyone_else_gets_404(
    proxy_on_this_machine: None, live_server: LiveServer, settings: Any
) -> None:
    # A request a proxy on this machine forwarded for someone on the internet.
    status, _type, body = fetch(live_server, "/metrics", headers={"X-Forwarded-For": "203.0.113.7"})
    assert (status, "chatspheres" in body) == (404, False)

    # Loopback itself, once the list names only the monitoring network.
    settings.METRICS_ALLOWED_ADDRESSES = ["192.0.2.0/24"]
    status, _type, body = fetch(live_server, "/metrics")
    assert (status, "chatspheres" in body) == (404, False)
    status, _type, body = fetch(live_server, "/metrics", headers={"X-Forwarded-For": "192.0.2.10"})
    assert status == 200 and "chatspheres_sockets_open" in body


def test_a_forwarded_address_counts_only_from_a_trusted_proxy(
    live_server: LiveServer, settings: Any
) -> None:
    settings.METRICS_ALLOWED_ADDRESSES = ["192.0.2.0/24"]
    # No TRUSTED_PROXIES: the header is anyone's claim, the address is loopback's.
    status, _type, _body = fetch(live_server, "/metrics", headers={"X-Forwarded-For": "192.0.2.10"})
    assert status == 404


def test_the_address_list_takes_addresses_and_networks_and_fails_closed() -> None:
    allowed = ["127.0.0.1", "::1", "10.1.0.0/16"]
    assert may_scrape("127.0.0.1", allowed)
    assert may_scrape("::1", allowed)
    assert may_scrape("::ffff:127.0.0.1", allowed)
    assert may_scrape("10.1.200.3", allowed)
    assert not may_scrape("10.2.0.1", allowed)
    assert not may_scrape("127.0.0.2", allowed)
    assert not may_scrape("", allowed)
    assert not may_scrape("/run/chatspheres.sock", allowed)
    # A typo opens nothing: the bad entry is ignored, the good ones still count.
    assert not may_scrape("10.0.0.1", ["10.0.0.0/33"])
    assert may_scrape("127.0.0.1", ["not an address", "127.0.0.1"])


def sockets_open_by_worker(folder: Path) -> dict[int, float]:
    """Each worker's own count of open sockets, read from its metrics file.

    Reads prometheus_client's file format (``MmapedDict``): the test has to
    know which worker holds which socket, and no scrape says that.
    """
    from prometheus_client.mmap_dict import MmapedDict

    counts = {}
    for path in folder.glob("gauge_livesum_*.db"):
        pid = int(path.stem.rsplit("_", 1)[1])
        for key, found, _timestamp, _position in MmapedDict.read_all_values_from_file(str(path)):
            if json.loads(key)[0] == "chatspheres_sockets_open":
                counts[pid] = found
    return counts


def test_one_scrape_covers_every_worker(
    own_redis: OwnRedis,  # noqa: F811
    server_processes: ServerProcesses,  # noqa: F811
    sphere: Sphere,
) -> None:
    (served,) = server_processes.start(
        env={"REDIS_URL": own_redis.url}, arguments=("--workers", "2")
    )
    folder = Path(settings.VAR_DIR) / "prometheus" / str(served.port)
    try:
        _scrape_while_both_workers_hold_sockets(served.live, folder, sphere)
    finally:
        served.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _scrape_while_both_workers_hold_sockets(live: LiveServer, folder: Path, sphere: Sphere) -> None:
    deadline = time.monotonic() + 30
    while len(sockets_open_by_worker(folder)) < 2:
        assert time.monotonic() < deadline, "two workers did not start"
        time.sleep(0.1)

    # Open sockets until both workers hold some (the kernel picks who accepts).
    members = [make_member(f"m{n}@example.com", spheres=(sphere,)) for n in range(3)]
    tabs: list[Tab] = []
    while len(tabs) < 6 or min(sockets_open_by_worker(folder).values()) == 0:
        assert len(tabs) < 24, f"one worker took every socket: {sockets_open_by_worker(folder)}"
        tabs.append(Tab(live, members[len(tabs) % 3]))
    by_worker = sockets_open_by_worker(folder)
    assert sum(by_worker.values()) == len(tabs)

    # Whichever worker answers, the scrape counts every worker's sockets.
    for _ in range(8):
        assert value(scrape(live), "chatspheres_sockets_open") == len(tabs)

    for tab in tabs:
        tab.close()
    deadline = time.monotonic() + 10
    while value(scrape(live), "chatspheres_sockets_open") != 0:
        assert time.monotonic() < deadline, "closed sockets still counted"
        time.sleep(0.1)
