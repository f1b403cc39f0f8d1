"""Talk balance and soft start, in two real browsers.

Each person's browser hears a WAV this test writes, through Chromium's
``--use-file-for-fake-audio-capture``: a tone for a known share of every few
seconds and silence for the rest, so the truth of who spoke how much is known.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatspheres.calls.models import Participant as Side
from tests.browser.axe import assert_no_axe_violations
from tests.browser.conftest import Participant, run_outside_playwright
from tests.browser.test_call_journey import meet
from tests.browser.voices import voice_flags, write_voice

pytestmark = pytest.mark.browser

# How far the meter may be from the truth, in percentage points.
TOLERANCE = 10
# Long enough for the share to settle whatever the phase of each person's loop.
TALK_SECONDS = 30

PARTNER_FILTER = "() => getComputedStyle(document.getElementById('remote-video')).filter"
TALKED = "window.chatspheresBalance.mine + window.chatspheresBalance.partner"
SPLIT = re.compile(r"^You (\d+)% · (.+) (\d+)%$")


@pytest.fixture
def speaker(
    participant: Callable[..., Participant], tmp_path: Path
) -> Callable[[str, float], Participant]:
    """A person whose microphone speaks the given share of the time, in a browser of their own."""

    def make(name: str, speaking: float) -> Participant:
        voice = tmp_path / f"{uuid.uuid4().hex[:8]}.wav"
        write_voice(voice, speaking)
        return participant(name, extra_args=voice_flags(voice))

    return make


def my_share(page: Page, partner: str) -> int:
    """The speaker's own share on the meter ("You 70% · Ben 30%")."""
    words = page.get_by_role("meter", name="Talk balance").get_attribute("aria-valuetext") or ""
    found = SPLIT.match(words)
    assert found, f"the meter says {words!r}"
    assert found.group(2) == partner
    assert int(found.group(1)) + int(found.group(3)) == 100
    return int(found.group(1))


def partner_is_blurred(page: Page) -> bool:
    return "blur" in page.evaluate(PARTNER_FILTER)


def stored_talk(names: tuple[str, str]) -> dict[str, float | None]:
    def read() -> dict[str, float | None]:
        sides = Side.objects.select_related("user__profile")
        return {side.user.profile.display_name: side.talk_seconds for side in sides}

    found = run_outside_playwright(read)
    return {name: found.get(name) for name in names}


def test_the_balance_meter_agrees_with_who_spoke(
    call_sphere: Any,
    speaker: Callable[[str, float], Participant],
    settings: Any,
    screenshot: Callable[[Page, str], None],
) -> None:
    # A first meeting starts softly; nobody presses Reveal here, so it clears by itself.
    settings.SOFT_START_SECONDS = 20
    ana = speaker("Ana Lima", 0.8)
    ben = speaker("Ben Okafor", 0.2)
    meet(ana, ben, call_sphere)
    for person, other in ((ana, "Ben Okafor"), (ben, "Ana Lima")):
        expect(
            person.page.get_by_role("status").filter(has_text=f"Waiting for {other} to reveal")
        ).to_be_visible()
        assert partner_is_blurred(person.page)
    screenshot(ana.page, "meter-1-soft-start")

    # The blur lifts on its own once the short timeout passes.
    for person in (ana, ben):
        person.page.wait_for_function(
            f"() => !({PARTNER_FILTER})().includes('blur')", timeout=30_000, polling=250
        )
        expect(person.page.get_by_role("button", name="Reveal")).to_be_hidden()

    # Let them talk; both meters fill from both microphones.
    ana.page.wait_for_function(
        f"() => {TALKED} > {TALK_SECONDS}",
        timeout=(TALK_SECONDS + 30) * 1000,
        polling=500,
    )
    ana_share = my_share(ana.page, "Ben Okafor")
    ben_share = my_share(ben.page, "Ana Lima")
    assert abs(ana_share - 80) <= TOLERANCE, ana_share
    assert abs(ben_share - 20) <= TOLERANCE, ben_share
    screenshot(ana.page, "meter-2-balance")

    # Each may hide the meter for themselves; the choice is remembered.
    ana.page.get_by_role("button", name="Hide talk balance").click()
    expect(ana.page.get_by_role("meter", name="Talk balance")).to_be_hidden()
    expect(ben.page.get_by_role("meter", name="Talk balance")).to_be_visible()
    assert ana.page.evaluate("() => localStorage.getItem('chatspheres.talkBalance')") == "hidden"
    ana.page.get_by_role("button", name="Show talk balance").click()
    expect(ana.page.get_by_role("meter", name="Talk balance")).to_be_visible()

    ana.page.get_by_role("button", name="End call").click()
    expect(
        ana.page.get_by_text(re.compile(r"Talk balance: you spoke \d+% of the time"))
    ).to_be_visible(timeout=10_000)
    expect(
        ana.page.get_by_text(
            "You did most of the talking — next time, try asking a follow-up question."
        )
    ).to_be_visible()
    expect(ben.page.get_by_text(re.compile(r"Ana Lima did most of the talking"))).to_be_visible(
        timeout=10_000
    )
    screenshot(ana.page, "meter-3-after")
    screenshot(ben.page, "meter-3-after-ben")

    # As stored: each side's last reported count, in the same proportion.
    names = ("Ana Lima", "Ben Okafor")
    for _ in range(100):  # bounded: both are saved as each tab leaves the call
        saved = stored_talk(names)
        if all(value is not None for value in saved.values()):
            break
        ana.page.wait_for_timeout(100)
    ana_seconds, ben_seconds = saved["Ana Lima"], saved["Ben Okafor"]
    assert ana_seconds is not None and ben_seconds is not None, saved
    assert abs(100 * ana_seconds / (ana_seconds + ben_seconds) - 80) <= TOLERANCE, saved


def test_a_soft_start_stays_blurred_until_both_reveal(
    call_sphere: Any,
    participant: Callable[[str], Participant],
    settings: Any,
    screenshot: Callable[[Page, str], None],
) -> None:
    settings.SOFT_START_SECONDS = 600  # nothing clears by itself in this test
    cleo = participant("Cleo Ward")
    dev = participant("Dev Patel")
    # meet() waits for the partner's audio and video to flow: audio plays while blurred.
    meet(cleo, dev, call_sphere)
    for person in (cleo, dev):
        expect(person.page.get_by_role("button", name="Reveal")).to_be_visible()
        assert partner_is_blurred(person.page)

    cleo.page.get_by_role("button", name="Reveal").click()
    expect(cleo.page.get_by_text("You revealed · Waiting for Dev Patel to reveal")).to_be_visible()
    expect(dev.page.get_by_text("Cleo Ward revealed")).to_be_visible(timeout=10_000)
    screenshot(dev.page, "reveal-1-one-side")
    for person in (cleo, dev):
        assert_no_axe_violations(person.page, "soft start, one side revealed")
    # One press is not enough: both still see the other blurred.
    assert partner_is_blurred(cleo.page) and partner_is_blurred(dev.page)

    dev.page.get_by_role("button", name="Reveal").click()
    for person in (cleo, dev):
        person.page.wait_for_function(
            f"() => ({PARTNER_FILTER})() === 'none'", timeout=10_000, polling=100
        )
        expect(person.page.get_by_role("button", name="Reveal")).to_be_hidden()
    screenshot(dev.page, "reveal-2-both")

    def revealed() -> list[bool]:
        return [side.revealed_at is not None for side in Side.objects.all()]

    assert run_outside_playwright(revealed) == [True, True]
