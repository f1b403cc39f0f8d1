"""Failures stay small: each fault found in the first gateway, over a real socket.

Every test here failed on the gateway as it was before the real-time core was
rebuilt; each states what a member or an operator relies on instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from chatspheres.accounts.models import Profile, User
from chatspheres.calls import realtime as calls_realtime
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_start
from chatspheres.matching import realtime as matching_realtime
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_join
from tests.conftest import LiveServer, make_member, session_cookie
from tests.realtime.wsclient import RECEIVE_LIMIT_SECONDS, Tab, match, signal

pytestmark = pytest.mark.django_db(transaction=True)


def closed_with(tab: Tab) -> tuple[int, str]:
    """Read until the server closes the socket; the close code and reason it gave."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            tab.receive()
    assert closed.value.rcvd is not None, "the server closed the socket with a code"
    return closed.value.rcvd.code, closed.value.rcvd.reason


# A failed match start -------------------------------------------------------------


def test_an_account_made_with_createsuperuser_can_be_matched(
    live_server: LiveServer, sphere: Sphere
) -> None:
    admin = User.objects.create_superuser(email="root@example.com", password="a-long-password")
    sphere_join(user=admin, sphere=sphere)
    assert not Profile.objects.filter(user=admin).exists()
    ben = Tab(live_server, make_member("ben@example.com", name="Ben", spheres=(sphere,)))
    root = Tab(live_server, admin)
    for_ben, for_root = match(ben, root, sphere.pk)
    assert for_ben["partner"]["name"] == "root"  # named after the address until they choose
    assert for_root["partner"]["name"] == "Ben"
    assert "root@example.com" not in json.dumps(for_ben)


def test_a_pairing_refused_for_the_waiting_one_tells_them_why_and_the_arrival_waits_on(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana_user = make_member("ana@example.com", name="Ana", spheres=(sphere,))
    ana = Tab(live_server, ana_user)
    ana.send({"type": "queue.join", "sphere": sphere.pk})
    ana.receive_type("queue.waiting")
    # Meanwhile Ana got into a call elsewhere (another process raced this one).
    dev = make_member("dev@example.com", spheres=(sphere,))
    conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana_user.pk,
        a_tab="ana-elsewhere",
        b_user_id=dev.pk,
        b_tab="dev-tab",
        shared_interests=[],
    )

    ben = Tab(live_server, make_member("ben@example.com", name="Ben", spheres=(sphere,)))
    ben.send({"type": "queue.join", "sphere": sphere.pk})
    assert ben.receive_type("queue.waiting")["waiting"] == 1  # Ben waits, Ana no longer
    assert ana.receive_type("queue.left") == {
        "type": "queue.left",
        "reason": "refused",
        "message": "You are already in a conversation in another tab.",
    }
    cleo = Tab(live_server, make_member("cleo@example.com", name="Cleo", spheres=(sphere,)))
    cleo.send({"type": "queue.join", "sphere": sphere.pk})
    assert cleo.receive_type("match.found")["partner"]["name"] == "Ben"
    assert ben.receive_type("match.found")["partner"]["name"] == "Cleo"


