"""A planned call across time zones in two real browsers: São Paulo offers, Tokyo accepts.

Ana's browser is in America/Sao_Paulo and Ben's in Asia/Tokyo (sign-up puts
each browser's zone on the profile). Ana plans a call a few minutes ahead;
each sees both local times; Ben accepts; the reminder shortly before arrives
in the SMTP sink and in the site; at the time both press "Join" and talk on
video, and the plan is kept.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import Page, expect

from chatspheres.accounts.models import Profile, User
from chatspheres.connections.models import Plan
from tests.browser.axe import assert_no_axe_violations
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
from tests.connections.test_rings_browser import PHONE, connected_pair
from tests.presence.test_presence_live import eventually, presence

pytestmark = pytest.mark.browser

SAO_PAULO = ZoneInfo("America/Sao_Paulo")
TOKYO = ZoneInfo("Asia/Tokyo")


def reads(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %H:%M")


def test_a_call_planned_across_time_zones_is_reminded_and_joined_on_video(
    call_sphere: Any,  # noqa: F811
    participant: Callable[..., Participant],  # noqa: F811
    screenshot: Callable[[Page, str], None],  # noqa: F811
    smtp_sink: Any,
    later_tasks: Any,
    settings: Any,
) -> None:
    # The reminder "shortly before" comes two minutes ahead here, not ten.
    settings.PLAN_REMINDER_SOON_SECONDS = 120
    ana = participant("Ana Lima", time_zone="America/Sao_Paulo")
    ben = participant("Ben Okafor", time_zone="Asia/Tokyo")
    for person in (ana, ben):
        person.sign_up()
    connected_pair(ana, ben, call_sphere)

    def profile_of(person: Participant) -> tuple[str, str]:
        profile = Profile.objects.get(user__email=person.email)
        return profile.handle, profile.time_zone

    (ana_handle, ana_zone), (ben_handle, ben_zone) = (
        run_outside_playwright(lambda: profile_of(ana)),
        run_outside_playwright(lambda: profile_of(ben)),
    )
    assert (ana_zone, ben_zone) == ("America/Sao_Paulo", "Asia/Tokyo")

    # Ana plans a call with Ben from his page, four minutes from now.
    ana.page.goto(f"/people/{ben_handle}/")
    ana.page.get_by_role("link", name="Plan a call").click()
    expect(ana.page.get_by_role("heading", name="Plan a call with Ben Okafor")).to_be_visible()
    suggestions = ana.page.get_by_role("group", name=re.compile("^Times you're both awake"))
    # Every suggestion reads in both zones, and waking hours overlap only 08:00-10:00 for her.
    first = suggestions.get_by_role("checkbox").first
    expect(first).to_be_checked()
    expect(suggestions).to_contain_text(" for you · ")
    expect(suggestions).to_contain_text(" for Ben Okafor")
    first.uncheck()
    at = (timezone.now() + timedelta(minutes=5)).astimezone(UTC).replace(second=0, microsecond=0)
    ana.page.get_by_label("Another time 1").fill(
        at.astimezone(SAO_PAULO).strftime("%Y-%m-%dT%H:%M")
    )
    # Before sending, the form says how the typed time reads for Ben.
    expect(ana.page.locator("#time-1-reads")).to_have_text(
        f"{reads(at, SAO_PAULO)} for you · {reads(at, TOKYO)} for Ben Okafor"
    )
    assert_no_axe_violations(ana.page, "plan form")
    ana.page.set_viewport_size(PHONE)
    screenshot(ana.page, "plan-form-390")
    ana.page.set_viewport_size({"width": 1280, "height": 800})
    ana.page.get_by_role("button", name="Plan a call").click()
    expect(ana.page.get_by_role("heading", name="Call with Ben Okafor")).to_be_visible()
    expect(ana.page.locator("main")).to_contain_text(
        f"{reads(at, SAO_PAULO)} for you · {reads(at, TOKYO)} for Ben Okafor"
    )

    # Ben finds it on Ana's page and reads it in his own time, then accepts.
    ben.page.goto(f"/people/{ana_handle}/")
    ben.page.get_by_role("link", name="Call with Ana Lima").click()
    expect(ben.page.locator("main")).to_contain_text(
        f"{reads(at, TOKYO)} for you · {reads(at, SAO_PAULO)} for Ana Lima"
    )
    assert_no_axe_violations(ben.page, "plan offered")
    ben.page.set_viewport_size(PHONE)
    screenshot(ben.page, "plan-offered-390")
    ben.page.set_viewport_size({"width": 1280, "height": 800})
    ben.page.get_by_role("button", name="Accept this time").click()
    expect(ben.page.get_by_text("Planned for ")).to_be_visible()
    expect(ben.page.get_by_role("link", name="Add to calendar")).to_be_visible()
    assert_no_axe_violations(ben.page, "plan agreed")
    ben.page.set_viewport_size(PHONE)
    screenshot(ben.page, "plan-agreed-390")
    ben.page.set_viewport_size({"width": 1280, "height": 800})
    plan_state = run_outside_playwright(lambda: Plan.objects.get().state)
    assert plan_state == Plan.State.CONFIRMED

    # Two minutes before: the worker's turn (held until then in tests) sends the reminder.
    assert run_outside_playwright(lambda: later_tasks.run_due()) == 1

    # Before it: Ben was emailed the offer, Ana the acceptance (both on by default).
    def reminders() -> list[Any]:
        return [m for m in smtp_sink.messages if " starts at " in str(m["Subject"])]

    eventually(reminders, lambda found: len(found) == 2)
    by_recipient = {mail.recipients[0]: mail for mail in reminders()}
    assert set(by_recipient) == {ana.email, ben.email}
    to_ben, to_ana = by_recipient[ben.email], by_recipient[ana.email]
    assert f"Your call with Ana Lima starts at {reads(at, TOKYO)}" in str(to_ben["Subject"])
    assert f"Your call with Ben Okafor starts at {reads(at, SAO_PAULO)}" in str(to_ana["Subject"])
    assert "/plans/" in to_ben.text
    ben.page.goto(f"/people/{ana_handle}/")
    ben.page.get_by_role("button", name="Notifications").click()
    panel = ben.page.get_by_role("region", name="Notifications")
    expect(
        panel.get_by_text(f"Your call with Ana Lima starts at {reads(at, TOKYO)}")
    ).to_be_visible(timeout=10_000)
    ben.page.keyboard.press("Escape")

    # Join: Ana rings Ben through it, and Ben's Join answers her ring.
    ben_id = run_outside_playwright(lambda: User.objects.get(email=ben.email).pk)
    assert eventually(lambda: run_outside_playwright(presence(ben_id)), lambda p: p.online).online
    ben.page.get_by_role("link", name="Call with Ana Lima").click()
    ana.page.reload()
    ana.page.get_by_role("link", name="Join").click()
    ana.page.wait_for_url(re.compile(r"/call/[a-z0-9-]+/$"))
    expect(ben.page.get_by_role("alertdialog", name="Ana Lima wants to talk")).to_be_visible(
        timeout=10_000
    )
    ben.page.reload()  # the card comes back on the new page; Join is on it too
    ben.page.get_by_role("link", name="Join").click()
    ben.page.wait_for_url(re.compile(r"/call/answer/"))
    for person in (ana, ben):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    for person in (ana, ben):
        wait_for_media(person.page)  # video frames decoded and audio received, each way
    ana.page.get_by_role("button", name="End call").click()

    # The plan was kept: a direct call between them started in its window.
    ana.page.goto(f"/people/{ben_handle}/")
    assert run_outside_playwright(lambda: Plan.objects.get().state) == Plan.State.KEPT
