"""Ana writes to Ben while he is offline; he signs in later, sees the unread count, reads and
replies, and Ana sees his reply arrive without reloading."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_no_axe_violations
from tests.browser.conftest import Participant, run_outside_playwright
from tests.conftest import make_member

pytestmark = pytest.mark.browser

PASSWORD = "a-long-test-password"


def log_in(person: Participant, email: str) -> None:
    page = person.page
    page.goto("/accounts/login/")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def test_ana_writes_while_ben_is_away_and_sees_his_reply_live(
    call_sphere: Any,
    live_server: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
    settings: Any,
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message": "1000/m"}

    def two_who_talked() -> tuple[str, str]:
        from tests.connections.helpers import talk

        ana = make_member("ana-msg@example.com", name="Ana Lima")
        ben = make_member("ben-msg@example.com", name="Ben Okafor")
        talk(call_sphere, ana, ben)
        ben.profile.refresh_from_db()
        return ana.email, ben.profile.handle

    ana_email, ben_handle = run_outside_playwright(two_who_talked)
    ana = participant("Ana Lima")
    log_in(ana, ana_email)
    page = ana.page
    page.goto(f"/people/{ben_handle}/")
    page.get_by_role("link", name="Message", exact=True).click()
    log = page.get_by_role("log", name="Conversation with Ben Okafor")
    expect(log).to_be_visible()
    field = page.get_by_role("textbox", name="Write a message")
    expect(field).to_have_attribute("placeholder", "Reply whenever you're ready")
    field.fill("How did the concert go? https://example.org/setlist <b>no tags</b>")
    posts: list[str] = []
    page.on(
        "request", lambda request: posts.append(request.url) if "/send/" in request.url else None
    )
    page.get_by_role("button", name="Send message").click()
    expect(log.get_by_role("listitem")).to_have_count(1)
    assert posts == [], "the open page sends over its socket, not with a new request"
    # Placed by the page, its time reads as the server writes it ("30 Nov, 16:31").
    expect(log.locator("time").first).to_have_text(
        re.compile(r"^\d{1,2} [A-Z][a-z]{2,3}, \d\d:\d\d$")
    )
    expect(log.get_by_role("link", name="https://example.org/setlist")).to_have_attribute(
        "rel", "nofollow noopener noreferrer"
    )
    expect(log).to_contain_text("<b>no tags</b>")
    assert page.url.endswith(f"/messages/{ben_handle}/"), "sent without leaving the page"

    # Ben signs in later and sees one unread message in the navigation.
    ben = participant("Ben Okafor")
    log_in(ben, "ben-msg@example.com")
    bpage = ben.page
    bpage.goto("/spheres/")
    nav = bpage.get_by_role("navigation", name="Main")
    messages_link = nav.get_by_role("link", name="Messages", exact=True)
    expect(messages_link).to_have_accessible_description("1 unread")
    messages_link.click()
    bpage.get_by_role("link", name="Ana Lima").click()
    ben_log = bpage.get_by_role("log", name="Conversation with Ana Lima")
    expect(ben_log).to_contain_text("How did the concert go?")
    # Reading it cleared the count.
    expect(bpage.locator("#messages-unread")).to_be_hidden()
    assert_no_axe_violations(bpage, "thread, read")

    bpage.get_by_role("textbox", name="Write a message").fill(
        "Wonderful! They played the long version."
    )
    bpage.get_by_role("button", name="Send message").click()
    expect(ben_log.get_by_role("listitem")).to_have_count(2)

    # Ana's open tab shows it live: no reload.
    expect(log).to_contain_text("Wonderful! They played the long version.")
    expect(log.get_by_role("link", name="Report this message from Ben Okafor")).to_be_visible()
    assert_no_axe_violations(page, "thread, reply arrived live")

    # Ben's network lets no socket through: his page sends over HTTP instead (same key),
    # and Ana, whose socket is fine, sees it arrive live.
    bpage.route_web_socket("**/ws/", lambda socket: socket.close())
    bpage.reload()
    bpage.get_by_role("textbox", name="Write a message").fill("Sent the slow way.")
    with bpage.expect_response(lambda answer: answer.url.endswith("/send/")) as answer:
        bpage.get_by_role("button", name="Send message").click()
    assert answer.value.status == 201
    expect(ben_log).to_contain_text("Sent the slow way.")
    expect(log).to_contain_text("Sent the slow way.")

    # Forty more from Ben while Ana is away; back on the thread she sees the newest forty
    # and loads the older ones: every message once, the first one at the top.
    def forty_more() -> None:
        from chatspheres.accounts.models import User
        from tests.messaging.helpers import send

        sender = User.objects.get(email="ben-msg@example.com")
        receiver = User.objects.get(email=ana_email)
        for number in range(40):
            send(sender, receiver, f"Track {number + 1} of the long version")

    run_outside_playwright(forty_more)
    page.reload()
    expect(log.get_by_role("listitem")).to_have_count(40)
    expect(log).not_to_contain_text("How did the concert go?")
    older = page.get_by_role("link", name="Load older messages")
    older.click()
    expect(log.get_by_role("listitem")).to_have_count(43)
    expect(log.get_by_role("listitem").first).to_contain_text("How did the concert go?")
    expect(older).to_have_count(0)

    folder = os.environ.get("CHATSPHERES_SCREENSHOTS")
    screenshot(page, "messages-thread-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Send message")).to_be_visible()
    screenshot(page, "messages-thread-390x844")
    del folder
