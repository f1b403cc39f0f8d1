"""Plan pages that follow along, in two real browsers: São Paulo and Tokyo.

Ana's browser is in America/Sao_Paulo and Ben's in Asia/Tokyo. Both have the
plan's page open; Ben presses "Accept this time" and Ana's page, never
reloaded, shows the call agreed and says so. On People, Ben's cancel takes
the row away and a newly agreed plan appears. Then a plan whose join window
opens a few seconds after Ana's page loads shows "Join" by itself, and the
server lets her through it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Page, expect

from chatspheres.accounts.models import Profile, User
from chatspheres.connections.models import Plan
from chatspheres.connections.plans import plan_accept, plan_cancel, plan_propose
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
from tests.browser.test_plans_journey import SAO_PAULO, TOKYO, reads
from tests.connections.test_rings_browser import both_sizes, connected_pair

pytestmark = pytest.mark.browser

# Counts the gateway's `ready` frames: the tab is registered and will hear its events.
COUNT_READY = """(() => {
  const Native = window.WebSocket;
  window.__ready = 0;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (event) => {
        try { if (JSON.parse(event.data).type === "ready") window.__ready += 1; } catch {}
      });
    }
  };
})();"""


def user_of(person: Participant) -> tuple[int, str]:
    def fetch() -> tuple[int, str]:
        user = User.objects.get(email=person.email)
        return user.pk, Profile.objects.get(user=user).handle

    return run_outside_playwright(fetch)


def open_live(page: Page, url: str) -> None:
    """Open a page and wait until its socket is ready to hear about changes."""
    page.goto(url)
    page.wait_for_function("window.__ready > 0", timeout=10_000)
    # Marks this document: it is gone if the page is ever reloaded.
    page.evaluate("window.__sameDocument = true")


def test_ana_sees_ben_accept_and_join_appears_at_the_time_without_a_reload(
    call_sphere: Any,  # noqa: F811
    participant: Callable[..., Participant],  # noqa: F811
    screenshot: Callable[[Page, str], None],  # noqa: F811
) -> None:
    ana = participant("Ana Lima", time_zone="America/Sao_Paulo")
    ben = participant("Ben Okafor", time_zone="Asia/Tokyo")
    for person in (ana, ben):
        person.sign_up()
        person.page.add_init_script(COUNT_READY)
    connected_pair(ana, ben, call_sphere)
    (ana_id, ana_handle), (ben_id, ben_handle) = user_of(ana), user_of(ben)

    # Ana offered two times; both have the plan's page open.
    first = (
        (timezone.now() + timedelta(days=2))
        .astimezone(UTC)
        .replace(hour=12, minute=0, second=0, microsecond=0)
    )
    second = first + timedelta(days=1)
    plan_id = run_outside_playwright(
        lambda: plan_propose(proposer_id=ana_id, other_id=ben_id, times=[first, second]).public_id
    )
    open_live(ana.page, f"/people/{ben_handle}/plans/{plan_id}/")
    open_live(ben.page, f"/people/{ana_handle}/plans/{plan_id}/")
    main = ana.page.locator("main")
    expect(main).to_contain_text("Waiting for Ben Okafor to accept one.")
    expect(ana.page.get_by_text("Proposed", exact=True)).to_be_visible()
    both_sizes(ana.page, screenshot, "plan-live-before")

    # Ben accepts the second time, in Tokyo.
    ben.page.get_by_role("button", name="Accept this time").nth(1).click()
    expect(ben.page.get_by_text("Planned for ")).to_be_visible()

    # Ana's page, never reloaded, shows it agreed in her own time and says so.
    status = ana.page.get_by_role("status").filter(has_text="accepted")
    expect(status).to_have_text(
        re.compile(rf"^Ben Okafor accepted {re.escape(reads(second, SAO_PAULO))}, ")
    )
    expect(ana.page.get_by_role("heading", name="Agreed time")).to_be_visible()
    expect(ana.page.get_by_text("Confirmed", exact=True)).to_be_visible()
    expect(main).to_contain_text(
        f"{reads(second, SAO_PAULO)} for you · {reads(second, TOKYO)} for Ben Okafor"
    )
    expect(main).not_to_contain_text("Waiting for Ben Okafor")
    expect(ana.page.get_by_role("link", name="Add to calendar")).to_be_visible()
    expect(ana.page.get_by_role("link", name="Join")).to_be_hidden()
    assert ana.page.evaluate("window.__sameDocument === true")
    assert_no_axe_violations(ana.page, "plan agreed live")
    both_sizes(ana.page, screenshot, "plan-live-after")

    # On People, the planned calls follow along too: Ben cancels, the row goes.
    open_live(ana.page, "/people/")
    planned = ana.page.get_by_role("region", name="Planned calls")
    expect(planned.get_by_role("link", name="Call with Ben Okafor")).to_have_count(1)
    run_outside_playwright(lambda: plan_cancel(user_id=ben_id, public_id=plan_id))
    expect(ana.page.get_by_role("status").filter(has_text="cancelled")).to_have_text(
        "Ben Okafor cancelled the plan"
    )
    expect(planned).to_be_hidden()

    # A plan agreed for a time whose join window opens a few seconds from now
    # (Ana accepts it in another tab) appears among them.
    early = timedelta(seconds=settings.PLAN_JOIN_EARLY_SECONDS)
    soon = (timezone.now() + early + timedelta(seconds=15)).replace(microsecond=0)

    def agree_soon() -> str:
        plan = plan_propose(proposer_id=ben_id, other_id=ana_id, times=[soon])
        return plan_accept(user_id=ana_id, public_id=plan.public_id, at=soon).public_id

    soon_id = run_outside_playwright(agree_soon)
    expect(planned.get_by_role("link", name="Call with Ben Okafor")).to_be_visible()
    expect(planned).to_contain_text(f"{reads(soon, SAO_PAULO)} for you")
    assert ana.page.evaluate("window.__sameDocument === true")
    both_sizes(ana.page, screenshot, "people-live-after")

    # Its page: no Join yet, then Join by itself when the window opens.
    open_live(ana.page, f"/people/{ben_handle}/plans/{soon_id}/")
    join = ana.page.get_by_role("link", name="Join")
    expect(join).to_be_hidden()
    opens = ana.page.locator("#plan-part").get_attribute("data-join-opens")
    assert opens == (soon - early).astimezone(UTC).isoformat().replace("+00:00", "Z")
    # The page loaded before the window opened, so what follows is its own timer's doing.
    assert ana.page.evaluate("(opens) => Date.now() < Date.parse(opens)", opens)
    both_sizes(ana.page, screenshot, "plan-join-before")
    expect(join).to_be_visible(timeout=30_000)
    expect(ana.page.get_by_role("status").filter(has_text="Join is here")).to_have_text(
        "It's time for your call with Ben Okafor: Join is here."
    )
    expect(ana.page.get_by_text('"Join" appears here a few minutes')).to_be_hidden()
    assert ana.page.evaluate("window.__sameDocument === true")
    both_sizes(ana.page, screenshot, "plan-join-after")

    # The server agrees the window is open: Join rings Ben.
    join.click()
    ana.page.wait_for_url(re.compile(r"/call/[a-z0-9-]+/$"))
    state = run_outside_playwright(lambda: Plan.objects.get(public_id=soon_id).state)
    assert state == Plan.State.CONFIRMED
