"""Ana reports Ben mid-call, then blocks him: his call ends at once, and they never meet again."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatspheres.accounts.models import Profile, User
from chatspheres.safety.models import Block, Report
from tests.browser.axe import assert_no_axe_violations
from tests.browser.conftest import Participant, run_outside_playwright, say
from tests.browser.test_call_journey import meet, status
from tests.conftest import make_member
from tests.realtime.wsclient import Tab

pytestmark = pytest.mark.browser

ROUNDS = 50
ACK = "Thanks. A moderator will look at it; we'll tell you what they decide."


def wait_outcome(tab: Tab) -> str:
    """What a join came to: "queue.waiting", or "match.found" (other news is passed over)."""
    while True:
        frame = tab.receive()
        if frame["type"] in ("queue.waiting", "match.found"):
            return str(frame["type"])


def leave(tab: Tab) -> None:
    tab.send({"type": "queue.leave"})
    while tab.receive()["type"] != "queue.left":
        pass


def test_a_block_mid_call_ends_it_at_once_and_they_are_never_matched_again(
    call_sphere: Any,
    live_server: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")
    meet(ana, ben, call_sphere)
    say(ben, ana, "Give me your address or else")
    page = ana.page

    # Report and Block sit in the call's own header, on a laptop and on a phone.
    expect(page.get_by_role("button", name="Report Ben Okafor")).to_be_visible()
    expect(page.get_by_role("button", name="Block Ben Okafor")).to_be_visible()
    screenshot(page, "block-call-1280x800")
    page.set_viewport_size({"width": 390, "height": 844})
    expect(page.get_by_role("button", name="Block Ben Okafor")).to_be_in_viewport()
    screenshot(page, "block-call-390x844")
    page.set_viewport_size({"width": 1280, "height": 800})

    # Ana reports Ben through the dialog; she is told at once what happens next.
    page.get_by_role("button", name="Report Ben Okafor").click()
    dialog = page.get_by_role("dialog", name="Report Ben Okafor")
    expect(dialog).to_be_visible()
    reasons = dialog.get_by_role("radiogroup", name="Reason")
    reasons.get_by_role("radio", name="Threat of harm").check()
    dialog.get_by_label("What happened?").fill("He threatened me in the chat.")
    screenshot(page, "report-dialog")
    assert_no_axe_violations(page, "report dialog")
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog.get_by_text(ACK)).to_be_visible(timeout=10_000)
    dialog.get_by_role("button", name="Close").click()
    expect(dialog).to_be_hidden()

    def reported() -> tuple[str, str, list[dict[str, str]], bool]:
        report = Report.objects.select_related("conversation").get()
        return (
            report.reason,
            report.details,
            report.chat_excerpt,
            report.conversation is not None and report.conversation.sphere_id == call_sphere.pk,
        )

    reason, details, excerpt, in_this_call = run_outside_playwright(reported)
    assert (reason, details, in_this_call) == ("threat", "He threatened me in the chat.", True)
    assert [(line["from"], line["text"]) for line in excerpt] == [
        ("subject", "Give me your address or else")
    ]

    # Ana blocks Ben, and confirms.
    page.get_by_role("button", name="Block Ben Okafor").click()
    confirm = page.get_by_role("dialog", name="Block Ben Okafor?")
    expect(confirm).to_contain_text("Ben Okafor won't be told.")
    assert_no_axe_violations(page, "block confirmation")
    confirm.get_by_role("button", name="Block", exact=True).click()

    # Ben's call ends at once, as any call the other person ends: nothing says "blocked".
    expect(ben.page.get_by_role("button", name="End call")).to_be_hidden(timeout=10_000)
    expect(status(ben.page)).to_have_text("Ana Lima ended the call")
    expect(ben.page.get_by_role("group", name="How was it?")).to_be_visible()
    expect(ben.page.get_by_role("button", name="Follow")).to_be_visible()
    expect(ben.page.locator("main")).not_to_contain_text(
        re.compile("blocked", re.IGNORECASE), use_inner_text=True
    )
    # Ana's call ends too, and she sees the reflection with what she did.
    expect(status(page)).to_have_text("You ended the call", timeout=10_000)
    expect(page.get_by_role("group", name="How was it?")).to_be_visible()
    expect(page.get_by_text("You blocked Ben Okafor. They won't be told.")).to_be_visible()
    expect(page.get_by_role("button", name="Follow")).to_be_hidden()
    screenshot(page, "block-reflection")
    assert_no_axe_violations(page, "reflection after a block")

    # Then, over 50 rounds in which both wait in the sphere on real sockets,
    # in either order, they are never matched.
    def members() -> tuple[User, User, User]:
        found = {p.display_name: p.user for p in Profile.objects.select_related("user")}
        assert Block.objects.filter(blocker=found["Ana Lima"], blocked=found["Ben Okafor"]).exists()
        cleo = make_member("cleo@example.com", name="Cleo Ward", spheres=(call_sphere,))
        return found["Ana Lima"], found["Ben Okafor"], cleo

    ana_user, ben_user, cleo_user = run_outside_playwright(members)
    ana_tab, ben_tab, cleo_tab = run_outside_playwright(
        lambda: [Tab(live_server, user) for user in (ana_user, ben_user, cleo_user)]
    )
    order = random.Random(9)
    for _ in range(ROUNDS):
        first, second = order.sample([ana_tab, ben_tab], 2)
        first.send({"type": "queue.join", "sphere": call_sphere.pk})
        assert wait_outcome(first) == "queue.waiting"
        second.send({"type": "queue.join", "sphere": call_sphere.pk})
        assert wait_outcome(second) == "queue.waiting", "a blocked pair was matched"
        leave(first)
        leave(second)
    # The queue itself works: Cleo, arriving after Ana, meets her.
    ana_tab.send({"type": "queue.join", "sphere": call_sphere.pk})
    assert wait_outcome(ana_tab) == "queue.waiting"
    cleo_tab.send({"type": "queue.join", "sphere": call_sphere.pk})
    assert wait_outcome(cleo_tab) == "match.found"
    for tab in (ana_tab, ben_tab, cleo_tab):
        tab.close()

    # On People, Ben's row keeps the history but says he is blocked; his page is gone.
    page.goto("/people/")
    history = page.get_by_role("region", name="People you've talked with")
    expect(history.get_by_text("Blocked", exact=True)).to_be_visible()
    expect(history.get_by_role("link", name="Ben Okafor")).to_have_count(0)
    # "Blocked people" on her profile lists him, and Unblock lifts it.
    page.goto("/profile/")
    blocked = page.get_by_role("region", name="Blocked people")
    blocked.get_by_role("button", name="Unblock Ben Okafor").click()
    expect(page.get_by_text("You unblocked Ben Okafor.")).to_be_visible()
    expect(page.get_by_role("region", name="Blocked people")).to_contain_text(
        "You haven't blocked anyone."
    )

    # On Ben's page, the same two dialogs: a report is acknowledged in place,
    # and a confirmed block leads back to People with the words.
    page.goto("/people/")
    page.get_by_role("region", name="People you've talked with").get_by_role(
        "link", name="Ben Okafor"
    ).click()
    expect(page.get_by_role("heading", name="Ben Okafor", level=1)).to_be_visible()
    page.get_by_role("button", name="Report Ben Okafor").click()
    dialog = page.get_by_role("dialog", name="Report Ben Okafor")
    dialog.get_by_role("radio", name="Spam or scam").check()
    dialog.get_by_role("button", name="Send report").click()
    expect(dialog.get_by_text(ACK)).to_be_visible(timeout=10_000)
    dialog.get_by_role("button", name="Close").click()
    page.get_by_role("button", name="Block Ben Okafor").click()
    page.get_by_role("dialog", name="Block Ben Okafor?").get_by_role(
        "button", name="Block", exact=True
    ).click()
    expect(page.get_by_text("You blocked Ben Okafor. They won't be told.")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/people/$"))
    assert run_outside_playwright(lambda: (Report.objects.count(), Block.objects.count())) == (2, 1)
