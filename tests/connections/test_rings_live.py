"""Call now over real sockets: the ring reaches every tab of the callee, and each way it ends."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.connections import rings
from chatspheres.connections.models import Ring
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.connections.helpers import handle_of
from tests.connections.test_rings import connect
from tests.presence.test_presence_live import eventually, presence
from tests.realtime.wsclient import Tab

pytestmark = pytest.mark.django_db(transaction=True)


def members(sphere: Sphere) -> tuple[User, User]:
    ana = make_member("ana@example.com", name="Ana", spheres=(sphere,))
    ben = make_member("ben@example.com", name="Ben", spheres=(sphere,))
    connect(sphere, ana, ben)
    return ana, ben


def online(user: User) -> None:
    """Wait (bounded) until the site counts the member online: their tab is open."""
    assert eventually(presence(user.pk), lambda p: p.online).online


def receive_skipping(
    tab: Tab, kind: str, *, skip: tuple[str, ...] = ("notification.new",)
) -> dict[str, Any]:
    while True:
        frame = tab.receive()
        if frame["type"] in (*skip, "sphere.presence") and frame["type"] != kind:
            continue
        assert frame["type"] == kind, f"expected {kind}, got {frame}"
        return frame


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_a_ring_reaches_every_tab_of_the_callee_and_accepting_starts_the_call(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana, ben = members(sphere)
    on_sphere_page, on_people_page = Tab(live_server, ben), Tab(live_server, ben)
    on_sphere_page.send({"type": "sphere.enter", "sphere": sphere.pk})
    online(ben)

    caller = Tab(live_server, ana)
    caller.send({"type": "ring.start", "callee": handle_of(ben)})
    ringing = receive_skipping(caller, "ring.ringing")
    assert ringing["callee"] == {"name": "Ben", "handle": handle_of(ben)}
    for tab in (on_sphere_page, on_people_page):
        incoming = receive_skipping(tab, "ring.incoming")
        assert incoming == {
            "type": "ring.incoming",
            "ring": ringing["ring"],
            "caller": {"name": "Ana", "handle": handle_of(ana)},
            "sphere": "Book Club",
            "seconds": rings.RING_SECONDS,
        }

    # Ben presses Accept: the answering page's new tab answers.
    answering = Tab(live_server, ben)
    answering.send({"type": "ring.accept", "ring": ringing["ring"]})
    for_ana = receive_skipping(caller, "match.found")
    # (The answering page's tab opened while it rang, so it heard the ring too.)
    for_ben = receive_skipping(answering, "match.found", skip=("notification.new", "ring.incoming"))
    assert for_ana["conversation"] == for_ben["conversation"]
    assert (for_ana["polite"], for_ben["polite"]) == (False, True)
    assert for_ana["partner"]["name"] == "Ben" and for_ben["partner"]["name"] == "Ana"
    for tab in (on_sphere_page, on_people_page):
        stopped = receive_skipping(tab, "ring.stopped")
        assert (stopped["reason"], stopped["message"]) == ("accepted", "")
    conversation = Conversation.objects.get(public_id=for_ana["conversation"])
    assert (conversation.kind, conversation.sphere_id) == (Conversation.Kind.DIRECT, sphere.pk)

    # The same call as a matched one: chat reaches the other side.
    caller.send({"type": "chat.send", "conversation": conversation.public_id, "text": "Hi Ben"})
    assert receive_skipping(answering, "chat.message", skip=("ring.stopped",))["text"] == "Hi Ben"


def test_declining_stops_every_tab_and_tells_the_caller(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana, ben = members(sphere)
    first, second = Tab(live_server, ben), Tab(live_server, ben)
    online(ben)
    caller = Tab(live_server, ana)
    caller.send({"type": "ring.start", "callee": handle_of(ben)})
    ring = receive_skipping(caller, "ring.ringing")["ring"]
    receive_skipping(first, "ring.incoming")
    receive_skipping(second, "ring.incoming")
    first.send({"type": "ring.decline", "ring": ring})
    told = receive_skipping(caller, "ring.stopped")
    assert (told["reason"], told["message"]) == ("declined", "Ben can't talk right now.")
    assert receive_skipping(second, "ring.stopped")["reason"] == "declined"
    # Too late to answer now.
    second.send({"type": "ring.accept", "ring": ring})
    refused = receive_skipping(second, "error", skip=("ring.stopped", "notification.new"))
    assert refused["code"] == "ring_over"


def test_nobody_answering_stops_the_ring_and_notifies_the_callee(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rings, "RING_SECONDS", 1)
    ana, ben = members(sphere)
    away = Tab(live_server, ben)
    online(ben)
    caller = Tab(live_server, ana)
    caller.send({"type": "ring.start", "callee": handle_of(ben)})
    receive_skipping(caller, "ring.ringing")
    receive_skipping(away, "ring.incoming")
    told = receive_skipping(caller, "ring.stopped")
    assert (told["reason"], told["message"]) == ("missed", "Ben didn't answer.")
    stopped = receive_skipping(away, "ring.stopped")
    assert stopped["message"] == "You missed a call from Ana."
    notified = receive_skipping(away, "notification.new", skip=())
    assert notified["notification"]["text"] == "You missed a call from Ana"
    assert Ring.objects.get().state == Ring.State.MISSED


def test_the_caller_is_told_in_words_who_cannot_be_rung(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana, ben = members(sphere)
    caller = Tab(live_server, ana)
    caller.send({"type": "ring.start", "callee": handle_of(ben)})
    refused = receive_skipping(caller, "error")
    assert refused == {
        "type": "error",
        "code": "callee_offline",
        "message": "Ben isn't online right now.",
    }
    caller.send({"type": "ring.start", "callee": "no-such-handle"})
    assert receive_skipping(caller, "error")["code"] == "no_such_person"
    assert not Ring.objects.exists()


def test_closing_the_callers_page_stops_the_ring(live_server: LiveServer, sphere: Sphere) -> None:
    ana, ben = members(sphere)
    callee = Tab(live_server, ben)
    online(ben)
    caller = Tab(live_server, ana)
    caller.send({"type": "ring.start", "callee": handle_of(ben)})
    receive_skipping(caller, "ring.ringing")
    receive_skipping(callee, "ring.incoming")
    caller.close()
    stopped = receive_skipping(callee, "ring.stopped")
    assert (stopped["reason"], stopped["message"]) == ("cancelled", "Ana stopped calling.")


def test_a_tab_the_callee_opens_while_it_rings_rings_too_for_what_is_left(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana, ben = members(sphere)
    first_page = Tab(live_server, ben)
    online(ben)
    caller = Tab(live_server, ana)
    caller.send({"type": "ring.start", "callee": handle_of(ben)})
    ringing = receive_skipping(caller, "ring.ringing")
    receive_skipping(first_page, "ring.incoming")

    # Ben follows a link: the next page's new tab shows the same ring.
    next_page = Tab(live_server, ben)
    late = receive_skipping(next_page, "ring.incoming")
    assert (late["ring"], late["caller"]["name"]) == (ringing["ring"], "Ana")
    assert 1 <= late["seconds"] <= rings.RING_SECONDS

    # Once it stops, a tab opened later has nothing to ring for.
    next_page.send({"type": "ring.decline", "ring": ringing["ring"]})
    assert receive_skipping(caller, "ring.stopped")["reason"] == "declined"
    later_page = Tab(live_server, ben)
    later_page.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert receive_skipping(later_page, "sphere.presence", skip=())["sphere"] == sphere.pk
