"""The waiting screen in a real browser: counts leave you out, and two who just talked learn why."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatspheres.accounts.models import Profile
from chatspheres.connections.services import talk_again_wish
from tests.browser.conftest import (  # noqa: F401  (fixtures)
    Participant,
    call_sphere,
    chromium_executable,
    participant,
    playwright,
    run_outside_playwright,
    screenshot,
)

pytestmark = pytest.mark.browser

HINT = (
    "Only people you've talked with in the last 10 minutes are here right now."
    " We'll match you when someone new arrives."
)


def presence(page: Page) -> Any:
    return page.locator("#phase-waiting [data-presence]")


def connect(first: str, second: str) -> None:
    """The two (by display name) both said "I'd like to talk again"."""
    ids = dict(
        Profile.objects.filter(display_name__in=[first, second]).values_list(
            "display_name", "user_id"
        )
    )
    talk_again_wish(wisher_id=ids[first], about_id=ids[second])
    talk_again_wish(wisher_id=ids[second], about_id=ids[first])


def test_two_connections_who_just_talked_are_told_why_they_wait_and_can_call(
    call_sphere: Any,  # noqa: F811
    participant: Callable[[str], Participant],  # noqa: F811
    screenshot: Callable[[Page, str], None],  # noqa: F811
) -> None:
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")
    ben.page.set_viewport_size({"width": 390, "height": 844})  # a phone
    for person in (ana, ben):
        person.sign_up()
        person.open_call_page(call_sphere.slug)
        expect(person.page.get_by_role("button", name="Join call")).to_be_enabled(timeout=10_000)

    ana.page.get_by_role("button", name="Join call").click()
    expect(presence(ana.page)).to_contain_text("No one else is waiting yet", timeout=10_000)
    # Ben, not waiting, sees Ana as the one other person waiting, here and on the sphere's page.
    expect(ben.page.locator("#phase-preview [data-presence]")).to_contain_text(
        "1 other person waiting", timeout=10_000
    )
    sphere_page = ben.context.new_page()
    sphere_page.goto(f"/spheres/{call_sphere.slug}/")
    expect(sphere_page.locator("#waiting-count")).to_have_text(
        "1 other person waiting", timeout=10_000
    )
    screenshot(sphere_page, "sphere-counts")
    sphere_page.close()

    ben.page.get_by_role("button", name="Join call").click()
    for person in (ana, ben):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    run_outside_playwright(lambda: connect("Ana Lima", "Ben Okafor"))

    # Ana moves on and waits again; Ben starts looking again too: they may not meet yet.
    ana.page.get_by_role("button", name="Next").click()
    expect(ana.page.get_by_role("button", name="Cancel")).to_be_visible(timeout=10_000)
    ben.page.get_by_role("button", name="Find someone new").click()
    expect(ben.page.get_by_role("button", name="Cancel")).to_be_visible(timeout=10_000)

    for person, other in ((ana, "Ben Okafor"), (ben, "Ana Lima")):
        expect(presence(person.page)).to_contain_text("1 other person waiting", timeout=10_000)
        expect(person.page.get_by_text(HINT)).to_be_visible(timeout=10_000)
        expect(person.page.get_by_text(f"{other} is here.")).to_be_visible()
        call_now = person.page.get_by_role("link", name="Call now")
        expect(call_now).to_have_attribute("href", re.compile(r"^/call/[a-z0-9-]+/$"))
    screenshot(ana.page, "waiting-hint-desktop")
    screenshot(ben.page, "waiting-hint-phone")

    # The link fits the phone's screen and is reached from the keyboard.
    box = ben.page.get_by_role("link", name="Call now").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390

    # Ben stops waiting: Ana is alone again, and the hint goes with him.
    ben.page.get_by_role("button", name="Cancel").click()
    expect(presence(ana.page)).to_contain_text("No one else is waiting yet", timeout=10_000)
    expect(ana.page.get_by_text(HINT)).to_be_hidden()
