"""The call screen: one screen on a laptop and a phone, its endings in words, axe on each state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.axe import assert_no_axe_violations
from tests.browser.conftest import Participant, say
from tests.browser.test_call_journey import meet, status

pytestmark = pytest.mark.browser

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
# The phone with its on-screen keyboard open: what is left of the screen above it.
PHONE_WITH_KEYBOARD = {"width": 390, "height": 500}


def use_touch(page: Page) -> None:
    """Make the page a touch screen (a coarse pointer that cannot hover), as on a phone."""
    session = page.context.new_cdp_session(page)
    session.send("Emulation.setTouchEmulationEnabled", {"enabled": True, "maxTouchPoints": 5})
    assert page.evaluate("matchMedia('(pointer: coarse)').matches")


# Whether what a tap at the middle of the element reaches is the element itself.
REACHABLE = """(el) => {
  const box = el.getBoundingClientRect();
  const hit = document.elementFromPoint(box.x + box.width / 2, box.y + box.height / 2);
  return hit !== null && (hit === el || el.contains(hit));
}"""


def assert_inside_viewport(page: Page, size: dict[str, int], *parts: Locator) -> None:
    """Each part is shown whole inside the window (all but the first uncovered); no page scroll."""
    for part in parts:
        expect(part).to_be_visible()
        box = part.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["y"] >= 0, (part, box, size)
        assert box["x"] + box["width"] <= size["width"] + 0.5, (part, box, size)
        assert box["y"] + box["height"] <= size["height"] + 0.5, (part, box, size)
    for part in parts[1:]:
        # Not covered by anything either (a drawer, a card): a tap there reaches it.
        assert part.evaluate(REACHABLE), part
    scroll = page.evaluate(
        "() => [document.documentElement.scrollHeight, document.documentElement.scrollWidth]"
    )
    assert scroll[0] <= size["height"] and scroll[1] <= size["width"], (scroll, size)


def call_parts(page: Page) -> tuple[Locator, ...]:
    """The partner's video, "End call", the status line and the chat field."""
    return (
        page.locator("#remote-video"),
        page.get_by_role("button", name="End call"),
        status(page),
        page.get_by_label("Message"),
    )


