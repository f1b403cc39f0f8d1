"""Two people in a call draw a prompt together and go deeper only when both want to."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import assert_no_axe_violations
from tests.browser.conftest import Participant, run_outside_playwright
from tests.browser.test_call_journey import meet

pytestmark = pytest.mark.browser

# The bound for the card to reach the other screen; a bound on a wait, not a timing.
SAME_CARD_WITHIN_MS = 1_000


def card_text(page: Page) -> str:
    return page.get_by_role("region", name="Prompt").locator("#prompt-text").inner_text()


def test_both_see_the_same_prompt_and_go_deeper_only_together(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    from chatspheres.prompts.services import prompts_load_shipped

    run_outside_playwright(prompts_load_shipped)
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")
    meet(ana, ben, call_sphere)
    prompt = {
        person.name: person.page.get_by_role("region", name="Prompt") for person in (ana, ben)
    }
    for person in (ana, ben):
        expect(prompt[person.name]).to_contain_text("Warm-up")
        expect(person.page.get_by_role("button", name="Pass")).to_be_disabled()

    ana.page.get_by_role("button", name="Draw a prompt").click()
    expect(prompt[ana.name].locator("#prompt-text[data-painted-at]")).to_be_attached(timeout=10_000)
    drawn = card_text(ana.page)
    expect(prompt[ben.name]).to_contain_text(drawn, timeout=SAME_CARD_WITHIN_MS)
    screenshot(ben.page, "prompt-drawn")
    assert_no_axe_violations(ben.page, "prompt drawn")

    # On a phone the card lives in the Chat drawer: with the drawer closed its
    # words show over the video, and a tap opens the drawer with its buttons.
    ben.page.set_viewport_size({"width": 390, "height": 844})
    peek = ben.page.get_by_role("button", name=f"Prompt {drawn}")
    expect(peek).to_be_visible()
    expect(prompt[ben.name]).to_be_hidden()
    screenshot(ben.page, "prompt-drawn-phone")
    peek.click()
    expect(prompt[ben.name]).to_be_visible()
    expect(ben.page.get_by_role("button", name="Draw a prompt")).to_be_focused()
    expect(peek).to_be_hidden()
    ben.page.get_by_role("button", name="Chat").click()
    ben.page.set_viewport_size({"width": 1280, "height": 800})

    # Pass: another card, still a warm-up, on both screens.
    ben.page.get_by_role("button", name="Pass").click()
    expect(prompt[ben.name]).not_to_contain_text(drawn, timeout=10_000)
    passed = card_text(ben.page)
    expect(prompt[ana.name]).to_contain_text(passed, timeout=10_000)

    # Ana wants to go deeper: Ben is told, and nothing else changes for either.
    ana.page.get_by_role("button", name="Go deeper").click()
    expect(prompt[ben.name]).to_contain_text("Ana Lima wants to go deeper", timeout=10_000)
    expect(prompt[ana.name]).to_contain_text("Waiting for Ben Okafor to tap Go deeper too")
    screenshot(ben.page, "prompt-partner-wants-deeper")
    assert_no_axe_violations(ben.page, "partner wants to go deeper")
    for person in (ana, ben):
        expect(prompt[person.name]).to_contain_text("Warm-up")
        expect(prompt[person.name]).to_contain_text(passed)

    # Ben taps it too: both are now on a deeper card.
    ben.page.get_by_role("button", name="Go deeper").click()
    for person in (ana, ben):
        expect(prompt[person.name]).to_contain_text("You both chose to go deeper", timeout=10_000)
        expect(prompt[person.name].locator("#prompt-depth")).to_have_text("Deeper")
        expect(prompt[person.name]).not_to_contain_text(passed)
    assert card_text(ana.page) == card_text(ben.page)
    screenshot(ana.page, "prompt-deeper")

    # They talk again another day (Ana calls Ben, a connection now): no card
    # the two of them have seen comes back.
    seen = {drawn, passed, card_text(ana.page)}
    ana.page.get_by_role("button", name="End call").click()
    expect(ben.page.get_by_role("group", name="How was it?")).to_be_visible(timeout=10_000)

    def connect() -> str:
        from chatspheres.accounts.models import Profile
        from chatspheres.connections.services import talk_again_wish

        first = Profile.objects.get(display_name=ana.name)
        second = Profile.objects.get(display_name=ben.name)
        talk_again_wish(wisher_id=first.user_id, about_id=second.user_id)
        talk_again_wish(wisher_id=second.user_id, about_id=first.user_id)
        return second.handle

    bens_handle = run_outside_playwright(connect)
    ben.page.goto("/spheres/")
    for _ in range(30):  # presence is written about once a second: a bounded few tries
        ana.page.goto(f"/call/{bens_handle}/")
        if not ana.page.get_by_text("isn't online right now").count():
            break
        ana.page.wait_for_timeout(500)
    ben.page.get_by_role("alertdialog", name=f"{ana.name} wants to talk").get_by_role(
        "button", name="Accept"
    ).click()
    ben.page.wait_for_url(re.compile(r"/call/answer/"))
    for person in (ana, ben):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    again = ana.page.get_by_role("region", name="Prompt")
    ana.page.get_by_role("button", name="Draw a prompt").click()
    for _ in range(3):
        expect(again.locator("#prompt-text[data-painted-at]")).to_be_attached(timeout=10_000)
        card = card_text(ana.page)
        assert card not in seen, f"{card!r} was drawn again for the same pair"
        seen.add(card)
        ana.page.get_by_role("button", name="Pass").click()
        expect(again.locator("#prompt-text")).not_to_have_text(card, timeout=10_000)
