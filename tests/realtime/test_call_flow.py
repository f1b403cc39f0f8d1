"""From the queue to the end of a call, over the socket, as two browser tabs use it."""

from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta
from typing import Any

import pytest
from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.typing import Origin
from websockets.uri import parse_uri

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member, session_cookie
from tests.realtime.wsclient import RECEIVE_LIMIT_SECONDS, Tab, match

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_match_found_tells_each_side_who_they_meet_and_their_role(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(
        live_server,
        make_member(
            "ana@example.com",
            name="Ana",
            bio="Reads on trains.",
            interests=("books", "jazz", "hiking"),
            spheres=(sphere,),
        ),
    )
    ben = Tab(
        live_server,
        make_member(
            "ben@example.com", name="Ben", interests=("jazz", "books", "chess"), spheres=(sphere,)
        ),
    )
    for_ana, for_ben = match(ana, ben, sphere.pk)
    assert for_ana["conversation"] == for_ben["conversation"]
    assert for_ana["partner"] == {
        "name": "Ben",
        "handle": "ben",
        "bio": "",
        "interests": ["books", "chess", "jazz"],
        "prompts": [],
    }
    assert for_ben["partner"] == {
        "name": "Ana",
        "handle": "ana",
        "bio": "Reads on trains.",
        "interests": ["books", "hiking", "jazz"],
        "prompts": [],
    }
    assert for_ana["shared_interests"] == for_ben["shared_interests"] == ["books", "jazz"]
    # The one who waited makes the offer; the newcomer is the polite peer.
    assert (for_ana["polite"], for_ben["polite"]) == (False, True)
    assert for_ana["talked_before"] == 0
    assert for_ana["ice_servers"] == []
    assert "ana@example.com" not in str(for_ben) and "ben@example.com" not in str(for_ana)
    saved = Conversation.objects.get(public_id=for_ana["conversation"])
    assert (saved.user_a_id, saved.user_b_id, saved.sphere_id) == (
        ana.user.pk,
        ben.user.pk,
        sphere.pk,
    )


def test_the_waiting_person_sharing_most_interests_is_chosen(
    live_server: LiveServer, sphere: Sphere
) -> None:
    cleo = Tab(
        live_server, make_member("cleo@example.com", interests=("chess",), spheres=(sphere,))
    )
    dev = Tab(
        live_server, make_member("dev@example.com", interests=("books", "jazz"), spheres=(sphere,))
    )
    # Cleo and Dev just talked, so they now wait side by side without meeting again.
    found, _ = match(cleo, dev, sphere.pk)
    cleo.send({"type": "call.end", "conversation": found["conversation"], "reason": "next"})
    for tab in (cleo, dev):
        tab.receive_type("call.ended")
        tab.send({"type": "queue.join", "sphere": sphere.pk})
        tab.receive_type("queue.waiting")

    ana = Tab(
        live_server,
        make_member("ana@example.com", interests=("books", "jazz", "chess"), spheres=(sphere,)),
    )
    ana.send({"type": "queue.join", "sphere": sphere.pk})
    found = ana.receive_type("match.found")
    assert found["partner"]["name"] == "Dev"  # two shared interests beat Cleo's longer wait
    assert found["shared_interests"] == ["books", "jazz"]
    assert dev.receive_type("match.found")["conversation"] == found["conversation"]


def test_chat_and_media_state_reach_the_partner(live_server: LiveServer, sphere: Sphere) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    ana.send({"type": "chat.send", "conversation": conversation, "text": "<b>hi</b> Ben"})
    message = ben.receive_type("chat.message")
    assert message["text"] == "<b>hi</b> Ben"  # the page renders it as text
    assert message["conversation"] == conversation
    assert datetime.fromisoformat(message["at"]).utcoffset() == timedelta(0)  # UTC
    media = {"type": "media.state", "conversation": conversation, "audio": False, "video": True}
    ben.send(media)
    assert ana.receive_type("media.state") == media


def test_waiting_and_cancelling_and_the_counts_a_sphere_page_sees(
    live_server: LiveServer, sphere: Sphere
) -> None:
    watcher = Tab(live_server, make_member("watcher@example.com", spheres=(sphere,)))
    watcher.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert watcher.receive_type("sphere.presence")["online"] == 1

    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ana.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert watcher.receive_type("sphere.presence") == {
        "type": "sphere.presence",
        "sphere": sphere.pk,
        "online": 2,
        "waiting": 0,
    }
    ana.receive_type("sphere.presence")
    ana.send({"type": "queue.join", "sphere": sphere.pk})
    assert ana.receive_type("queue.waiting") == {
        "type": "queue.waiting",
        "sphere": sphere.pk,
        "online": 2,
        "waiting": 1,
    }
    assert watcher.receive_type("sphere.presence")["waiting"] == 1
    ana.send({"type": "queue.leave"})
    assert ana.receive_type("queue.left") == {"type": "queue.left", "reason": "cancelled"}
    assert watcher.receive_type("sphere.presence")["waiting"] == 0
    ana.close()
    assert watcher.receive_type("sphere.presence")["online"] == 1


def test_only_members_may_wait_in_a_sphere(live_server: LiveServer, sphere: Sphere) -> None:
    outsider = Tab(live_server, make_member("outsider@example.com"))
    outsider.send({"type": "queue.join", "sphere": sphere.pk})
    assert outsider.receive() == {
        "type": "error",
        "code": "not_a_member",
        "message": "Join the sphere before starting a conversation.",
    }
    outsider.send({"type": "queue.join", "sphere": 999_999})
    assert outsider.receive()["code"] == "no_such_sphere"


def test_a_second_tab_takes_over_the_wait_and_a_call_blocks_more_waiting(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana_user = make_member("ana@example.com", spheres=(sphere,))
    first_tab, second_tab = Tab(live_server, ana_user), Tab(live_server, ana_user)
    first_tab.send({"type": "queue.join", "sphere": sphere.pk})
    first_tab.receive_type("queue.waiting")
    second_tab.send({"type": "queue.join", "sphere": sphere.pk})
    assert second_tab.receive_type("queue.waiting")["waiting"] == 1
    assert first_tab.receive_type("queue.left") == {"type": "queue.left", "reason": "elsewhere"}

    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    ben.send({"type": "queue.join", "sphere": sphere.pk})
    ben.receive_type("match.found")
    second_tab.receive_type("match.found")
    first_tab.send({"type": "queue.join", "sphere": sphere.pk})
    assert first_tab.receive() == {
        "type": "error",
        "code": "already_in_call",
        "message": "You are already in a conversation in another tab.",
    }


def test_the_partner_who_just_left_is_not_matched_again(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    ana.send({"type": "call.end", "conversation": found["conversation"], "reason": "next"})
    ana.receive_type("call.ended")
    ben.receive_type("call.ended")
    ana.send({"type": "queue.join", "sphere": sphere.pk})
    ana.receive_type("queue.waiting")
    ben.send({"type": "queue.join", "sphere": sphere.pk})
    assert ben.receive_type("queue.waiting")["waiting"] == 2  # both wait, apart

    cleo = Tab(live_server, make_member("cleo@example.com", spheres=(sphere,)))
    cleo.send({"type": "queue.join", "sphere": sphere.pk})
    assert cleo.receive_type("match.found")["partner"]["name"] == "Ana"  # longest waiting
    assert ana.receive_type("match.found")["partner"]["name"] == "Cleo"


@pytest.fixture
def short_grace(settings: Any) -> None:
    """A reconnect grace of one second, so tests of it do not wait twenty."""
    settings.REALTIME_RECONNECT_GRACE_SECONDS = 1
    settings.REALTIME_SWEEP_SECONDS = 0.1


@pytest.mark.usefixtures("short_grace")
def test_a_lost_connection_holds_the_call_for_the_grace_then_ends_it_as_disconnected(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    ana.ws.socket.shutdown(socket.SHUT_RDWR)  # the network vanishes: no closing handshake
    assert ben.receive_type("call.partner_away") == {
        "type": "call.partner_away",
        "conversation": conversation,
        "grace_seconds": 1,
    }
    assert ben.receive_type("call.ended") == {
        "type": "call.ended",
        "conversation": conversation,
        "reason": "disconnected",
        "by_me": False,
    }
    assert Conversation.objects.get(public_id=conversation).end_reason == "disconnected"


def test_match_found_counts_earlier_conversations_between_the_two(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana_user = make_member("ana@example.com", spheres=(sphere,))
    ben_user = make_member("ben@example.com", spheres=(sphere,))
    for _ in range(2):
        earlier = conversation_start(
            sphere_id=sphere.pk,
            a_user_id=ben_user.pk,
            a_tab="old-tab-b",
            b_user_id=ana_user.pk,
            b_tab="old-tab-a",
            shared_interests=[],
        )
        conversation_end(conversation=earlier, by_user_id=ana_user.pk, reason="ended")
    for_ana, for_ben = match(Tab(live_server, ana_user), Tab(live_server, ben_user), sphere.pk)
    assert for_ana["talked_before"] == for_ben["talked_before"] == 2


def silent_tab(server: LiveServer, user: User) -> tuple[socket.socket, ClientProtocol]:
    """A tab whose network goes quiet: it queues, then never reads or answers a ping again."""
    client = ClientProtocol(parse_uri(server.ws_url), origin=Origin(server.origin))
    request = client.connect()
    request.headers["Cookie"] = session_cookie(user)
    client.send_request(request)
    sock = socket.create_connection((server.host, server.port), timeout=RECEIVE_LIMIT_SECONDS)
    sock.sendall(b"".join(client.data_to_send()))
    frames: list[str] = []
    while not frames:  # the handshake answer, then the "ready" frame
        client.receive_data(sock.recv(65536))
        frames += [e.data.decode() for e in client.events_received() if isinstance(e, Frame)]
    assert json.loads(frames[0])["type"] == "ready"
    return sock, client


@pytest.mark.usefixtures("short_grace")
def test_a_partner_whose_network_goes_quiet_is_reported_within_ten_seconds(
    live_server: LiveServer, sphere: Sphere
) -> None:
    quiet_user = make_member("quiet@example.com", spheres=(sphere,))
    sock, client = silent_tab(live_server, quiet_user)
    client.send_text(json.dumps({"type": "queue.join", "sphere": sphere.pk}).encode())
    sock.sendall(b"".join(client.data_to_send()))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    ben.send({"type": "queue.join", "sphere": sphere.pk})
    found = ben.receive_type("match.found")

    # From now on the quiet tab reads nothing, so the server's pings go unanswered.
    away = ben.receive_type("call.partner_away")  # RECEIVE_LIMIT_SECONDS (10) bounds the wait
    assert away["conversation"] == found["conversation"]
    ended = ben.receive_type("call.ended")  # after the (short) grace
    assert ended == {
        "type": "call.ended",
        "conversation": found["conversation"],
        "reason": "disconnected",
        "by_me": False,
    }
    sock.close()
