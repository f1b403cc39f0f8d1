"""Two people who hide their IP address talk through a real coturn relay, and only through it.

The test runs Debian's ``turnserver`` on 127.0.0.1 with a static secret (the
TURN REST scheme the site's credentials follow). Both browsers are on this
machine, so the relay must be allowed to reach loopback peers:
``--allow-loopback-peers`` is passed here, in the test only; the documented
production configuration (docs/coturn.md) denies it.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import struct
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatspheres.accounts.models import Profile
from tests.browser.conftest import Participant, run_outside_playwright
from tests.browser.test_call_journey import CONNECTED_WITH_SOMEONE, status, wait_for_media
from tests.conftest import make_member, session_cookie

pytestmark = pytest.mark.browser

REALM = "chatspheres.test"
NO_RELAY_WORDS = (
    "This site has no relay configured, so it can't hide your IP address. "
    "Turn off “Hide my IP address” on your profile to talk."
)

# Every text frame this page's sockets receive, kept in order for the test to read.
RECORD_RECEIVED_FRAMES = """(() => {
  const received = [];
  window.__receivedFrames = received;
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        if (typeof event.data === "string") received.push(event.data);
      });
    }
  };
})();"""

# The candidate pair ICE chose, and the type of each end of it.
SELECTED_PAIR = """async () => {
  const pc = window.chatspheres && window.chatspheres.pc;
  if (!pc) return null;
  const stats = await pc.getStats();
  let pair = null;
  stats.forEach((report) => {
    if (report.type === "transport" && report.selectedCandidatePairId) {
      pair = stats.get(report.selectedCandidatePairId);
    }
  });
  if (!pair) return null;
  return {
    local: stats.get(pair.localCandidateId).candidateType,
    remote: stats.get(pair.remoteCandidateId).candidateType,
  };
}"""


def find_turnserver() -> str:
    """Debian's turnserver, or a skip with the reason (a failure under CI=true)."""
    path = shutil.which("turnserver") or (
        "/usr/bin/turnserver" if os.access("/usr/bin/turnserver", os.X_OK) else None
    )
    if path is None:
        reason = "turnserver not found: install Debian's coturn package (apt-get install coturn)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


