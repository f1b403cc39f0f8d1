"""A call survives its signaling socket dropping, and its media path breaking, in two browsers.

Ana's socket is cut by the server (the TCP connection aborted, as a network
failure looks to both ends) while her browser is offline, so she stays away
for a while: Ben is told her connection dropped, writes to her meanwhile, and
once she is back she resumes the same tab and conversation, catches up on
Ben's message, and the video never stopped. Then Ben's page freezes (its
renderer processes stopped, the way a laptop that sleeps or a stuck tab
looks to the partner): Ana's ICE goes "disconnected", her page (the side that
makes the offers) restarts ICE, again 5 s later while it is still wrong, and
once Ben's page runs again the call carries on with new ICE credentials, Ben
never having restarted on his own.
"""

from __future__ import annotations

import json
import os
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocket, expect

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from tests.browser.conftest import Participant, cut_connections, run_outside_playwright, say
from tests.browser.test_call_journey import CONNECTED_WITH_SOMEONE, meet, status

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 800}

# How many video frames this page has decoded from the partner so far.
FRAMES_DECODED = """async () => {
  const pc = window.chatspheres && window.chatspheres.pc;
  if (!pc) return -1;
  const stats = await pc.getStats();
  let frames = 0;
  stats.forEach((report) => {
    if (report.type !== "inbound-rtp" || report.kind !== "video") return;
    frames += report.framesDecoded || 0;
  });
  return frames;
}"""

# The ICE username fragment of this page's current local description.
LOCAL_UFRAG = """() => {
  const sdp = window.chatspheres.pc.localDescription.sdp;
  return sdp.match(/a=ice-ufrag:(\\S+)/)[1];
}"""


class FrameLog:
    """Every frame the page receives on its WebSockets, decoded, in order."""

    def __init__(self, page: Page) -> None:
        self.frames: list[dict[str, Any]] = []
        self.sockets: list[str] = []
        page.on("websocket", self._opened)

    def _opened(self, socket: WebSocket) -> None:
        self.sockets.append(socket.url)
        socket.on("framereceived", self._received)

    def _received(self, payload: str | bytes) -> None:
        self.frames.append(json.loads(payload))

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [frame for frame in self.frames if frame.get("type") == kind]


def conversation_of(page: Page) -> str:
    value = page.evaluate("window.chatspheres.conversation")
    assert isinstance(value, str)
    return value


def video_keeps_decoding(page: Page, more_than: int = 15) -> None:
    """The partner's video is still being decoded: frames go on adding up."""
    before = page.evaluate(FRAMES_DECODED)
    page.wait_for_function(
        f"async (wanted) => (await ({FRAMES_DECODED})()) > wanted",
        arg=before + more_than,
        timeout=15_000,
        polling=250,
    )


def both_views(page: Page, screenshot: Callable[[Page, str], None], name: str) -> None:
    """Screenshots at laptop and phone sizes."""
    screenshot(page, f"{name}-1280")
    page.set_viewport_size(PHONE)
    screenshot(page, f"{name}-390")
    page.set_viewport_size(LAPTOP)


def user_id_of(name: str) -> int:
    return run_outside_playwright(lambda: Profile.objects.get(display_name=name).user_id)


def conversations() -> list[tuple[str, bool]]:
    """Every conversation saved: its public id and whether it is still going on."""
    return run_outside_playwright(
        lambda: [(c.public_id, c.ended_at is None) for c in Conversation.objects.all()]
    )


@contextmanager
def frozen(person: Participant) -> Iterator[None]:
    """Stop every renderer process of the person's browser, and let them run again after.

    The page's scripts and its WebRTC stack stop answering (its partner's
    ICE goes "disconnected"), while its WebSocket, kept by the browser's
    network process, stays up and answers the server's pings.
    """
    session = person.browser.new_browser_cdp_session()
    processes = session.send("SystemInfo.getProcessInfo")["processInfo"]
    session.detach()
    renderers = [int(p["id"]) for p in processes if p["type"] == "renderer"]
    assert renderers
    for pid in renderers:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in renderers:
            os.kill(pid, signal.SIGCONT)


