"""Report, decision and appeal, end to end through the real pages, in real browsers.

Ana reports Ben from his page and is told at once that a moderator will look.
Mia, a moderator, reads the report on /moderation/ and suspends Ben with a
statement of reasons. Ben's open page loses its socket within 5 seconds, and
signing in again is refused with the end date. Ben appeals through the link in
his email; Max, another moderator, overturns the decision. The audit log has
a line for each step, and Ana finds the outcome in her notifications.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Callable
from typing import Any

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from playwright.sync_api import BrowserContext, Page, expect

from chatspheres.accounts.models import User
from chatspheres.moderation.models import AuditEntry, Decision
from chatspheres.safety.models import Report
from tests.browser.axe import assert_no_axe_violations
from tests.browser.conftest import Participant, run_outside_playwright
from tests.conftest import make_member
from tests.moderation.helpers import PASSWORD, make_moderator, talk

pytestmark = pytest.mark.browser

# Every WebSocket the page opens records how it opened and closed, before the page's scripts run.
RECORD_SOCKETS = """(() => {
  const Native = window.WebSocket;
  window.__socketOpens = 0;
  window.__socketCloses = [];
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { window.__socketOpens += 1; });
      this.addEventListener("close", (event) => {
        window.__socketCloses.push({ code: event.code, at: Date.now() });
      });
    }
  };
})();"""
STATEMENT_ADDED = "In the chat you wrote that you would find out where she lives."


def people(sphere: Any) -> dict[str, User]:
    """Ana and Ben, who talked once; Mia and Max, moderators. Every address is confirmed."""
    found = {
        "ana": make_member("ana@example.com", name="Ana Lima", spheres=(sphere,)),
        "ben": make_member("ben@example.com", name="Ben Okafor", spheres=(sphere,)),
        "mia": make_moderator("mia@example.com", name="Mia"),
        "max": make_moderator("max@example.com", name="Max"),
    }
    for user in found.values():
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    talk(sphere, found["ana"], found["ben"])
    return found


def sign_in(page: Page, email: str) -> Any:
    """Fill the login form; return the response to the post."""
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()
    return answer.value


def second_person(ana: Participant, live_server: Any) -> tuple[BrowserContext, Page]:
    """Another person in a context of their own, in an existing browser (one less to start)."""
    context = ana.browser.new_context(
        base_url=live_server.url, viewport={"width": 1280, "height": 800}
    )
    return context, context.new_page()


def test_report_suspend_appeal_and_overturn_end_to_end(
    call_sphere: Any,
    live_server: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    members = run_outside_playwright(lambda: people(call_sphere))
    ben_handle = run_outside_playwright(lambda: members["ben"].profile.handle)
    ana, ben = participant("Ana Lima"), participant("Ben Okafor")
    mia_context, mia = second_person(ana, live_server)
    max_context, max_page = second_person(ana, live_server)

    # 1. Ana reports Ben from his page and is told at once what happens next.
    sign_in(ana.page, "ana@example.com")
    ana.page.goto(f"/people/{ben_handle}/")
    ana.page.get_by_role("button", name="Report Ben Okafor").click()
    dialog = ana.page.get_by_role("dialog", name="Report Ben Okafor")
    dialog.get_by_role("radiogroup", name="Reason").get_by_role(
        "radio", name="Harassment or bullying"
    ).check()
    dialog.get_by_label("What happened?").fill("He said he would find out where I live.")
    dialog.get_by_role("button", name="Send report").click()
    expect(
        dialog.get_by_text("Thanks. A moderator will look at it; we'll tell you what they decide.")
    ).to_be_visible(timeout=10_000)

    # Ben has a page of the site open, with its socket.
    ben.page.add_init_script(RECORD_SOCKETS)
    sign_in(ben.page, "ben@example.com")
    ben.page.goto("/spheres/")
    ben.page.wait_for_function("window.__socketOpens > 0", timeout=10_000)

    # 2. Mia reads the report in context and suspends Ben with a statement of reasons.
    sign_in(mia, "mia@example.com")
    mia.goto("/moderation/")
    reports = mia.get_by_role("table", name="Reports")
    expect(reports).to_contain_text("Ben Okafor")
    expect(reports).to_contain_text("Harassment or bullying")
    expect(reports).to_contain_text("Ana Lima")
    expect(reports).to_contain_text("He said he would find out where I live.")
    expect(reports).to_contain_text("Night Owls")
    screenshot(mia, "moderation-1280x800")
    assert_no_axe_violations(mia, "moderation page")
    mia.set_viewport_size({"width": 390, "height": 844})
    expect(mia.get_by_role("link", name="Review the report about Ben Okafor")).to_be_visible()
    screenshot(mia, "moderation-390x844")
    assert_no_axe_violations(mia, "moderation page on a phone")
    mia.set_viewport_size({"width": 1280, "height": 800})
    mia.get_by_role("link", name="Review the report about Ben Okafor").click()
    expect(mia.get_by_role("heading", name="Report about Ben Okafor")).to_be_visible()
    for action in ("Dismiss", "Warn", "Ban"):
        expect(mia.get_by_role("radio", name=action, exact=True)).to_be_visible()
    mia.get_by_role("radio", name="Suspend", exact=True).check()
    statement = mia.get_by_role("textbox", name="Statement of reasons")
    expect(statement).to_have_value(re.compile(r"harassing or bullying.*is suspended", re.S))
    statement.fill(statement.input_value() + " " + STATEMENT_ADDED)
    mia.get_by_label("Suspend for (days)").fill("3")
    screenshot(mia, "moderation-report-decide")
    assert_no_axe_violations(mia, "report page")
    decided_at = ben.page.evaluate("Date.now()")
    mia.get_by_role("button", name="Send decision").click()
    expect(mia.get_by_text("Decided: Suspend.")).to_be_visible()

    # 3. Ben's socket closes within 5 seconds, and signing in again is refused with the end date.
    ben.page.wait_for_function(
        "window.__socketCloses.some((c) => c.code === 4001)", timeout=5_000, polling=50
    )
    closes = ben.page.evaluate("window.__socketCloses")
    assert [c["code"] for c in closes] == [4001]
    assert (closes[0]["at"] - decided_at) / 1000 < 5
    decision = run_outside_playwright(lambda: Decision.objects.get())
    assert decision.ends_at is not None
    until = decision.ends_at.astimezone(zoneinfo.ZoneInfo("Europe/Paris"))
    ben.page.goto("/spheres/")
    expect(ben.page.get_by_role("link", name="Log in")).to_be_visible()  # his session is over
    refused = sign_in(ben.page, "ben@example.com")
    assert refused.status == 403
    expect(ben.page.get_by_role("heading", name="Your account is suspended")).to_be_visible()
    expect(
        ben.page.get_by_text(f"until {until:%A %-d %B %Y, %H:%M} (Europe/Paris time)")
    ).to_be_visible()
    expect(ben.page.get_by_role("link", name="Read why, and appeal")).to_be_visible()
    screenshot(ben.page, "moderation-login-refused")
    assert_no_axe_violations(ben.page, "refused sign-in")

    # 4. Ben appeals through the link in the email he was sent.
    to_ben = next(message for message in mail.outbox if message.to == ["ben@example.com"])
    assert STATEMENT_ADDED in to_ben.body
    link = re.search(r"https?://\S+(/moderation/notice/\S+/)", to_ben.body)
    assert link is not None, to_ben.body
    ben.page.goto(link.group(1))
    expect(ben.page.get_by_text(STATEMENT_ADDED)).to_be_visible()
    assert_no_axe_violations(ben.page, "decision notice")
    screenshot(ben.page, "moderation-notice")
    ben.page.get_by_label("Why should this be looked at again?").fill(
        "I never said that; she must mean someone else."
    )
    ben.page.get_by_role("button", name="Appeal").click()
    expect(ben.page.get_by_text("Your appeal is sent.")).to_be_visible()

    # 5. Max, not Mia, decides the appeal: he overturns the suspension.
    sign_in(max_page, "max@example.com")
    max_page.goto("/moderation/")
    max_page.get_by_role("link", name=re.compile(r"Appeal by Ben Okafor")).click()
    max_page.get_by_role("radio", name="Overturn").check()
    answer = max_page.get_by_role("textbox", name="Statement of reasons")
    expect(answer).to_have_value(re.compile("should not have been taken"))
    screenshot(max_page, "moderation-appeal")
    assert_no_axe_violations(max_page, "appeal page")
    max_page.get_by_role("button", name="Send answer").click()
    expect(max_page.get_by_text("Appeal answered: Decision overturned.")).to_be_visible()
    assert sign_in(ben.page, "ben@example.com").status == 302  # Ben may sign in again

    # 6. The audit log has every step, with who and why.
    max_page.goto("/moderation/log/")
    log = max_page.get_by_role("table", name="Audit log")
    rows = log.get_by_role("row")
    expect(rows).to_have_count(5)  # the header and four lines
    for words in (
        "Report filed: harassment",
        "Decision: suspend 3 days",
        "Appeal made: suspend",
        "Appeal outcome: overturned",
    ):
        expect(log).to_contain_text(words)
    expect(log).to_contain_text("Mia <mia@example.com>")
    expect(log).to_contain_text("Max <max@example.com>")
    screenshot(max_page, "moderation-log")
    kinds = run_outside_playwright(
        lambda: list(AuditEntry.objects.order_by("id").values_list("kind", flat=True))
    )
    assert kinds == ["report_filed", "decision", "appeal_made", "appeal_outcome"]
    assert run_outside_playwright(lambda: Report.objects.get().state) == "decided"

    # 7. Ana finds the outcome in her notifications.
    ana.page.goto("/notifications/")
    expect(
        ana.page.get_by_text("A moderator looked at your report about Ben Okafor: we took action")
    ).to_be_visible()
    mia_context.close()
    max_context.close()
