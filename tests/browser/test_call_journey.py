"""Two people meet in a sphere and talk on real WebRTC video, in two real browsers."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from tests.browser.conftest import BROWSER_TIME_ZONE, Participant, run_outside_playwright, say

pytestmark = pytest.mark.browser

# Resolves true once this page decodes the partner's video and receives their audio.
MEDIA_IS_FLOWING = """async () => {
  const pc = window.chatspheres && window.chatspheres.pc;
  if (!pc) return false;
  const stats = await pc.getStats();
  let video = false;
  let audio = false;
  stats.forEach((report) => {
    if (report.type !== "inbound-rtp") return;
    if (report.kind === "video" && report.framesDecoded > 0) video = true;
    if (report.kind === "audio" && report.packetsReceived > 0) audio = true;
  });
  return video && audio;
}"""


# The status line once the media flows: "Connected with Ana Lima".
CONNECTED_WITH_SOMEONE = re.compile(r"^Connected with \S")


def status(page: Page) -> Locator:
    """The call page's one connection-state line (other status lines say what a button saved)."""
    return page.get_by_role("status", name="Call status")


def wait_for_media(page: Page) -> None:
    page.wait_for_function(MEDIA_IS_FLOWING, timeout=30_000, polling=250)


def meet(
    first: Participant,
    second: Participant,
    sphere: Any,
    screenshot: Callable[[Page, str], None] | None = None,
) -> None:
    """Both sign up, join the sphere, open the call page, join the call and see each other."""
    for person in (first, second):
        person.sign_up()
        person.open_call_page(sphere.slug)
        expect(person.page.get_by_role("button", name="Join call")).to_be_enabled(timeout=10_000)
        # The preview offers the devices to pick from before joining.
        for device in ("Camera", "Microphone"):
            expect(person.page.get_by_label(device).locator("option")).not_to_have_count(0)
    if screenshot:
        screenshot(first.page, "1-preview")

    first.page.get_by_role("button", name="Join call").click()
    expect(first.page.get_by_role("button", name="Cancel")).to_be_visible(timeout=10_000)
    expect(status(first.page)).to_have_text("Waiting for someone…", timeout=10_000)
    expect(first.page.get_by_text("Looking for someone in Night Owls…")).to_be_visible()
    if screenshot:
        screenshot(first.page, "2-waiting")

    second.page.get_by_role("button", name="Join call").click()
    for person in (first, second):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    for person in (first, second):
        wait_for_media(person.page)
        expect(status(person.page)).to_have_text(CONNECTED_WITH_SOMEONE, timeout=10_000)


def test_two_members_meet_talk_and_move_on(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")
    meet(ana, ben, call_sphere, screenshot)

    # Each sees who they are talking to.
    expect(ana.page.get_by_role("heading", name="Ben Okafor", exact=True)).to_be_visible()
    expect(ben.page.get_by_role("heading", name="Ana Lima", exact=True)).to_be_visible()

    # In-call chat reaches the other side.
    say(ana, ben, "Hello from Ana")
    say(ben, ana, "Hi Ana, Ben here")
    screenshot(ana.page, "3-call")

    # The M and V shortcuts mute Ana and turn her camera off; Ben is shown both.
    ana.page.get_by_role("heading", name="Ben Okafor", exact=True).click()  # leave the chat field
    ana.page.keyboard.press("m")
    expect(ana.page.get_by_role("button", name="Unmute")).to_be_visible()
    expect(ben.page.get_by_text("Ana Lima is muted")).to_be_visible(timeout=10_000)
    ana.page.keyboard.press("v")
    expect(ana.page.get_by_role("button", name="Turn camera on")).to_be_visible()
    expect(ben.page.get_by_text("Ana Lima's camera is off")).to_be_visible(timeout=10_000)

    # Ben moves on: Ana is told, and asked how it was; Ben is looking again.
    ben.page.get_by_role("button", name="Next").click()
    expect(status(ana.page)).to_have_text("Ben Okafor moved on", timeout=10_000)
    expect(ana.page.get_by_role("group", name="How was it?")).to_be_visible()
    expect(ben.page.get_by_role("button", name="Cancel")).to_be_visible(timeout=10_000)
    expect(status(ben.page)).to_have_text("Waiting for someone…", timeout=10_000)
    screenshot(ana.page, "4-ended")
    screenshot(ben.page, "4-next-waiting")

    ana.page.get_by_role("button", name="Good").click()
    expect(ana.page.get_by_text("Thanks, your answer is saved.")).to_be_visible(timeout=10_000)

    def saved() -> tuple[str, bool, str, str]:
        conversation = Conversation.objects.get()
        ana = Profile.objects.get(display_name="Ana Lima")
        ben_id = Profile.objects.get(display_name="Ben Okafor").user_id
        anas_answer = conversation.participants.get(user_id=ana.user_id).rating
        ended_by_ben = conversation.ended_by_id == ben_id
        return conversation.end_reason, ended_by_ben, anas_answer, ana.time_zone

    assert run_outside_playwright(saved) == ("next", True, "good", BROWSER_TIME_ZONE)

    # Ben stops looking: Cancel takes him back to the preview.
    ben.page.get_by_role("button", name="Cancel").click()
    expect(ben.page.get_by_role("button", name="Join call")).to_be_visible(timeout=10_000)


def test_partner_closing_the_tab_is_told_plainly(
    call_sphere: Any, participant: Callable[[str], Participant]
) -> None:
    cleo = participant("Cleo Ward")
    dev = participant("Dev Patel")
    meet(cleo, dev, call_sphere)

    dev.page.close()

    expect(status(cleo.page)).to_have_text("Dev Patel left", timeout=10_000)
    expect(cleo.page.get_by_role("group", name="How was it?")).to_be_visible()
    reason = run_outside_playwright(lambda: Conversation.objects.get().end_reason)
    assert reason == "left"