def test_a_pairing_that_cannot_be_saved_puts_both_back_where_they_waited(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", name="Ana", spheres=(sphere,)))
    ana.send({"type": "queue.join", "sphere": sphere.pk})
    ana.receive_type("queue.waiting")

    real_start = matching_realtime.conversation_start
    failures: list[int] = []

    def fails_once(**kwargs: Any) -> Any:
        if not failures:
            failures.append(1)
            raise RuntimeError("the database went away for a moment")
        return real_start(**kwargs)

    monkeypatch.setattr(matching_realtime, "conversation_start", fails_once)
    cleo = Tab(live_server, make_member("cleo@example.com", name="Cleo", spheres=(sphere,)))
    cleo.send({"type": "queue.join", "sphere": sphere.pk})
    assert cleo.receive_type("queue.waiting")["waiting"] == 2  # both wait again
    assert cleo.receive_type("error")["code"] == "internal"
    # Ana kept her place at the front: the next arrival meets her, then Cleo's turn comes.
    dev = Tab(live_server, make_member("dev@example.com", name="Dev", spheres=(sphere,)))
    dev.send({"type": "queue.join", "sphere": sphere.pk})
    assert dev.receive_type("match.found")["partner"]["name"] == "Ana"
    assert ana.receive_type("match.found")["partner"]["name"] == "Dev"
    eve = Tab(live_server, make_member("eve@example.com", name="Eve", spheres=(sphere,)))
    eve.send({"type": "queue.join", "sphere": sphere.pk})
    assert eve.receive_type("match.found")["partner"]["name"] == "Cleo"


# A bug in a handler ------------------------------------------------------------------


def test_a_failing_handler_is_answered_with_internal_and_the_call_goes_on(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]

    async def broken(*_args: Any) -> None:
        raise KeyError("a bug")

    monkeypatch.setattr(calls_realtime, "send_event", broken)
    with caplog.at_level(logging.ERROR, logger="chatspheres.realtime.gateway"):
        ana.send({"type": "chat.send", "conversation": conversation, "text": "hello"})
        error = ana.receive_type("error")
    assert error["code"] == "internal"
    assert "call is still on" in error["message"]
    assert [r.message for r in caplog.records] == [f"the chat.send handler failed on tab {ana.id}"]
    assert caplog.records[0].exc_info is not None  # one record, with the traceback

    ana.send(signal(conversation, "still-here"))
    assert ben.receive_type("signal") == signal(conversation, "still-here")
    assert Conversation.objects.get(public_id=conversation).state == "active"


# Frames that once killed the socket ------------------------------------------------


def nested(depth: int) -> str:
    return '{"type":"signal","conversation":"x","data":' + "[" * depth + "]" * depth + "}"


@pytest.mark.parametrize("depth", [33, 1000, 20_000])
def test_a_deeply_nested_frame_is_refused_and_the_socket_stays_open(
    live_server: LiveServer, sphere: Sphere, depth: int
) -> None:
    tab = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    tab.send_text(nested(depth))
    assert tab.receive() == {
        "type": "error",
        "code": "too_deep",
        "message": "That message is nested too deeply.",
    }
    tab.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert tab.receive()["type"] == "sphere.presence"


def test_a_frame_nested_as_deep_as_the_limit_is_still_read(
    live_server: LiveServer, sphere: Sphere
) -> None:
    tab = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    tab.send_text(nested(31))  # 32 levels with the frame itself
    assert tab.receive()["code"] == "not_in_conversation"  # read, then refused on its merits


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "call.end", "conversation": "abc\u0000def", "reason": "ended"},
        {"type": "chat.send", "conversation": "abc", "text": "hello\u0000"},
        {"type": "signal", "conversation": "\u0007", "data": {}},
    ],
)
def test_control_characters_from_a_client_are_refused_in_words(
    live_server: LiveServer, sphere: Sphere, frame: dict[str, Any]
) -> None:
    tab = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    tab.send(frame)
    assert tab.receive() == {
        "type": "error",
        "code": "bad_characters",
        "message": "Text may not contain control characters such as NUL.",
    }
    tab.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert tab.receive()["type"] == "sphere.presence"


def test_a_nul_in_an_address_is_a_clear_400_never_a_500(sphere: Sphere) -> None:
    client = Client()
    client.force_login(make_member("ana@example.com", spheres=(sphere,)))
    for path in ("/conversations/%00/reflection/", "/spheres/?q=%00", "/spheres/%00/"):
        response = (
            client.post(path, {"rating": "good"}) if "reflection" in path else client.get(path)
        )
        assert response.status_code == 400, path
        assert b"control characters" in response.content


def test_a_chat_line_may_span_lines(live_server: LiveServer, sphere: Sphere) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    ana.send(
        {"type": "chat.send", "conversation": found["conversation"], "text": "one\ntwo\tthree"}
    )
    assert ben.receive_type("chat.message")["text"] == "one\ntwo\tthree"


