"""From a good conversation to a call again: the connections journey, in three real browsers.

Ana and Ben talk, both follow and tap "I'd like to talk again", and Ana keeps a
note. Ben moves on and talks with Cleo. Later Ana finds Ben on People and
presses "Call now": the first ring goes unanswered, the second is declined,
the third accepted, and they talk on video with Ana's note recalled on her
partner card (and never shown to Ben).

The journey runs once on one process with the in-process hub, and once on two
processes sharing Redis: Ana's browser on the test's own server, Ben's and
Cleo's on a second server process, so every ring, answer and notification
crosses processes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from chatspheres.calls.models import Conversation
from chatspheres.calls.models import Participant as Side
from chatspheres.connections import rings
from chatspheres.connections.models import Bond, Note
from tests.browser.conftest import Participant, run_outside_playwright, say
from tests.browser.test_call_journey import status, wait_for_media
from tests.realtime.procs import ServerProcesses, server_processes  # noqa: F401

pytestmark = pytest.mark.browser

NOTE = "Training for the Lisbon marathon in May"
# Long enough for a page to notice, short enough not to slow the suite down.
RING_SECONDS_IN_TEST = 4


def join_call(person: Participant, slug: str) -> None:
    """Open the sphere's call page and press Join call."""
    person.open_call_page(slug)
    join = person.page.get_by_role("button", name="Join call")
    expect(join).to_be_enabled(timeout=10_000)
    join.click()


def in_call_with(first: Participant, second: Participant) -> None:
    for person, partner in ((first, second), (second, first)):
        expect(person.page.get_by_role("button", name="End call")).to_be_visible(timeout=15_000)
        expect(person.page.get_by_role("heading", name=partner.name, exact=True)).to_be_visible()
    for person in (first, second):
        wait_for_media(person.page)


def keep_in_touch(person: Participant) -> None:
    """On the reflection screen: Good, Follow, and I'd like to talk again."""
    page = person.page
    page.get_by_role("button", name="Good").click()
    expect(page.get_by_text("Thanks, your answer is saved.")).to_be_visible(timeout=10_000)
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Unfollow")).to_be_visible(timeout=10_000)
    page.get_by_role("button", name="I'd like to talk again").click()
    expect(page.get_by_role("button", name="I'd like to talk again")).to_have_attribute(
        "aria-pressed", "true", timeout=10_000
    )


def call_now_from_people(caller: Participant, callee: Participant) -> None:
    """Open People and press Call now on the callee, once People shows them online."""
    page = caller.page
    call_now = page.get_by_role("link", name=f"Call now {callee.name}")
    for _ in range(30):  # presence is written about once a second: a bounded few reloads
        page.goto("/people/")
        if call_now.count():
            break
        page.wait_for_timeout(500)
    expect(page.get_by_role("heading", name="Connections")).to_be_visible()
    call_now.first.click()
    page.wait_for_url(re.compile(r"/call/[a-z0-9-]+/$"))
    expect(page.get_by_role("heading", name=f"Calling {callee.name}…")).to_be_visible()


def ringing_card(callee: Participant, caller: Participant) -> Any:
    card = callee.page.get_by_role("alertdialog", name=f"{caller.name} wants to talk")
    expect(card).to_be_visible(timeout=10_000)
    return card