@pytest.mark.skipif(not hasattr(signal, "SIGSTOP"), reason="freezing a page needs POSIX signals")
def test_a_call_survives_a_dropped_socket_and_a_broken_media_path(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")
    ana_frames = FrameLog(ana.page)
    meet(ana, ben, call_sphere)

    # Ana waited first, so she makes the offers (perfect negotiation's impolite side).
    assert ana.page.evaluate("window.chatspheres.polite") is False
    assert ben.page.evaluate("window.chatspheres.polite") is True
    conversation = conversation_of(ana.page)
    assert conversation_of(ben.page) == conversation
    assert conversations() == [(conversation, True)]
    first_ready = ana_frames.of_type("ready")[-1]
    assert first_ready["resumed"] is False
    ana_ufrag = ana.page.evaluate(LOCAL_UFRAG)

    # -- 1. Ana's socket drops, and her network stays down for a while.
    ana.context.set_offline(True)
    assert len(cut_connections(user_id_of("Ana Lima"))) == 1
    expect(status(ana.page)).to_have_text("Reconnecting…", timeout=10_000)
    expect(status(ben.page)).to_have_text(
        "Ana Lima's connection dropped, waiting for them…", timeout=10_000
    )
    # Both still show the call and its controls: nothing ended.
    for person in (ana, ben):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible()
    both_views(ben.page, screenshot, "reconnect-1-ben-partner-away")
    both_views(ana.page, screenshot, "reconnect-2-ana-reconnecting")

    # Ben writes while Ana is away; her page cannot have it yet.
    ben.page.get_by_label("Message").fill("Are you still there, Ana?")
    ben.page.get_by_role("button", name="Send").click()
    expect(ben.page.get_by_role("log")).to_contain_text("Are you still there, Ana?")
    expect(ana.page.get_by_role("log")).not_to_contain_text("Are you still there")

    # Ana's page wants a new ICE session while its socket is down: the offer
    # it makes cannot go out, and is sent once the socket is back.
    ana.page.evaluate("window.chatspheres.pc.restartIce()")
    ana.page.wait_for_function(
        "() => window.chatspheres.pc.signalingState === 'have-local-offer'", timeout=10_000
    )

    # The video went on all along: only the signaling socket is down.
    video_keeps_decoding(ana.page)
    video_keeps_decoding(ben.page)

    # -- 2. Ana's network comes back: the tab resumes where it was.
    matches_before = len(ana_frames.of_type("match.found"))
    ana.context.set_offline(False)
    for person in (ana, ben):
        expect(status(person.page)).to_have_text(CONNECTED_WITH_SOMEONE, timeout=15_000)
    # Ben's message, sent while she was away, reached her once she was back.
    expect(ana.page.get_by_role("log")).to_contain_text("Are you still there, Ana?", timeout=10_000)

    # The same tab and the same conversation: resumed, replayed, no new match.
    last_ready = ana_frames.of_type("ready")[-1]
    assert last_ready["resumed"] is True
    assert last_ready["tab"] == first_ready["tab"]
    assert f"tab={first_ready['tab']}" in ana_frames.sockets[-1]
    assert "last_event_id=" in ana_frames.sockets[-1]
    assert len(ana_frames.of_type("match.found")) == matches_before == 1
    caught_up = [f for f in ana_frames.of_type("chat.message") if "still there" in f["text"]]
    assert len(caught_up) == 1
    assert caught_up[0]["id"] > last_ready["last_event_id"]
    assert conversation_of(ana.page) == conversation_of(ben.page) == conversation

    # The offer made while away went out: new ICE credentials, stable again.
    ana.page.wait_for_function(
        "() => window.chatspheres.pc.signalingState === 'stable'", timeout=10_000
    )
    assert ana.page.evaluate(LOCAL_UFRAG) != ana_ufrag

    video_keeps_decoding(ana.page)
    video_keeps_decoding(ben.page)
    assert conversations() == [(conversation, True)]

    # Chat both ways still works.
    say(ana, ben, "Back! My wifi dropped.")

    # -- 3. Ben's page freezes: the media path breaks, the sockets stay up.
    ana_ufrag = ana.page.evaluate(LOCAL_UFRAG)
    ben_ufrag = ben.page.evaluate(LOCAL_UFRAG)
    with frozen(ben):
        expect(status(ana.page)).to_have_text("Reconnecting…", timeout=20_000)
        screenshot(ana.page, "reconnect-3-ana-media-reconnecting-1280")
        # Still wrong 5 s later: Ana's page restarts ICE; 5 s after that, again.
        ana.page.wait_for_function("() => window.chatspheres.iceRestarts >= 2", timeout=30_000)
        assert ana.page.evaluate("window.chatspheres.conversation") == conversation
    for person in (ana, ben):
        expect(status(person.page)).to_have_text(CONNECTED_WITH_SOMEONE, timeout=20_000)
    for person in (ana, ben):
        person.page.wait_for_function(
            "() => window.chatspheres.pc.signalingState === 'stable'", timeout=10_000
        )
    # New ICE credentials on both sides: the restart went through. Ben, the
    # polite side, answered it but never restarted on his own.
    assert ana.page.evaluate(LOCAL_UFRAG) != ana_ufrag
    assert ben.page.evaluate(LOCAL_UFRAG) != ben_ufrag
    assert ben.page.evaluate("window.chatspheres.iceRestarts") == 0
    video_keeps_decoding(ana.page)
    video_keeps_decoding(ben.page)
    assert conversation_of(ana.page) == conversation_of(ben.page) == conversation
    assert len(ana_frames.of_type("match.found")) == 1
    assert conversations() == [(conversation, True)]

    # -- 4. The call still ends the ordinary way.
    ben.page.get_by_role("button", name="End call").click()
    expect(status(ana.page)).to_have_text("Ben Okafor ended the call", timeout=10_000)
    expect(ana.page.get_by_role("group", name="How was it?")).to_be_visible()
    assert conversations() == [(conversation, False)]
    for person in (ana, ben):
        assert not [line for line in person.console if line.startswith("[pageerror]")]
        assert not re.search(r"handler for .* failed", "\n".join(person.console))


def test_signed_out_elsewhere_the_call_page_says_so_and_stays_closed(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    cleo = participant("Cleo Ward")
    dev = participant("Dev Patel")
    cleo_frames = FrameLog(cleo.page)
    meet(cleo, dev, call_sphere)
    sockets_before = len(cleo_frames.sockets)

    # Cleo logs out in another tab: her call page's socket is closed with 4001.
    other_tab = cleo.context.new_page()
    other_tab.goto("/spheres/")
    other_tab.get_by_role("button", name="Log out").click()
    other_tab.wait_for_load_state()

    page = cleo.page
    expect(page.get_by_role("alert")).to_contain_text(
        "Your session ended. Sign in again to continue.", timeout=10_000
    )
    expect(page.get_by_role("alert").get_by_role("link", name="Sign in")).to_be_visible()
    expect(status(page)).to_have_text("Call ended — you were signed out")
    # Nothing left to answer as someone signed out; nothing to start either.
    expect(page.get_by_role("group", name="How was it?")).to_be_hidden()
    expect(page.get_by_role("button", name="Start a conversation")).to_be_disabled()
    expect(status(dev.page)).to_have_text("Cleo Ward left", timeout=10_000)
    both_views(page, screenshot, "reconnect-4-signed-out")

    # It does not try to reconnect.
    page.wait_for_timeout(3_000)
    assert len(cleo_frames.sockets) == sockets_before
    assert conversations()[0][1] is False


def test_away_longer_than_the_grace_the_call_ends_plainly_on_both_sides(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
    settings: Any,
) -> None:
    settings.REALTIME_RECONNECT_GRACE_SECONDS = 2
    eve = participant("Eve Martin")
    finn = participant("Finn Kowalski")
    eve_frames = FrameLog(eve.page)
    meet(eve, finn, call_sphere)

    eve.context.set_offline(True)
    assert len(cut_connections(user_id_of("Eve Martin"))) == 1
    expect(status(eve.page)).to_have_text("Reconnecting…", timeout=10_000)
    # The grace runs out: the server ends the call, and Finn is told.
    expect(status(finn.page)).to_have_text("Connection lost", timeout=15_000)
    expect(finn.page.get_by_role("group", name="How was it?")).to_be_visible()

    # Eve comes back to a server that no longer knows her tab: a new one.
    eve.context.set_offline(False)
    expect(status(eve.page)).to_have_text("Connection lost", timeout=15_000)
    assert eve_frames.of_type("ready")[-1]["resumed"] is False
    expect(eve.page.get_by_role("group", name="How was it?")).to_be_visible()
    screenshot(eve.page, "reconnect-5-call-lost-1280")
    assert conversations()[0][1] is False

    # She can start again at once.
    eve.page.get_by_role("button", name="Start a conversation").click()
    expect(status(eve.page)).to_have_text("Waiting for someone…", timeout=10_000)


def test_a_page_beyond_the_tab_limit_says_why_it_gets_no_live_updates(
    participant: Callable[..., Participant], settings: Any
) -> None:
    settings.REALTIME_MAX_TABS_PER_MEMBER = 1
    ana = participant("Ana Lima")
    ana.sign_up()
    ana.page.goto("/spheres/")
    expect(ana.page.get_by_role("button", name="Notifications")).to_be_visible()

    second = ana.context.new_page()
    second.goto("/people/")
    expect(second.get_by_role("status").filter(has_text="too many tabs")).to_have_text(
        "ChatSpheres is open in too many tabs (at most 1). Close one, then reload this one.",
        timeout=10_000,
    )
    # The first page keeps its live connection and says nothing of the kind.
    expect(ana.page.get_by_text("too many tabs")).to_have_count(0)
