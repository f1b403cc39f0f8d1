"""A tab whose socket drops comes back to its call and catches up on what it missed."""

from __future__ import annotations

from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from chatspheres.calls.models import Conversation
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab, match, signal

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_a_dropped_tab_resumes_its_call_and_gets_what_it_missed_in_order(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", name="Ana", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", name="Ben", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    tab_id, seen = ana.id, ana.last_event_id

    ana.drop()
    assert ben.receive_type("call.partner_away")["conversation"] == conversation
    for line in ("are you there?", "hello?"):
        ben.send({"type": "chat.send", "conversation": conversation, "text": line})

    ready = ana.reconnect()
    assert ready == {
        "type": "ready",
        "user": ana.user.pk,
        "tab": tab_id,
        "last_event_id": seen,
        "resumed": True,
    }
    assert [ana.receive_type("chat.message")["text"] for _ in range(2)] == [
        "are you there?",
        "hello?",
    ]  # in order, each id above the last (the client checks)
    assert ben.receive_type("call.partner_back") == {
        "type": "call.partner_back",
        "conversation": conversation,
    }
    ana.send(signal(conversation, "back"))
    assert ben.receive_type("signal") == signal(conversation, "back")
    ben.send(signal(conversation, "welcome"))
    assert ana.receive_type("signal") == signal(conversation, "welcome")
    assert Conversation.objects.get(public_id=conversation).state == "active"


def test_an_event_sent_while_the_tab_was_away_ends_its_call_when_it_is_back(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    ana.drop()
    ben.receive_type("call.partner_away")
    ben.send({"type": "call.end", "conversation": found["conversation"], "reason": "next"})
    ben.receive_type("call.ended")
    assert ana.reconnect()["resumed"] is True
    assert ana.receive_type("call.ended") == {
        "type": "call.ended",
        "conversation": found["conversation"],
        "reason": "next",
        "by_me": False,
    }


def test_a_tab_cannot_resume_someone_elses_tab(live_server: LiveServer, sphere: Sphere) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    match(ana, ben, sphere.pk)
    intruder = Tab(
        live_server,
        make_member("cleo@example.com", spheres=(sphere,)),
        resume=(ana.id, 0),
    )
    assert intruder.ready["resumed"] is False
    assert intruder.id != ana.id


def test_a_tab_that_missed_more_than_the_log_holds_is_told_to_reload(
    live_server: LiveServer, sphere: Sphere, settings: Any
) -> None:
    settings.REALTIME_EVENT_LOG_SIZE = 3
    live_server_hub_log_size(3)
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    ana.drop()
    ben.receive_type("call.partner_away")
    for index in range(5):
        ben.send({"type": "chat.send", "conversation": conversation, "text": f"line {index}"})
    ready = ana.reconnect()
    assert ready["resumed"] is True
    assert ana.receive_type("resync")["message"].startswith("You were away too long")
    assert ana.receive_type("call.state") == {"type": "call.state", "conversation": conversation}


def live_server_hub_log_size(size: int) -> None:
    """Shrink the running in-process hub's log (it was built before the setting changed)."""
    from chatspheres.realtime.runtime import current

    current().hub._log_size = size  # type: ignore[attr-defined]


def test_a_newer_socket_of_the_same_tab_replaces_an_old_one_still_open(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    old_socket = ana.ws
    # The page saw its socket die, but the server has not noticed yet.
    ana.reconnect()
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            old_socket.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4002
    assert ben.receive_type("call.partner_back")["conversation"] == found["conversation"]
    ana.send(signal(found["conversation"], "on the new socket"))
    assert ben.receive_type("signal") == signal(found["conversation"], "on the new socket")
    assert Conversation.objects.get(public_id=found["conversation"]).state == "active"
