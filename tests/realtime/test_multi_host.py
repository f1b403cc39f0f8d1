"""Two hosts, one site: a call between browsers served by server processes on different machines.

Each host is a network namespace with its own address on a bridge; the
browsers run in the root namespace and reach the hosts over the bridge, as
people reach two machines behind no proxy. The hosts share PostgreSQL (a
database of this test's own, reached through a socat relay on the bridge) and
a Redis server of this test's own bound to the bridge address.

One journey, one pair of browsers: Alice on host A meets Bob on host B; video
decodes both ways and chat crosses hosts; both hosts count the same people
online. Host B's process is killed with -9: Alice's call ends as
`disconnected` after the grace period and Bob leaves the online counts. Host
B comes back, Bob's page with it; logging Bob out on host A closes his socket
on host B with 4001.

Needs root (namespaces), `ip`, `socat`, `redis-server`, PostgreSQL
(``TEST_DATABASE_URL``) and Chromium; without one of them it is skipped with
the reason, and under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.chromium import CHROMIUM_FLAGS, find_chromium
from tests.browser.conftest import Participant, say
from tests.browser.test_call_journey import status
from tests.redis_support import OwnRedis

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
PORT = 8000
# Short, so that the journey's waits stay short (the defaults are 20 and 10).
GRACE_SECONDS = 3
PROCESS_TTL_SECONDS = 3
# Bounds a hang while something starts or stops; it does not time anything.
START_LIMIT_SECONDS = 60
STOP_LIMIT_SECONDS = 20

# Resolves true once this page decodes the partner's video.
VIDEO_DECODES = """async () => {
  const pc = window.chatspheres && window.chatspheres.pc;
  if (!pc) return false;
  const stats = await pc.getStats();
  let decoded = 0;
  stats.forEach((report) => {
    if (report.type === "inbound-rtp" && report.kind === "video") decoded = report.framesDecoded;
  });
  return decoded > 0;
}"""

# Every WebSocket the page opens records how it closed, before the page's own scripts run.
RECORD_SOCKET_CLOSES = """(() => {
  const Native = window.WebSocket;
  window.__socketCloses = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      const url = String(args[0]);
      this.addEventListener("close", (event) => {
        window.__socketCloses.push({ url, code: event.code, at: Date.now() });
      });
    }
  };
})();"""


def unavailable(reason: str) -> None:
    """Skip with the reason; under CI=true the test must run, so fail instead."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def run(*command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(command), capture_output=True, text=True, timeout=START_LIMIT_SECONDS, check=check
    )


# The network ------------------------------------------------------------------------


@dataclass
class Host:
    name: str
    namespace: str
    address: str

    @property
    def url(self) -> str:
        return f"http://{self.address}:{PORT}"


