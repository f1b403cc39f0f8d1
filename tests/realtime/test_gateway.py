"""The gateway over a real socket against a real uvicorn server."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chatspheres.calls.models import Conversation
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member, session_cookie
from tests.realtime.wsclient import RECEIVE_LIMIT_SECONDS, Tab, match, signal

pytestmark = pytest.mark.django_db(transaction=True)


def refused_status(server: LiveServer, **kwargs: object) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(server.ws_url, open_timeout=RECEIVE_LIMIT_SECONDS, **kwargs)  # type: ignore[arg-type]
    return refused.value.response.status_code


def test_anonymous_connection_is_refused(live_server: LiveServer) -> None:
    assert refused_status(live_server, origin=live_server.origin) == 403


def test_forged_session_cookie_is_refused(live_server: LiveServer) -> None:
    status = refused_status(
        live_server,
        origin=live_server.origin,
        additional_headers={"Cookie": "sessionid=not-a-real-session"},
    )
    assert status == 403


def test_foreign_origin_is_refused_even_with_a_valid_session(
    live_server: LiveServer, sphere: Sphere
) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    cookie = {"Cookie": session_cookie(member)}
    assert (
        refused_status(live_server, origin="http://evil.example", additional_headers=cookie) == 403
    )
    assert refused_status(live_server, additional_headers=cookie) == 403  # no Origin at all


def test_signed_in_member_from_our_origin_is_welcomed(
    live_server: LiveServer, sphere: Sphere
) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    tab = Tab(live_server, member)  # asserts the "ready" frame names the member
    tab.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert tab.receive() == {
        "type": "sphere.presence",
        "sphere": sphere.pk,
        "online": 1,
        "waiting": 0,
    }


MALFORMED_FRAMES: list[tuple[str, str]] = [
    ("not json at all", "bad_frame"),
    ("{", "bad_frame"),
    ("[1, 2, 3]", "bad_frame"),
    ('"a string"', "bad_frame"),
    ("42", "bad_frame"),
    ("null", "bad_frame"),
    ("{}", "unknown_type"),
    ('{"type": "no.such.thing"}', "unknown_type"),
    ('{"type": 7}', "unknown_type"),
    ('{"type": "queue.join"}', "bad_frame"),
    ('{"type": "queue.join", "sphere": "one"}', "bad_frame"),
    ('{"type": "queue.join", "sphere": -3}', "bad_frame"),
    ('{"type": "queue.join", "sphere": 1, "extra": true}', "bad_frame"),
    ('{"type": "signal", "data": {}}', "bad_frame"),
    ('{"type": "call.end", "conversation": "x", "reason": "bored"}', "bad_frame"),
    ('{"type": "chat.send", "conversation": "x", "text": ""}', "bad_frame"),
    ('{"type": "chat.send", "conversation": "x", "text": "' + "y" * 1001 + '"}', "too_long"),
    ('{"type": "media.state", "conversation": "x", "audio": "yes", "video": 1}', "bad_frame"),
]


@pytest.fixture
def unthrottled(settings: Any) -> None:
    """Lift the rate limit for tests about what is sent, not how fast."""
    settings.REALTIME_RATE_PER_SECOND = 1_000_000
    settings.REALTIME_RATE_BURST = 1_000_000


@pytest.mark.usefixtures("unthrottled")
def test_a_thousand_malformed_frames_each_get_an_error_and_the_server_keeps_serving(
    live_server: LiveServer, sphere: Sphere
) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    tab = Tab(live_server, member)
    for index in range(1000):
        text, expected_code = MALFORMED_FRAMES[index % len(MALFORMED_FRAMES)]
        tab.send_text(text)
        frame = tab.receive()
        assert frame["type"] == "error", text
        assert frame["code"] == expected_code, text
        assert frame["message"], "an error says what went wrong in words"
    tab.ws.send(b"\xff\xfe not utf-8")
    assert tab.receive()["code"] == "bad_frame"

    tab.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert tab.receive()["type"] == "sphere.presence"
    other = make_member("ben@example.com", spheres=(sphere,))
    match(tab, Tab(live_server, other), sphere.pk)


def test_frame_over_64_kib_closes_with_1009(live_server: LiveServer, sphere: Sphere) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    tab = Tab(live_server, member)
    tab.send({"type": "chat.send", "conversation": "x", "text": "y" * (64 * 1024 + 1)})
    with pytest.raises(ConnectionClosed) as closed:
        tab.receive()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


BOTH_ROUTES = pytest.mark.parametrize("live_server", ["lane", "asgi"], indirect=True)


@BOTH_ROUTES
def test_flood_is_throttled_then_closed_while_another_pair_completes_its_exchange(
    live_server: LiveServer, sphere: Sphere
) -> None:
    flooder = Tab(live_server, make_member("flood@example.com", spheres=(sphere,)))
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]

    close_codes: list[int | None] = []
    frames_seen: list[dict[str, object]] = []

    def flood() -> None:
        junk = json.dumps(signal("not-mine", "flood"))
        try:
            for _ in range(5000):
                flooder.send_text(junk)
        except ConnectionClosed:
            pass
        try:
            while True:
                frames_seen.append(flooder.receive())
        except ConnectionClosed as closed:
            close_codes.append(closed.rcvd.code if closed.rcvd else None)

    flooding = threading.Thread(target=flood)
    flooding.start()
    for index in range(50):
        ana.send(signal(conversation, f"from-ana-{index}"))
        assert ben.receive_type("signal") == signal(conversation, f"from-ana-{index}")
        ben.send(signal(conversation, f"from-ben-{index}"))
        assert ana.receive_type("signal") == signal(conversation, f"from-ben-{index}")
    flooding.join(timeout=60)

    assert close_codes == [1008]
    assert any(frame.get("code") == "rate_limited" for frame in frames_seen)


@BOTH_ROUTES
@pytest.mark.usefixtures("unthrottled")
def test_a_third_member_cannot_signal_into_someone_elses_conversation(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    cleo = Tab(live_server, make_member("cleo@example.com", spheres=(sphere,)))
    dev = Tab(live_server, make_member("dev@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    match(cleo, dev, sphere.pk)  # Cleo is in a call of her own, with Dev
    theirs = found["conversation"]

    for index in range(100):
        cleo.send(signal(theirs, f"intrusion-{index}"))
        refusal = cleo.receive()
        assert refusal["type"] == "error"
        assert refusal["code"] == "not_in_conversation"
        assert refusal["message"] == "You are not in that conversation."

    # Had any intrusion been relayed, it would be queued ahead of these markers.
    ben.send(signal(theirs, "marker-for-ana"))
    assert ana.receive_type("signal") == signal(theirs, "marker-for-ana")
    ana.send(signal(theirs, "marker-for-ben"))
    assert ben.receive_type("signal") == signal(theirs, "marker-for-ben")
    dev.send({"type": "queue.leave"})
    assert dev.receive() == {"type": "queue.left", "reason": "cancelled"}


@BOTH_ROUTES
@pytest.mark.parametrize("reason", ["next", "ended"])
def test_nothing_is_relayed_after_the_call_ends(
    live_server: LiveServer, sphere: Sphere, reason: str
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    ana.send(signal(conversation, "before-the-end"))
    assert ben.receive_type("signal")["data"] == signal(conversation, "before-the-end")["data"]

    ana.send({"type": "call.end", "conversation": conversation, "reason": reason})
    assert ana.receive_type("call.ended") == {
        "type": "call.ended",
        "conversation": conversation,
        "reason": reason,
        "by_me": True,
    }
    assert ben.receive_type("call.ended") == {
        "type": "call.ended",
        "conversation": conversation,
        "reason": reason,
        "by_me": False,
    }

    for sender in (ana, ben):
        sender.send(signal(conversation, "after-the-end"))
        assert sender.receive()["code"] == "not_in_conversation"
        sender.send({"type": "chat.send", "conversation": conversation, "text": "still there?"})
        assert sender.receive()["code"] == "not_in_conversation"
    for receiver in (ana, ben):
        receiver.send({"type": "queue.leave"})
        assert receiver.receive() == {"type": "queue.left", "reason": "cancelled"}

    saved = Conversation.objects.get(public_id=conversation)
    assert saved.state == Conversation.State.ENDED
    assert saved.end_reason == reason
    assert saved.ended_by_id == ana.user.pk


def test_closing_the_tab_ends_the_call_and_tells_the_partner(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    ana.close()
    ended = ben.receive_type("call.ended")
    assert ended == {
        "type": "call.ended",
        "conversation": found["conversation"],
        "reason": "left",
        "by_me": False,
    }
    assert Conversation.objects.get(public_id=found["conversation"]).end_reason == "left"
