"""Call now in two real browsers: the ringing card on any page, Decline, and Accept into video."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatspheres.accounts.models import User
from tests.browser.conftest import (  # noqa: F401  (fixtures used by name)
    Participant,
    call_sphere,
    chromium_executable,
    participant,
    playwright,
    run_outside_playwright,
    screenshot,
)
from tests.browser.test_call_journey import wait_for_media
from tests.connections.test_rings import connect
from tests.presence.test_presence_live import eventually, presence

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
VIDEOS_PLAY = """() => ["remote-video", "self-video"].every((id) => {
  const video = document.getElementById(id);
  return video && !video.paused && video.videoWidth > 0 && video.currentTime > 0.2;
})"""
LAPTOP = {"width": 1280, "height": 800}


def connected_pair(ana: Participant, ben: Participant, sphere: Any) -> None:
    """Both signed up; they talked in the sphere and both want to talk again."""

    def make() -> None:
        first = User.objects.get(email=ana.email)
        second = User.objects.get(email=ben.email)
        connect(sphere, first, second)

    run_outside_playwright(make)


def both_sizes(page: Page, take: Callable[[Page, str], None], name: str) -> None:
    for size, label in ((LAPTOP, "1280"), (PHONE, "390")):
        page.set_viewport_size(size)
        take(page, f"{name}-{label}")
    page.set_viewport_size(LAPTOP)


def test_call_now_rings_on_any_page_and_can_be_declined_or_accepted(
    call_sphere: Any,  # noqa: F811
    participant: Callable[[str], Participant],  # noqa: F811
    screenshot: Callable[[Page, str], None],  # noqa: F811
) -> None:
    ana, ben = participant("Ana Lima"), participant("Ben Okafor")
    for person in (ana, ben):
        person.sign_up()
    connected_pair(ana, ben, call_sphere)

    # Ben is elsewhere on the site: the spheres list.
    ben.page.goto("/spheres/")
    # People shows "Call now" once Ben's open tab counts him online.
    ben_id = run_outside_playwright(lambda: User.objects.get(email=ben.email).pk)
    online = eventually(lambda: run_outside_playwright(presence(ben_id)), lambda p: p.online)
    assert online.online
    ana.page.goto("/people/")
    ana.page.get_by_role("link", name=re.compile("^Call now")).first.click()
    ana.page.wait_for_url(re.compile(r"/call/[a-z0-9-]+/$"))
    expect(ana.page.get_by_role("heading", name="Calling Ben Okafor…")).to_be_visible()

    ringing = ben.page.get_by_role("alertdialog", name="Ana Lima wants to talk")
    expect(ringing).to_be_visible(timeout=10_000)
    expect(ringing.get_by_role("button", name="Accept")).to_be_focused()
    expect(ringing.get_by_role("button", name="Decline")).to_be_visible()
    calling_status = ana.page.locator("#call-status")
    expect(calling_status).to_have_text("Ringing…", timeout=10_000)
    both_sizes(ben.page, screenshot, "ring-card")
    both_sizes(ana.page, screenshot, "ring-calling")

    # Escape declines: the card goes, and Ana is told in words.
    ben.page.keyboard.press("Escape")
    expect(ringing).to_have_count(0)
    expect(ana.page.get_by_role("heading", name="Ben Okafor can't talk right now.")).to_be_visible(
        timeout=10_000
    )

    # Ana calls again; this time Ben accepts, and they talk on video.
    ana.page.get_by_role("button", name="Call again").click()
    expect(ringing).to_be_visible(timeout=10_000)
    ringing.get_by_role("button", name="Accept").click()
    ben.page.wait_for_url(re.compile(r"/call/answer/"))
    for person in (ana, ben):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    for person in (ana, ben):
        wait_for_media(person.page)
    expect(ana.page.get_by_role("heading", name="Ben Okafor", exact=True)).to_be_visible()
    for person in (ana, ben):
        # Both videos play on the page (an answering page had no click of its own).
        person.page.wait_for_function(VIDEOS_PLAY, timeout=15_000, polling=250)
    screenshot(ben.page, "ring-accepted-call")

    # Ben's notifications: the header button opens the panel.
    ben.page.get_by_role("button", name="End call").click()
    ben.page.goto("/spheres/")
    ben.page.get_by_role("button", name="Notifications").click()
    panel = ben.page.get_by_role("region", name="Notifications")
    expect(panel.get_by_text("You and Ana Lima are now connected")).to_be_visible(timeout=10_000)
    both_sizes(ben.page, screenshot, "notifications-panel")
    ben.page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    expect(ben.page.get_by_role("button", name="Notifications")).to_be_focused()

    # The missed call and the connection on the full list; Mark all read empties the count.
    ben.page.goto("/notifications/")
    expect(ben.page.get_by_role("heading", name="Notifications", level=1)).to_be_visible()
    both_sizes(ben.page, screenshot, "notifications-page")
    ben.page.get_by_role("button", name="Mark all read").click()
    expect(ben.page.get_by_text("You're all caught up.")).to_be_visible()
    expect(ben.page.locator("#notifications-unread")).to_have_text("0 unread")
    ben.page.goto("/profile/")
    preferences = ben.page.get_by_role("group", name="Tell me on ChatSpheres when")
    expect(preferences.get_by_role("checkbox", name="You missed a call")).to_be_checked()
    preferences.scroll_into_view_if_needed()
    screenshot(ben.page, "notification-preferences")