def test_the_call_screen_fits_says_how_each_call_ended_and_passes_axe(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    screenshot: Callable[[Page, str], None],
) -> None:
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor")

    def check(page: Page, name: str) -> None:
        # meet() calls this at the preview and on the waiting screen.
        assert_no_axe_violations(page, name)
        screenshot(page, f"screen-{name}")

    meet(ana, ben, call_sphere, check)

    # -- In the call, on a laptop: one screen, no site navigation, named videos.
    for me, partner in ((ana, ben), (ben, ana)):
        expect(status(me.page)).to_have_text(f"Connected with {partner.name}")
        expect(me.page.get_by_label(f"{partner.name}'s video")).to_be_visible()
        expect(
            me.page.get_by_role("region", name=f"Call with {partner.name}").get_by_label(
                "Your video"
            )
        ).to_be_visible()
        expect(me.page.get_by_role("navigation", name="Main")).to_be_hidden()
        expect(me.page.get_by_role("button", name="Log out")).to_be_hidden()
    page = ana.page
    assert_inside_viewport(page, LAPTOP, *call_parts(page))
    expect(page.get_by_role("button", name="Chat")).to_be_hidden()  # the chat is beside the video
    expect(page.get_by_text("Shortcuts:").last).to_be_visible()  # a mouse and a keyboard here
    mute = page.get_by_role("button", name="Mute")
    expect(mute).not_to_have_attribute("aria-pressed", "true")
    assert_no_axe_violations(page, "in-call (laptop)")
    screenshot(page, "screen-call-1280x800")

    # -- Leaving the page mid-call asks first; staying keeps the call.
    dialogs: list[str] = []

    def stay(dialog: Any) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()

    page.on("dialog", stay)
    page.evaluate("() => { setTimeout(() => { window.location.href = '/spheres/'; }, 0); }")
    for _ in range(100):  # a bound, not a timing: the dialog comes as soon as the page asks
        if dialogs:
            break
        page.wait_for_timeout(100)
    page.remove_listener("dialog", stay)
    assert dialogs == ["beforeunload"]
    expect(status(page)).to_have_text("Connected with Ben Okafor")

    # -- Ben on a phone: the video fills the screen, the chat is a drawer.
    use_touch(ben.page)
    ben.page.set_viewport_size(PHONE)
    phone = ben.page
    expect(phone.get_by_text("Shortcuts:").last).to_be_hidden()
    chat = phone.get_by_role("button", name="Chat")
    expect(chat).to_have_attribute("aria-expanded", "false")
    expect(phone.get_by_label("Message")).to_be_hidden()
    page.get_by_label("Message").fill("Hello from Ana")
    page.get_by_role("button", name="Send").click()
    expect(chat).to_have_accessible_description("1 unread message", timeout=10_000)
    expect(phone.locator("#chat-unread")).to_have_text("1")
    screenshot(phone, "screen-call-390x844-closed")
    chat.click()
    expect(chat).to_have_attribute("aria-expanded", "true")
    expect(phone.get_by_role("log")).to_contain_text("Hello from Ana")
    expect(phone.locator("#chat-unread")).to_be_hidden()
    assert_inside_viewport(phone, PHONE, *call_parts(phone))
    assert_no_axe_violations(phone, "in-call (phone, chat open)")
    screenshot(phone, "screen-call-390x844-chat")
    phone.set_viewport_size(PHONE_WITH_KEYBOARD)
    phone.get_by_label("Message").focus()
    assert_inside_viewport(phone, PHONE_WITH_KEYBOARD, *call_parts(phone))
    screenshot(phone, "screen-call-390x500-keyboard")
    say(ben, ana, "Hi Ana, Ben here")
    phone.keyboard.press("Escape")
    expect(chat).to_be_focused()
    expect(phone.get_by_label("Message")).to_be_hidden()
    phone.set_viewport_size(PHONE)

    # -- What Ana changes is shown on Ben's screen and said to his screen reader.
    announce = phone.locator("#call-announce")
    mute.click()
    expect(page.get_by_role("button", name="Unmute")).to_be_visible()
    expect(phone.get_by_text("Ana Lima is muted")).to_be_visible(timeout=10_000)
    expect(announce).to_have_text("Ana Lima muted.")
    page.get_by_role("button", name="Turn camera off").click()
    expect(phone.get_by_text("Ana Lima's camera is off")).to_be_visible(timeout=10_000)
    expect(announce).to_have_text("Ana Lima turned their camera off.")

    # -- Ana moves on: Ben, left behind, is offered "Find someone new" first.
    page.get_by_role("button", name="Next").click()
    expect(status(phone)).to_have_text("Ana Lima moved on", timeout=10_000)
    expect(phone.get_by_role("heading", name="Ana Lima moved on")).to_be_visible()
    find = phone.get_by_role("button", name="Find someone new")
    expect(find).to_be_focused()
    expect(phone.get_by_role("navigation", name="Main")).to_be_visible()
    assert_no_axe_violations(phone, "ended (phone)")
    screenshot(phone, "screen-ended-390x844")
    expect(status(page)).to_have_text("Waiting for someone…", timeout=10_000)
    assert_no_axe_violations(page, "waiting after Next")

    # Ben asks to be kept in the queue and looks again; Ana stops looking.
    phone.get_by_role("checkbox", name="Keep me in the queue").check()
    find.click()
    expect(status(phone)).to_have_text("Waiting for someone…", timeout=10_000)
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("button", name="Join call")).to_be_visible(timeout=10_000)

    # -- Cleo meets Ben and moves on: Ben's remembered choice puts him back in the queue.
    cleo = participant("Cleo Ward")
    cleo.sign_up()
    cleo.open_call_page(call_sphere.slug)
    cleo.page.get_by_role("button", name="Join call").click()
    expect(cleo.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    expect(phone.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
    cleo.page.get_by_role("button", name="Next").click()
    expect(status(phone)).to_have_text("Waiting for someone…", timeout=10_000)
    expect(phone.get_by_text("Cleo Ward moved on.", exact=True)).to_be_visible()
    expect(phone.get_by_role("checkbox", name="Keep me in the queue")).to_be_checked()

    # -- Ana and Cleo meet; Cleo ends the call: each reads who ended it.
    ben.page.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="Join call").click()
    for person, other in ((ana, cleo), (cleo, ana)):
        expect(status(person.page)).to_have_text(f"Connected with {other.name}", timeout=30_000)
    cleo.page.get_by_role("button", name="End call").click()
    expect(status(cleo.page)).to_have_text("You ended the call", timeout=10_000)
    expect(status(page)).to_have_text("Cleo Ward ended the call", timeout=10_000)
    expect(page.get_by_role("button", name="Start a conversation")).to_be_visible()
    assert_no_axe_violations(page, "ended (laptop)")
    screenshot(page, "screen-ended-1280x800")
    for person in (ana, ben, cleo):
        assert not [line for line in person.console if line.startswith("[pageerror]")]