def test_error_codes_come_from_the_frame_not_from_msgspecs_wording(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A msgspec release that rewords its errors must not change what clients are told."""
    import msgspec

    from chatspheres.realtime.registry import registry

    class RewordedDecoder:
        def decode(self, _text: str) -> Any:
            raise msgspec.ValidationError("worded differently by a future release")

    monkeypatch.setattr(type(registry), "decoder", property(lambda _self: RewordedDecoder()))
    tab = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    for frame, code in [
        ({"type": "no.such.thing"}, "unknown_type"),
        ({"type": "chat.send", "conversation": "x", "text": "y" * 1001}, "too_long"),
        ({"type": "queue.join", "sphere": "one"}, "bad_frame"),
        ({"type": "queue.join", "sphere": 1, "extra": True}, "bad_frame"),
    ]:
        tab.send(frame)
        error = tab.receive()
        assert error["code"] == code, frame
        assert "future release" not in error["message"]


# The fast lane and order -----------------------------------------------------------


def test_a_signal_never_overtakes_a_frame_whose_handler_is_still_running(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    real_send_event = calls_realtime.send_event

    async def slow_as_a_database(*args: Any, **kwargs: Any) -> None:
        await asyncio.sleep(0.3)  # the handler awaits something before it sends
        await real_send_event(*args, **kwargs)

    monkeypatch.setattr(calls_realtime, "send_event", slow_as_a_database)
    ana.send({"type": "chat.send", "conversation": conversation, "text": "first"})
    ana.send(signal(conversation, "second"))
    assert ben.receive_type("chat.message")["text"] == "first"
    assert ben.receive_type("signal") == signal(conversation, "second")


# Sessions that end -----------------------------------------------------------------


def test_logging_out_closes_that_sessions_sockets_with_4001(
    live_server: LiveServer, sphere: Sphere
) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    browser = Client()
    browser.force_login(member)
    cookie = f"sessionid={browser.cookies['sessionid'].value}"
    tab = Tab(live_server, member, cookie=cookie)
    elsewhere = Tab(live_server, member)  # another session of hers stays signed in
    browser.post("/accounts/logout/")
    assert closed_with(tab) == (4001, "Your session ended. Sign in again to continue.")
    elsewhere.send({"type": "sphere.enter", "sphere": sphere.pk})
    assert elsewhere.receive()["type"] == "sphere.presence"


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_a_new_password_or_a_deactivated_account_closes_every_socket(
    live_server: LiveServer, sphere: Sphere, change: str
) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    tabs = [Tab(live_server, member), Tab(live_server, member)]
    if change == "password":
        member.set_password("another-long-password")
    else:
        member.is_active = False
    member.save()
    for tab in tabs:
        assert closed_with(tab)[0] == 4001
    with pytest.raises(InvalidStatus):
        Tab(live_server, member, cookie=tabs[0].cookie)  # and that session cannot come back


# The handshake -----------------------------------------------------------------


def refused(server: LiveServer, origin: str, cookie: str) -> bool:
    try:
        connect(
            server.ws_url,
            origin=origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie},
            open_timeout=RECEIVE_LIMIT_SECONDS,
            legacy=True,
        ).close()
    except InvalidStatus as refusal:
        assert refusal.response.status_code == 403
        return True
    return False


def test_the_origin_must_match_scheme_host_and_port(
    live_server: LiveServer, sphere: Sphere, settings: Any, caplog: Any
) -> None:
    cookie = session_cookie(make_member("ana@example.com", spheres=(sphere,)))
    host, port = live_server.host, live_server.port
    with caplog.at_level(logging.INFO, logger="chatspheres.realtime.gateway"):
        assert refused(live_server, f"http://{host}:{port + 1}", cookie)
        assert refused(live_server, f"https://{host}:{port}", cookie)
        assert refused(live_server, f"http://{host}", cookie)
    assert any("foreign Origin" in record.message for record in caplog.records)
    assert not refused(live_server, f"http://{host}:{port}", cookie)
    settings.CSRF_TRUSTED_ORIGINS = ["https://chat.example.org"]
    assert not refused(live_server, "https://chat.example.org", cookie)


def unwelcomed_tab(server: LiveServer, member: User) -> Tab:
    """A socket the server accepts only to close at once: no ``ready`` is expected."""
    tab = Tab.__new__(Tab)
    tab.ws = connect(
        server.ws_url,
        origin=server.origin,  # type: ignore[arg-type]
        additional_headers={"Cookie": session_cookie(member)},
        open_timeout=RECEIVE_LIMIT_SECONDS,
        legacy=True,
    )
    tab.last_event_id = 0
    return tab


def test_at_most_eight_sockets_per_member(live_server: LiveServer, sphere: Sphere) -> None:
    member = make_member("ana@example.com", spheres=(sphere,))
    tabs = [Tab(live_server, member) for _ in range(8)]
    code, reason = closed_with(unwelcomed_tab(live_server, member))
    assert code == 4003
    assert "too many tabs" in reason
    tabs[0].close()
    Tab(live_server, member)  # one closed, so one more may open


def test_handshakes_per_address_are_limited(
    live_server: LiveServer, sphere: Sphere, settings: Any
) -> None:
    settings.REALTIME_HANDSHAKES_PER_MINUTE = 5
    member = make_member("ana@example.com", spheres=(sphere,))
    for _ in range(5):
        Tab(live_server, member).close()
    code, reason = closed_with(unwelcomed_tab(live_server, member))
    assert code == 4029
    assert "Too many connection attempts" in reason


# Events from worker threads ----------------------------------------------------------


def test_an_event_that_fails_to_send_from_a_worker_thread_is_logged(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch, caplog: Any
) -> None:
    from chatspheres.calls.events import PartnerBack
    from chatspheres.common.events import ToMember, send_event_on_commit
    from chatspheres.realtime import runtime

    async def hub_down(*_args: Any, **_kwargs: Any) -> Any:
        raise ConnectionError("the hub is down")

    monkeypatch.setattr(runtime.current().hub, "publish_logged", hub_down)
    with caplog.at_level(logging.ERROR, logger="chatspheres.realtime.runtime"):
        send_event_on_commit(PartnerBack(conversation="x"), to=ToMember(1))  # no transaction: now
        Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))  # the loop turns
        for _ in range(200):  # bounded: the failure is logged on the server's loop
            if caplog.records:
                break
            threading.Event().wait(0.05)
    assert [record.message for record in caplog.records] == ["sending call.partner_back failed"]
