"""Messages over a real socket against a real server: live to the other's tabs and the sender's
other tabs, caught up after a reconnect, and never a frame of another pair's thread."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.messaging.services import thread_mark_read
from tests.conftest import LiveServer, make_member
from tests.messaging.helpers import handle_of, key, send
from tests.realtime.test_resume import live_server_hub_log_size
from tests.realtime.wsclient import Tab

pytestmark = pytest.mark.django_db(transaction=True)


def talked(a: Any, b: Any) -> None:
    from chatspheres.spheres.services import sphere_upsert
    from tests.connections.helpers import talk

    sphere = sphere_upsert(slug="book-club", name="Book Club", tagline="Books.", description="B.")
    talk(sphere, a, b)


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_a_message_arrives_live_and_after_a_reconnect(live_server: LiveServer) -> None:
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    talked(ana, ben)
    ben_thread, ben_people = Tab(live_server, ben), Tab(live_server, ben)
    ana_other_tab = Tab(live_server, ana)

    sent = send(ana, ben, "Hello <b>Ben</b>, https://example.org/x")
    for tab in (ben_thread, ben_people):
        frame = tab.receive_type("message.new")
        assert frame["with_handle"] == handle_of(ana) and frame["unread"] == 1
        assert frame["message"]["id"] == sent.message.pk and frame["message"]["mine"] is False
        assert frame["message"]["html"] == (
            'Hello &lt;b&gt;Ben&lt;/b&gt;, <a href="https://example.org/x" '
            'rel="nofollow noopener noreferrer">https://example.org/x</a>'
        )
    mine = ana_other_tab.receive_type("message.new")
    assert mine["message"]["mine"] is True and mine["with_handle"] == handle_of(ben)
    assert mine["message"]["key"] == sent.message.client_key

    # Ben's network drops; Ana writes twice more; his tab comes back and catches up in order.
    ben_people.drop()
    second = send(ana, ben, "Are you there?").message
    third = send(ana, ben, "No hurry.").message
    assert ben_people.reconnect()["resumed"] is True
    caught_up = [ben_people.receive_type("message.new") for _ in range(2)]
    assert [frame["message"]["id"] for frame in caught_up] == [second.pk, third.pk]
    assert caught_up[-1]["unread"] == 3

    thread_mark_read(user_id=ben.pk, other=ana.profile)
    for frame in (ben_thread.receive_type("message.new"), ben_thread.receive_type("message.new")):
        assert frame["type"] == "message.new"
    assert ben_thread.receive_type("messages.unread") == {"type": "messages.unread", "unread": 0}


def answer_to(tab: Tab, sent_key: str) -> dict[str, Any]:
    """The answer to this tab's ``message.send`` with this key (after its own message.new)."""
    while True:
        frame = tab.receive()
        if frame["type"] in ("message.sent", "message.refused") and frame["key"] == sent_key:
            return frame
        assert frame["type"] == "message.new" and frame["message"]["mine"], frame


def test_a_message_sent_over_the_socket_is_answered_once_saved_and_stored_once(
    live_server: LiveServer,
) -> None:
    from chatspheres.messaging.models import Message

    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    talked(ana, ben)
    ana_tab, ben_tab = Tab(live_server, ana), Tab(live_server, ben)
    frame = {"type": "message.send", "to": handle_of(ben), "body": "See you Sunday?", "key": key()}

    ana_tab.send(frame)
    heard = ben_tab.receive_type("message.new")
    assert heard["message"]["html"] == "See you Sunday?" and heard["message"]["mine"] is False
    answer = answer_to(ana_tab, frame["key"])
    saved = Message.objects.get(sender=ana, client_key=frame["key"])
    assert answer["key"] == frame["key"] and answer["created"] is True
    assert answer["message"]["id"] == saved.pk == heard["message"]["id"]
    assert answer["message"]["mine"] is True and answer["message"]["author"] == "Ana"

    # The page did not hear the answer (its socket dropped) and sends the key again.
    ana_tab.send(frame)
    again = answer_to(ana_tab, frame["key"])
    assert again["created"] is False and again["message"]["id"] == saved.pk
    assert Message.objects.filter(sender=ana).count() == 1
    # Ben heard of it once: the next message.new he gets is Ana's next message.
    ana_tab.send({**frame, "key": key(), "body": "Or Monday."})
    assert ben_tab.receive_type("message.new")["message"]["html"] == "Or Monday."


