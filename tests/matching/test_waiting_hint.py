"""The waiting screen's hint over a real socket: only people you've just talked with are here."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_reflect
from chatspheres.connections.services import talk_again_wish
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab, match

pytestmark = pytest.mark.django_db(transaction=True)

# Frames about the queue; anything else (presence counts, notifications) is skipped.
QUEUE_TYPES = {"queue.waiting", "queue.hint", "queue.left", "match.found"}


def next_queue_frame(tab: Tab) -> dict[str, Any]:
    while True:
        frame = tab.receive()
        if frame["type"] in QUEUE_TYPES:
            return frame


def expect(tab: Tab, kind: str) -> dict[str, Any]:
    frame = next_queue_frame(tab)
    assert frame["type"] == kind, f"expected {kind}, got {frame}"
    return frame


def talk_and_part(first: Tab, second: Tab, sphere: Sphere) -> str:
    """The two are matched in the sphere and end the call at once; returns the conversation."""
    found, _ = match(first, second, sphere.pk)
    first.send({"type": "call.end", "conversation": found["conversation"], "reason": "next"})
    for tab in (first, second):
        tab.receive_type("call.ended")
    return str(found["conversation"])


def wait(tab: Tab, sphere: Sphere) -> dict[str, Any]:
    tab.send({"type": "queue.join", "sphere": sphere.pk})
    return expect(tab, "queue.waiting")


def member(name: str, sphere: Sphere) -> User:
    return make_member(f"{name.lower()}@example.com", name=name, spheres=(sphere,))


def handle_of(user: User) -> str:
    user.profile.refresh_from_db()
    return user.profile.handle


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_people_who_just_talked_are_told_why_they_wait_and_may_call_a_connection(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana_user, ben_user = member("Ana", sphere), member("Ben", sphere)
    ana, ben = Tab(live_server, ana_user), Tab(live_server, ben_user)
    talk_and_part(ana, ben, sphere)
    for wisher, about in ((ana_user, ben_user), (ben_user, ana_user)):
        talk_again_wish(wisher_id=wisher.pk, about_id=about.pk)

    alone = wait(ana, sphere)
    assert alone["waiting"] == 1
    assert "recent_partners" not in alone and "call_now" not in alone

    # Ben arrives: not paired with Ana (they just talked), and both are told why.
    for_ben = wait(ben, sphere)
    assert for_ben["waiting"] == 2
    assert for_ben["recent_partners"] == 1
    assert for_ben["call_now"] == [{"name": "Ana", "url": f"/call/{handle_of(ana_user)}/"}]
    for_ana = expect(ana, "queue.hint")
    assert for_ana == {
        "type": "queue.hint",
        "sphere": sphere.pk,
        "waiting": 2,
        "recent_partners": 1,
        "call_now": [{"name": "Ben", "url": f"/call/{handle_of(ben_user)}/"}],
    }

    # Someone new arrives and meets Ana, who waited longest; Ben is told Ana went.
    cleo = Tab(live_server, member("Cleo", sphere))
    cleo.send({"type": "queue.join", "sphere": sphere.pk})
    assert expect(cleo, "match.found")["partner"]["name"] == "Ana"
    assert expect(ben, "queue.hint") == {
        "type": "queue.hint",
        "sphere": sphere.pk,
        "waiting": 1,
        "recent_partners": 0,
        "call_now": [],
    }


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_someone_excluded_is_never_counted_among_the_people_you_talked_with(
    live_server: LiveServer, sphere: Sphere
) -> None:
    dev_user, eve_user = member("Dev", sphere), member("Eve", sphere)
    dev, eve = Tab(live_server, dev_user), Tab(live_server, eve_user)
    conversation = talk_and_part(dev, eve, sphere)
    # Eve did not enjoy it: the two are never paired again.
    conversation_reflect(
        conversation=Conversation.objects.get(public_id=conversation),
        user_id=eve_user.pk,
        rating="not_for_me",
    )

    wait(dev, sphere)
    for_eve = wait(eve, sphere)

    assert for_eve["waiting"] == 2
    assert "recent_partners" not in for_eve
    # Dev hears nothing about Eve's arrival but the count; a stranger meets Dev as usual.
    finn = Tab(live_server, member("Finn", sphere))
    finn.send({"type": "queue.join", "sphere": sphere.pk})
    assert expect(finn, "match.found")["partner"]["name"] == "Dev"
    assert expect(dev, "match.found")["partner"]["name"] == "Finn"


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_a_recent_partner_who_cancels_updates_the_hint_of_the_one_still_waiting(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana, ben = Tab(live_server, member("Ana", sphere)), Tab(live_server, member("Ben", sphere))
    talk_and_part(ana, ben, sphere)
    wait(ana, sphere)
    assert wait(ben, sphere)["recent_partners"] == 1
    assert expect(ana, "queue.hint")["recent_partners"] == 1

    ben.send({"type": "queue.leave"})

    assert expect(ben, "queue.left")["reason"] == "cancelled"
    assert expect(ana, "queue.hint") == {
        "type": "queue.hint",
        "sphere": sphere.pk,
        "waiting": 1,
        "recent_partners": 0,
        "call_now": [],
    }
