"""Messages over a real socket against a real server: live to the other's tabs and the sender's
other tabs, caught up after a reconnect, and never a frame of another pair's thread."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.messaging.services import thread_mark_read
from tests.conftest import LiveServer, make_member
from tests.messaging.helpers import handle_of, send
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