def test_a_send_over_the_socket_that_is_refused_says_why_with_its_key(
    live_server: LiveServer, settings: Any
) -> None:
    from chatspheres.messaging.models import Message

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message": "3/m"}
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    stranger = make_member("cy@example.com", name="Cy")
    talked(ana, ben)
    tab = Tab(live_server, ana)

    def refusal(to: str, body: str) -> dict[str, Any]:
        sent_key = key()
        tab.send({"type": "message.send", "to": to, "body": body, "key": sent_key})
        answer = answer_to(tab, sent_key)
        assert answer["type"] == "message.refused"
        return answer

    stranger_answer = refusal(handle_of(stranger), "Hi")
    assert stranger_answer["code"] == "no_such_person"
    assert stranger_answer["message"] == "There is no such person."
    too_long = refusal(handle_of(ben), "x" * 4001)
    assert too_long["code"] == "message_too_long" and "4,000" in too_long["message"]
    assert refusal(handle_of(ben), " \u0000\n ")["code"] == "message_empty"
    for number in range(3):
        sent_key = key()
        tab.send(
            {"type": "message.send", "to": handle_of(ben), "body": f"{number}", "key": sent_key}
        )
        assert answer_to(tab, sent_key)["created"] is True
    limited = refusal(handle_of(ben), "one more")
    assert limited["code"] == "rate_limited" and 0 < limited["retry_after"] <= 60
    assert "try again in" in limited["message"]
    # Nothing refused was stored; a NUL never reached the database.
    assert list(Message.objects.order_by("id").values_list("body", flat=True)) == ["0", "1", "2"]


def test_a_tab_away_too_long_is_sent_the_unread_count(
    live_server: LiveServer, settings: Any
) -> None:
    settings.REALTIME_EVENT_LOG_SIZE = 2
    live_server_hub_log_size(2)
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    talked(ana, ben)
    tab = Tab(live_server, ben)
    tab.drop()
    for number in range(4):
        send(ana, ben, f"message {number}")
    assert tab.reconnect()["resumed"] is True
    tab.receive_type("resync")
    # Each app sends what the page must reload; ours is the unread count.
    frames = {frame["type"]: frame for frame in (tab.receive() for _ in range(3))}
    assert frames["messages.unread"] == {"type": "messages.unread", "unread": 4}


def test_no_member_reads_another_pairs_thread_over_any_url_or_frame(
    live_server: LiveServer,
) -> None:
    from django.test import Client

    from chatspheres.messaging.models import Message

    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    cy = make_member("cy@example.com", name="Cy")
    dee = make_member("dee@example.com", name="Dee")
    talked(ana, ben)
    talked(cy, ana)  # Cy knows Ana, and Ben through nobody
    talked(cy, dee)
    cy_tab = Tab(live_server, cy)
    secret = "the secret only Ana and Ben share"
    messages = [send(ana, ben, f"{secret} {n}").message for n in range(3)]
    messages += [send(ben, ana, f"{secret} reply {n}").message for n in range(3)]

    cy_client = Client()
    cy_client.force_login(cy)
    attempts = leaks = 0
    handles = [handle_of(ana), handle_of(ben), handle_of(dee), "nobody-here"]
    ids = [message.pk for message in messages] + [0, 999999]
    for handle in handles:
        for path in ("", "older/", "older/?before=999999"):
            answer = cy_client.get(f"/messages/{handle}/{path}")
            attempts += 1
            leaks += secret in answer.content.decode()
        answer = cy_client.post(f"/messages/{handle}/read/", {"upto": "999999"})
        attempts += 1
        leaks += secret in answer.content.decode()
    for message_id in ids:
        for method in ("get", "post"):
            answer = getattr(cy_client, method)(f"/messages/m/{message_id}/report/")
            attempts += 1
            leaks += secret in answer.content.decode() or answer.status_code != 404
    for page in ("/messages/", "/messages/m/unread/", "/people/", "/notifications/"):
        attempts += 1
        leaks += secret in cy_client.get(page).content.decode()
    # Ben's thread stays Ben's: Cy's thread with Ana is another thread.
    assert secret not in cy_client.get(f"/messages/{handle_of(ana)}/").content.decode()
    assert cy_client.get(f"/messages/{handle_of(ben)}/").status_code == 404
    assert attempts >= 36 and leaks == 0

    # Cy's tab heard nothing of it: the next frame it gets is Dee's message to Cy.
    send(dee, cy, "Hi Cy")
    frame = cy_tab.receive_type("message.new")
    assert frame["message"]["html"] == "Hi Cy" and frame["with_handle"] == handle_of(dee)

    # Over the socket, Cy can only ever write into Cy's own threads.
    for handle in handles:
        sent_key = key()
        cy_tab.send({"type": "message.send", "to": handle, "body": "hello?", "key": sent_key})
        answer = answer_to(cy_tab, sent_key)
        leaks += secret in str(answer)
        # Only to the two Cy talked with, each into Cy's own thread with them.
        assert answer["type"] == (
            "message.refused"
            if handle == handle_of(ben) or handle == "nobody-here"
            else "message.sent"
        )
    assert leaks == 0
    assert set(
        Message.objects.filter(sender=cy).values_list("thread__members__other_id", flat=True)
    ) >= {ana.pk, dee.pk}