@dataclass
class BridgeNetwork:
    """A bridge in the root namespace and one namespace per host, each on a veth pair."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = 0
    hosts: list[Host] = field(default_factory=list)
    _made: list[list[str]] = field(default_factory=list)  # undo commands, newest last

    @property
    def bridge(self) -> str:
        return f"csbr{self.tag}"

    @property
    def gateway(self) -> str:
        """The root namespace's address on the bridge: where the hosts find Redis and PostgreSQL."""
        return f"10.77.{self.subnet}.1"

    def create(self, names: list[str]) -> None:
        self.subnet = _free_subnet()
        self._step(
            ["ip", "link", "add", self.bridge, "type", "bridge"],
            undo=["ip", "link", "del", self.bridge],
        )
        self._step(["ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge])
        self._step(["ip", "link", "set", self.bridge, "up"])
        for index, name in enumerate(names, start=2):
            host = Host(
                name=name, namespace=f"cs-{self.tag}-{name}", address=f"10.77.{self.subnet}.{index}"
            )
            inside, outside = f"csh{self.tag}{index}", f"csp{self.tag}{index}"
            # Deleting a namespace deletes the veth inside it, and its peer with it.
            self._step(
                ["ip", "netns", "add", host.namespace], undo=["ip", "netns", "del", host.namespace]
            )
            self._step(["ip", "link", "add", inside, "type", "veth", "peer", "name", outside])
            self._step(["ip", "link", "set", inside, "netns", host.namespace])
            self._step(["ip", "link", "set", outside, "master", self.bridge, "up"])
            ns = ["ip", "netns", "exec", host.namespace]
            self._step([*ns, "ip", "addr", "add", f"{host.address}/24", "dev", inside])
            self._step([*ns, "ip", "link", "set", inside, "up"])
            self._step([*ns, "ip", "link", "set", "lo", "up"])
            self.hosts.append(host)

    def _step(self, command: list[str], undo: list[str] | None = None) -> None:
        run(*command)
        if undo is not None:
            self._made.append(undo)

    def destroy(self) -> None:
        for command in reversed(self._made):
            run(*command, check=False)
        self._made.clear()


def _free_subnet() -> int:
    used = run("ip", "-4", "-o", "addr", "show").stdout
    for _ in range(100):
        candidate = secrets.randbelow(250) + 1
        if f"10.77.{candidate}." not in used:
            return candidate
    raise RuntimeError("no free 10.77.x.0/24 subnet")


@pytest.fixture
def network() -> Iterator[BridgeNetwork]:
    if _runs_on_postgresql():
        pytest.skip("the multi-host journey runs once, in `make test`; it always uses PostgreSQL")
    if sys.platform != "linux" or os.geteuid() != 0:
        unavailable("the multi-host test needs root on Linux to make network namespaces")
    for program in ("ip", "socat"):
        if shutil.which(program) is None:
            unavailable(f"{program} is not installed (Debian: apt-get install iproute2 socat)")
    made = BridgeNetwork()
    try:
        made.create(["a", "b"])
    except subprocess.CalledProcessError as error:
        made.destroy()
        unavailable(f"network namespaces cannot be made here: {error.stderr.strip()}")
    try:
        yield made
    finally:
        made.destroy()


# The services both hosts share ------------------------------------------------------


@pytest.fixture
def bridge_redis(network: BridgeNetwork) -> Iterator[OwnRedis]:
    """A redis-server of this test's own, bound to the bridge address."""
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis-server is not installed (Debian: apt-get install redis-server)")
    assert binary is not None
    server = OwnRedis(binary, bind=network.gateway)
    server.start()
    try:
        yield server
    finally:
        server.close()


@dataclass
class Database:
    admin_url: str  # on 127.0.0.1, for this test
    name: str

    def url(self, host: str, port: int) -> str:
        parts = urlsplit(self.admin_url)
        user = f"{parts.username}@" if parts.username else ""
        if parts.password:
            user = f"{parts.username}:{parts.password}@"
        return urlunsplit(("postgres", f"{user}{host}:{port}", f"/{self.name}", "", ""))

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        import psycopg

        parts = urlsplit(self.admin_url)
        url = self.url(parts.hostname or "127.0.0.1", parts.port or 5432)
        with psycopg.connect(url, autocommit=True) as connection:
            return connection.execute(sql).fetchall()


@pytest.fixture
def database() -> Iterator[Database]:
    """A PostgreSQL database of this test's own, migrated, with the demo spheres."""
    admin_url = os.environ.get("TEST_DATABASE_URL", "")
    if not admin_url.startswith(("postgres://", "postgresql://")):
        unavailable("TEST_DATABASE_URL (a PostgreSQL server) is not set: the multi-host test")
    import psycopg

    name = f"chatspheres_multihost_{secrets.token_hex(4)}"
    try:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as error:
        unavailable(f"PostgreSQL at TEST_DATABASE_URL does not answer: {error}")
    made = Database(admin_url=admin_url, name=name)
    try:
        parts = urlsplit(admin_url)
        env = server_environment(DATABASE_URL=made.url(parts.hostname or "", parts.port or 5432))
        for command in (["migrate", "--noinput"], ["load_demo"]):
            subprocess.run(
                [sys.executable, "manage.py", *command],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                timeout=START_LIMIT_SECONDS * 3,
            )
        yield made
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _runs_on_postgresql() -> bool:
    from django.conf import settings

    return bool(settings.DATABASES["default"]["ENGINE"].endswith("postgresql"))


@pytest.fixture
def postgres_relay(network: BridgeNetwork, database: Database) -> Iterator[int]:
    """socat on the bridge address, relaying to PostgreSQL (which listens on 127.0.0.1 only)."""
    parts = urlsplit(database.admin_url)
    port = _free_port()
    relay = subprocess.Popen(
        [
            "socat",
            f"TCP-LISTEN:{port},bind={network.gateway},reuseaddr,fork",
            f"TCP:{parts.hostname}:{parts.port or 5432}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(network.gateway, port)
        yield port
    finally:
        relay.terminate()
        relay.wait(timeout=STOP_LIMIT_SECONDS)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(address: str, port: int) -> None:
    deadline = time.monotonic() + START_LIMIT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((address, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {address}:{port}")


# The server processes -----------------------------------------------------------------


def server_environment(**overrides: str) -> dict[str, str]:
    """The environment of a server process: this one's, minus anything test-specific."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTEST", "TEST_", "PROMETHEUS", "REDIS", "DATABASE", "REALTIME"))
    }
    env.update(DJANGO_SETTINGS_MODULE="chatspheres.settings", UVICORN_LOG_LEVEL="warning")
    env.update(overrides)
    return env


@dataclass
class HostServer:
    """``python -m chatspheres.server`` inside a host's namespace."""

    host: Host
    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    "ip",
                    "netns",
                    "exec",
                    self.host.namespace,
                    sys.executable,
                    "-m",
                    "chatspheres.server",
                    "--host",
                    self.host.address,
                    "--port",
                    str(PORT),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_LIMIT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"host {self.host.name}'s server exited:\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if get(self.host, "/readyz")[0] == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError(f"host {self.host.name}'s server did not start:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: the process ends at once, closing nothing of its own accord."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_LIMIT_SECONDS)

    def stop(self) -> None:
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_LIMIT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STOP_LIMIT_SECONDS)

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


def get(host: Host, path: str, cookie: str = "") -> tuple[int, str]:
    connection = http.client.HTTPConnection(host.address, PORT, timeout=10)
    try:
        connection.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = connection.getresponse()
        return response.status, response.read().decode(errors="replace")
    finally:
        connection.close()


@pytest.fixture
def servers(
    network: BridgeNetwork, bridge_redis: OwnRedis, database: Database, postgres_relay: int
) -> Iterator[dict[str, HostServer]]:
    folder = Path(tempfile.mkdtemp(prefix="chatspheres-multihost-"))
    shared = {
        "DATABASE_URL": database.url(network.gateway, postgres_relay),
        "REDIS_URL": bridge_redis.url,
        "ALLOWED_HOSTS": ",".join(host.address for host in network.hosts),
        # One site: every host signs sessions with the same key.
        "SECRET_KEY": secrets.token_urlsafe(40),
        "REALTIME_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS),
        "REALTIME_PROCESS_TTL": str(PROCESS_TTL_SECONDS),
        "LOG_LEVEL": "WARNING",
    }
    made: dict[str, HostServer] = {}
    try:
        for host in network.hosts:
            var_dir = folder / host.name
            var_dir.mkdir()
            env = server_environment(CHATSPHERES_VAR_DIR=str(var_dir), **shared)
            made[host.name] = HostServer(host=host, env=env, log=folder / f"{host.name}.log")
            made[host.name].start()
        yield made
    finally:
        for server in made.values():
            server.stop()
        for server in made.values():
            print(f"--- host {server.host.name} ({server.host.address}) log ---")
            print(server.log_tail())
        shutil.rmtree(folder, ignore_errors=True)


# The browsers -------------------------------------------------------------------------


@pytest.fixture
def browsers(network: BridgeNetwork) -> Iterator[Callable[[], Browser]]:
    path, reason = find_chromium()
    if reason is not None:
        unavailable(reason)
    # The camera needs a secure context; plain HTTP on a bridge address is not one.
    origins = ",".join(host.url for host in network.hosts)
    flags = [*CHROMIUM_FLAGS, f"--unsafely-treat-insecure-origin-as-secure={origins}"]
    with sync_playwright() as playwright:
        launched: list[Browser] = []

        def launch() -> Browser:
            browser = playwright.chromium.launch(executable_path=path, args=flags, headless=True)
            launched.append(browser)
            return browser

        try:
            yield launch
        finally:
            for browser in launched:
                browser.close()


def person(browser: Browser, name: str, host: Host) -> Participant:
    context = browser.new_context(
        base_url=host.url,
        permissions=["camera", "microphone"],
        viewport={"width": 1280, "height": 800},
    )
    context.add_init_script(RECORD_SOCKET_CLOSES)
    page = context.new_page()
    made = Participant(
        name=name,
        email=f"{name.split()[0].lower()}-{secrets.token_hex(4)}@example.com",
        browser=browser,
        context=context,
        page=page,
    )
    page.on("console", lambda msg: made.console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda error: made.console.append(f"[pageerror] {error}"))
    return made


def session_cookie(someone: Participant) -> str:
    cookie = next(c for c in someone.context.cookies() if c["name"] == "sessionid")
    return f"sessionid={cookie['value']}"


def online_count(host: Host, slug: str, cookie: str) -> str:
    """The "N online now" figure host renders on the sphere's page."""
    status_code, body = get(host, f"/spheres/{slug}/", cookie)
    assert status_code == 200, body[:500]
    found = re.search(r'id="online-count">([^<]*)<', body)
    assert found is not None, body[:2000]
    return found.group(1)


def screenshot(page: Page, name: str) -> None:
    """Save a full-page screenshot to $CHATSPHERES_SCREENSHOTS, when it is set."""
    folder = os.environ.get("CHATSPHERES_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def wait_until(condition: Callable[[], bool], limit: float, what: str) -> float:
    """Poll ``condition``; return the seconds it took, or fail after ``limit`` seconds."""
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > limit:
            pytest.fail(f"{what}: not within {limit} s")
        time.sleep(0.2)
    return time.monotonic() - start


# The journey --------------------------------------------------------------------------

SPHERE = "book-club"  # one of the demo spheres


def test_a_call_across_two_hosts(
    network: BridgeNetwork,
    servers: dict[str, HostServer],
    database: Database,
    browsers: Callable[[], Browser],
) -> None:
    host_a, host_b = network.hosts
    alice = person(browsers(), "Alice Moreau", host_a)
    bob = person(browsers(), "Bob Nakamura", host_b)
    try:
        _journey(alice, bob, host_a, host_b, servers, database)
    finally:
        for someone in (alice, bob):
            if someone.console:
                print(f"--- browser console of {someone.name} ---")
                print("\n".join(someone.console))


def _journey(
    alice: Participant,
    bob: Participant,
    host_a: Host,
    host_b: Host,
    servers: dict[str, HostServer],
    database: Database,
) -> None:
    # Alice on host A and Bob on host B are matched, and their browsers connect.
    for someone in (alice, bob):
        someone.sign_up()
        someone.open_call_page(SPHERE)
        expect(someone.page.get_by_role("button", name="Join call")).to_be_enabled(timeout=10_000)
    alice.page.get_by_role("button", name="Join call").click()
    expect(status(alice.page)).to_have_text("Waiting for someone…", timeout=10_000)
    bob.page.get_by_role("button", name="Join call").click()
    for someone in (alice, bob):
        expect(someone.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    for someone in (alice, bob):
        someone.page.wait_for_function(VIDEO_DECODES, timeout=30_000, polling=250)
        expect(status(someone.page)).to_have_text(re.compile(r"^Connected with \S"), timeout=10_000)
    expect(alice.page.get_by_role("heading", name="Bob Nakamura", exact=True)).to_be_visible()

    # Chat crosses hosts, both ways.
    say(alice, bob, "Hello from host A")
    say(bob, alice, "Hi Alice, host B here")
    screenshot(alice.page, "multihost-1-alice-on-a")
    screenshot(bob.page, "multihost-1-bob-on-b")

    # Both hosts count the same two people online in the sphere.
    cookie = session_cookie(alice)
    assert online_count(host_a, SPHERE, cookie) == online_count(host_b, SPHERE, cookie) == "2"

    # Host B's process dies at once. Alice's call ends as "disconnected" once
    # host B is taken for dead and the grace period is over; Bob leaves the counts.
    killed = time.monotonic()
    servers["b"].kill()
    expect(status(alice.page)).to_have_text("Connection lost", timeout=30_000)
    ended_after = time.monotonic() - killed
    assert database.query("SELECT state, end_reason FROM calls_conversation") == [
        ("ended", "disconnected")
    ]
    wait_until(
        lambda: online_count(host_a, SPHERE, cookie) == "1", 30, "Bob leaving the online count"
    )
    gone_after = time.monotonic() - killed
    screenshot(alice.page, "multihost-2-alice-after-b-died")
    print(
        f"after kill -9 of host B: call ended for Alice in {ended_after:.1f} s, "
        f"Bob out of the online count in {gone_after:.1f} s"
    )

    # Host B comes back, and Bob's page with it.
    servers["b"].start()
    bob.page.reload()
    expect(bob.page.get_by_role("button", name="Join call")).to_be_enabled(timeout=10_000)
    wait_until(lambda: online_count(host_a, SPHERE, cookie) == "2", 15, "Bob counted online again")
    assert online_count(host_b, SPHERE, cookie) == "2"

    # Bob is logged out through host A, with his session: his socket on host B closes with 4001.
    on_a = bob.browser.new_context(base_url=host_a.url)
    bobs_session = session_cookie(bob).removeprefix("sessionid=")
    on_a.add_cookies([{"name": "sessionid", "value": bobs_session, "url": host_a.url}])
    logout_page = on_a.new_page()
    logout_page.goto("/spheres/")
    clicked_at = logout_page.evaluate("Date.now()")
    with logout_page.expect_response(lambda r: r.request.method == "POST") as logout:
        logout_page.get_by_role("button", name="Log out").click()
    answered_at = logout_page.evaluate("Date.now()")
    assert logout.value.status in (200, 302), logout.value.status
    bob.page.wait_for_function(
        "window.__socketCloses.some((c) => c.code === 4001)", timeout=5_000, polling=50
    )
    closes = bob.page.evaluate("window.__socketCloses")
    signed_out = [c for c in closes if c["code"] == 4001]
    assert len(signed_out) == 1 and host_b.address in signed_out[0]["url"], closes
    closed_after = (signed_out[0]["at"] - clicked_at) / 1000
    assert closed_after < 5
    print(
        f"logout on host A answered in {(answered_at - clicked_at) / 1000:.2f} s; "
        f"Bob's socket on host B closed with 4001 {closed_after:.2f} s after the click"
    )
    screenshot(bob.page, "multihost-3-bob-signed-out")
    on_a.close()