def connections_journey(
    ana: Participant,
    ben: Participant,
    cleo: Participant,
    slug: str,
    screenshot: Callable[[Page, str], None],
) -> None:
    for person in (ana, ben, cleo):
        person.sign_up()

    # 1. Ana and Ben talk; Ben moves on, and both keep in touch from the reflection.
    join_call(ana, slug)
    expect(status(ana.page)).to_have_text("Waiting for someone…", timeout=10_000)
    join_call(ben, slug)
    in_call_with(ana, ben)
    say(ana, ben, "I run every morning before work")
    ben.page.get_by_role("button", name="Next").click()
    expect(ana.page.get_by_role("group", name="How was it?")).to_be_visible(timeout=10_000)
    keep_in_touch(ana)
    # Ana's wish is blind: Ben's screen says nothing of it until he taps too.
    expect(ben.page.get_by_role("group", name="How was it?")).to_be_visible(timeout=10_000)
    expect(ben.page.get_by_text("both want to talk again")).to_have_count(0)
    keep_in_touch(ben)
    for person, partner in ((ben, ana), (ana, ben)):
        expect(
            person.page.get_by_text(f"You and {partner.name} both want to talk again.")
        ).to_be_visible(timeout=10_000)
    ana.page.get_by_label("Private note").fill(NOTE)
    ana.page.get_by_role("button", name="Save note").click()
    expect(ana.page.locator("#note-status")).not_to_be_empty(timeout=10_000)
    screenshot(ana.page, "connections-1-reflection")

    # 2. Ben, still looking, talks with Cleo; Cleo ends the call.
    join_call(cleo, slug)
    in_call_with(ben, cleo)
    cleo.page.get_by_role("button", name="End call").click()
    expect(ben.page.get_by_role("group", name="How was it?")).to_be_visible(timeout=10_000)

    # 3. Ben browses the spheres; Ana calls him from People. Nobody answers at first.
    ben.page.goto("/spheres/")
    call_now_from_people(ana, ben)
    card = ringing_card(ben, ana)
    expect(card.get_by_role("button", name="Accept")).to_be_focused()
    screenshot(ben.page, "connections-2-ringing")
    expect(ana.page.get_by_role("heading", name=f"{ben.name} didn't answer.")).to_be_visible(
        timeout=(RING_SECONDS_IN_TEST + 15) * 1000
    )
    expect(card).to_have_count(0, timeout=10_000)
    # The missed call is a notification, there on Ben's page as it happens.
    ben.page.get_by_role("button", name="Notifications").click()
    panel = ben.page.get_by_role("region", name="Notifications")
    expect(panel.get_by_text(f"You missed a call from {ana.name}")).to_be_visible(timeout=10_000)
    expect(panel.get_by_text(f"You and {ana.name} are now connected")).to_be_visible()
    ben.page.keyboard.press("Escape")
    expect(panel).to_be_hidden()

    # 4. She calls again: Ben declines.
    ana.page.get_by_role("button", name="Call again").click()
    ringing_card(ben, ana).get_by_role("button", name="Decline").click()
    expect(ana.page.get_by_role("heading", name=f"{ben.name} can't talk right now.")).to_be_visible(
        timeout=10_000
    )

    # 5. And once more: Ben accepts, and they talk on video, Ana's note recalled for her only.
    ana.page.get_by_role("button", name="Call again").click()
    ringing_card(ben, ana).get_by_role("button", name="Accept").click()
    ben.page.wait_for_url(re.compile(r"/call/answer/"))
    in_call_with(ana, ben)
    expect(
        ana.page.get_by_text(re.compile(r"^You've talked once before, on \d+ \w+ in Night Owls"))
    ).to_be_visible()
    expect(ana.page.get_by_text(NOTE)).to_be_visible()
    expect(ben.page.get_by_text(NOTE)).to_have_count(0)
    screenshot(ana.page, "connections-3-recap")
    say(ben, ana, "How is the training going?")
    ana.page.get_by_role("button", name="End call").click()
    expect(ben.page.get_by_role("group", name="How was it?")).to_be_visible(timeout=10_000)

    def saved() -> tuple[bool, list[str], list[str]]:
        connected = Bond.objects.connected().count() == 2
        notes = list(Note.objects.values_list("text", flat=True))
        kinds = list(Conversation.objects.order_by("started_at").values_list("kind", flat=True))
        return connected, notes, kinds

    assert run_outside_playwright(saved) == (True, [NOTE], ["matched", "matched", "direct"])
    ratings = run_outside_playwright(
        lambda: sorted(Side.objects.exclude(rating="").values_list("rating", flat=True))
    )
    assert ratings == ["good", "good"]


def test_a_good_conversation_becomes_a_connection_who_can_call_again(
    call_sphere: Any,
    participant: Callable[..., Participant],
    screenshot: Callable[[Page, str], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(rings, "RING_SECONDS", RING_SECONDS_IN_TEST)
    ana, ben, cleo = participant("Ana Lima"), participant("Ben Okafor"), participant("Cleo Ward")
    connections_journey(ana, ben, cleo, call_sphere.slug, screenshot)


@pytest.mark.parametrize("live_server", ["redis"], indirect=True)
def test_the_connections_journey_across_two_processes_sharing_redis(
    live_server: Any,
    call_sphere: Any,
    participant: Callable[..., Participant],
    screenshot: Callable[[Page, str], None],
    monkeypatch: pytest.MonkeyPatch,
    server_processes: ServerProcesses,  # noqa: F811
    settings: Any,
) -> None:
    # The ring is made (and its expiry set) by Ana's process, this one.
    monkeypatch.setattr(rings, "RING_SECONDS", RING_SECONDS_IN_TEST)
    (other,) = server_processes.start(
        1, env={"REDIS_URL": settings.REDIS_URL, "REDIS_KEY_PREFIX": settings.REDIS_KEY_PREFIX}
    )
    ana = participant("Ana Lima")
    ben = participant("Ben Okafor", base_url=other.url)
    cleo = participant("Cleo Ward", base_url=other.url)
    connections_journey(ana, ben, cleo, call_sphere.slug, lambda page, name: None)