def free_port() -> int:
    """A port free for both TCP and UDP on 127.0.0.1 (turnserver listens on both)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return int(port)
    raise RuntimeError("no port free for both TCP and UDP")


def stun_answers(port: int) -> bool:
    """Whether a STUN Binding request to 127.0.0.1:port gets a success response."""
    transaction = secrets.token_bytes(12)
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.2)
        try:
            udp.sendto(request, ("127.0.0.1", port))
            answer = udp.recv(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == transaction


@dataclass
class Turn:
    port: int
    secret: str
    log: Path

    @property
    def url(self) -> str:
        return f"turn:127.0.0.1:{self.port}?transport=udp"


@pytest.fixture
def turnserver(tmp_path: Path) -> Iterator[Turn]:
    """A turnserver of the test's own on a free loopback port; stopped whatever happens."""
    binary = find_turnserver()
    turn = Turn(port=free_port(), secret=secrets.token_hex(16), log=tmp_path / "turnserver.log")
    with turn.log.open("wb") as log:
        process = subprocess.Popen(
            [
                binary,
                "-n",  # no configuration file: only what is given here
                "--no-cli",
                "--listening-ip=127.0.0.1",
                "--relay-ip=127.0.0.1",
                f"--listening-port={turn.port}",
                "--use-auth-secret",
                f"--static-auth-secret={turn.secret}",
                f"--realm={REALM}",
                # Test only: both browsers are on this machine. Never in production.
                "--allow-loopback-peers",
                "--no-tls",
                "--no-dtls",
                "--no-multicast-peers",
                "--log-file=stdout",
                "--simple-log",
                f"--pidfile={tmp_path / 'turnserver.pid'}",
                f"--userdb={tmp_path / 'turndb'}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        for _ in range(100):  # bounded: about 10 s at most
            if process.poll() is not None or stun_answers(turn.port):
                break
            time.sleep(0.1)
        if process.poll() is not None or not stun_answers(turn.port):
            pytest.fail(f"turnserver did not start:\n{turn.log.read_text(errors='replace')}")
        yield turn
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def sign_in(person: Participant, base_url: str) -> None:
    """A member made through the services, signed in to this browser (sign-up has its own test)."""

    def member_cookie() -> str:
        email = person.email
        return session_cookie(make_member(email, name=person.name)).split("=", 1)[1]

    value = run_outside_playwright(member_cookie)
    person.context.add_cookies([{"name": "sessionid", "value": value, "url": base_url}])


def hide_my_ip_address(person: Participant) -> None:
    """Turn on "Hide my IP address" on the profile page, the way a member does."""
    page = person.page
    page.goto("/profile/")
    switch = page.get_by_role("checkbox", name="Hide my IP address")
    expect(switch).not_to_be_checked()
    expect(page.get_by_text("Calls may take a little longer to connect.")).to_be_visible()
    switch.check()
    page.get_by_role("button", name="Save call choices").click()
    expect(page.get_by_text("Your call choices are saved.")).to_be_visible(timeout=10_000)
    expect(page.get_by_role("checkbox", name="Hide my IP address")).to_be_checked()


def received_signals(page: Page) -> list[dict[str, Any]]:
    frames = [json.loads(text) for text in page.evaluate("window.__receivedFrames")]
    return [frame["data"] for frame in frames if frame.get("type") == "signal"]


def candidate_lines(page: Page) -> list[str]:
    """Every ICE candidate the partner sent this page: in its SDP, and trickled."""
    lines: list[str] = []
    for data in received_signals(page):
        if data.get("description"):
            lines += [
                line.removeprefix("a=")
                for line in data["description"]["sdp"].splitlines()
                if line.startswith("a=candidate:")
            ]
        if data.get("candidate") and data["candidate"].get("candidate"):
            lines.append(data["candidate"]["candidate"])
    remote_sdp = page.evaluate("window.chatspheres.pc.remoteDescription.sdp")
    lines += [
        line.removeprefix("a=")
        for line in remote_sdp.splitlines()
        if line.startswith("a=candidate:")
    ]
    return lines


def test_two_members_who_hide_their_address_talk_only_through_the_relay(
    turnserver: Turn,
    settings: Any,
    call_sphere: Any,
    participant: Callable[[str], Participant],
    live_server: Any,
) -> None:
    # The site knows the relay and its secret, and nothing else: no STUN.
    settings.ICE_SERVERS = []
    settings.TURN_URLS = [turnserver.url]
    settings.TURN_SECRET = turnserver.secret
    settings.TURN_CREDENTIAL_TTL = 600

    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")
    for person in (ana, ben):
        person.context.add_init_script(RECORD_RECEIVED_FRAMES)
        sign_in(person, live_server.url)
        hide_my_ip_address(person)
    assert run_outside_playwright(lambda: Profile.objects.filter(hide_ip=True).count()) == 2

    for person in (ana, ben):
        person.open_call_page(call_sphere.slug)
        expect(person.page.get_by_role("button", name="Join call")).to_be_enabled(timeout=10_000)

    # Were the relay taken away, Ana would be told so before any call, and
    # never connected peer to peer without it.
    settings.TURN_URLS, settings.TURN_SECRET = [], ""
    ana.page.get_by_role("button", name="Join call").click()
    expect(ana.page.get_by_text(NO_RELAY_WORDS)).to_be_visible(timeout=10_000)
    expect(ana.page.get_by_role("button", name="Join call")).to_be_visible()
    settings.TURN_URLS, settings.TURN_SECRET = [turnserver.url], turnserver.secret

    ana.page.get_by_role("button", name="Join call").click()
    expect(status(ana.page)).to_have_text("Waiting for someone…", timeout=10_000)
    ben.page.get_by_role("button", name="Join call").click()

    # Each page decodes the partner's video (framesDecoded > 0) and receives
    # their sound: video flows both ways.
    for person in (ana, ben):
        wait_for_media(person.page)
        expect(status(person.page)).to_have_text(CONNECTED_WITH_SOMEONE, timeout=10_000)

    for person in (ana, ben):
        page = person.page
        # The media path is relay to relay.
        assert page.evaluate(SELECTED_PAIR) == {"local": "relay", "remote": "relay"}
        # The server told this browser to use relays only, with credentials
        # that are not the secret.
        frames = page.evaluate("window.__receivedFrames")
        match = next(json.loads(f) for f in frames if json.loads(f).get("type") == "match.found")
        assert match["ice_transport_policy"] == "relay"
        assert not any(turnserver.secret in frame for frame in frames)
        # What the partner sent carries relay candidates and nothing else: no
        # host address, no server-reflexive (public) one.
        lines = candidate_lines(page)
        assert lines, "the partner's candidates never arrived"
        not_relay = [line for line in lines if " typ relay" not in line]
        assert not_relay == [], f"{person.name} received candidates other than relay: {not_relay}"
