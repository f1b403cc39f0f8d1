"""Sending, reading and the rules of messages: who may write, limits, links, read receipts."""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

import pytest
from django.test import Client
from django.utils import timezone

from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.common.events import ToMember
from chatspheres.common.ratelimit import RateLimited
from chatspheres.connections.models import Bond
from chatspheres.messaging.events import MessageNew, MessageSeen, MessagesUnread
from chatspheres.messaging.models import Message, ThreadMember
from chatspheres.messaging.selectors import thread_messages, unread_total
from chatspheres.messaging.services import message_report, messaging_settings_set, thread_mark_read
from chatspheres.safety.models import Report
from chatspheres.safety.services import block_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.messaging.helpers import handle_of, key, pair, send

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ------------------------------------------------------------------ sending once


def test_a_retried_send_is_stored_once_and_answers_with_the_same_message(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    first = send(ana, ben, "How did the exam go?", client_key="retry-key-0001")
    retries = [
        send(ana, ben, "How did the exam go?", client_key="retry-key-0001") for _ in range(5)
    ]
    assert first.created and not any(retry.created for retry in retries)
    assert {retry.message.pk for retry in retries} == {first.message.pk}
    assert Message.objects.count() == 1


def test_a_retry_over_http_gets_the_same_message_and_one_event(
    sphere: Sphere, sent_events: Any
) -> None:
    ana, ben = pair(sphere)
    client = client_for(ana)
    url = f"/messages/{handle_of(ben)}/send/"
    answers = [
        client.post(url, {"body": "Hi Ben", "key": "http-key-0001"}, HTTP_ACCEPT="application/json")
        for _ in range(3)
    ]
    assert [answer.status_code for answer in answers] == [201, 200, 200]
    assert len({answer.json()["message"]["id"] for answer in answers}) == 1
    assert len(sent_events.of_type(MessageNew)) == 2  # Ben's tabs and Ana's other tabs, once


def test_a_message_is_announced_to_both_only_once_saved(sphere: Sphere, sent_events: Any) -> None:
    ana, ben = pair(sphere)
    sent = send(ana, ben, "Hello")
    to_ben = sent_events.to(ToMember(ben.pk))
    to_ana = sent_events.to(ToMember(ana.pk))
    ben_new = [event for event in to_ben if isinstance(event, MessageNew)]
    ana_new = [event for event in to_ana if isinstance(event, MessageNew)]
    assert ben_new[0].message.id == sent.message.pk and not ben_new[0].message.mine
    assert ben_new[0].with_handle == handle_of(ana) and ben_new[0].unread == 1
    assert ana_new[0].message.mine and ana_new[0].with_handle == handle_of(ben)


# ------------------------------------------------------------------ who may write


def test_people_who_talked_once_may_write(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    assert send(ben, ana, "Thanks for the chat").created


def test_connections_may_write(db: None) -> None:
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    now = timezone.now()
    Bond.objects.create(user=ana, other=ben, connected_at=now)
    Bond.objects.create(user=ben, other=ana, connected_at=now)
    assert send(ana, ben, "Hello, connection").created


def test_strangers_are_told_there_is_no_such_person(db: None) -> None:
    ana = make_member("ana@example.com", name="Ana")
    stranger = make_member("sam@example.com", name="Sam")
    with pytest.raises(NotFound) as refused:
        send(stranger, ana, "Hi")
    assert refused.value.message == "There is no such person."
    page = client_for(stranger).get(f"/messages/{handle_of(ana)}/")
    assert page.status_code == 404


@pytest.mark.parametrize("who_blocks", ["ana", "ben"])
def test_a_block_either_way_stops_writing_and_hides_the_thread(
    sphere: Sphere, who_blocks: str
) -> None:
    ana, ben = pair(sphere)
    send(ana, ben, "Before")
    blocker, blocked = (ana, ben) if who_blocks == "ana" else (ben, ana)
    block_create(blocker_id=blocker.pk, blocked_id=blocked.pk)
    for writer, reader in ((ana, ben), (ben, ana)):
        with pytest.raises(NotFound) as refused:
            send(writer, reader, "After")
        assert refused.value.message == "There is no such person."
        assert client_for(writer).get(f"/messages/{handle_of(reader)}/").status_code == 404
        assert handle_of(reader) not in client_for(writer).get("/messages/").content.decode()
    assert Message.objects.count() == 1


def test_writing_to_oneself_is_refused(sphere: Sphere) -> None:
    ana, _ben = pair(sphere)
    with pytest.raises(NotFound):
        send(ana, ana, "Me")


# ------------------------------------------------------------------ limits


def test_a_message_is_at_most_4000_characters(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    assert send(ana, ben, "x" * 4000).created
    with pytest.raises(ApplicationError) as refused:
        send(ana, ben, "x" * 4001)
    assert refused.value.message == (
        "A message can be at most 4,000 characters. Try splitting it in two."
    )
    answer = client_for(ana).post(
        f"/messages/{handle_of(ben)}/send/", {"body": "y" * 4001, "key": key()}
    )
    assert answer.status_code == 400
    assert "at most 4,000 characters" in answer.content.decode()


def test_an_empty_message_is_refused(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    with pytest.raises(ApplicationError) as refused:
        send(ana, ben, "   \n ")
    assert refused.value.message == "Write something before you send it."


def test_sending_too_fast_is_limited(sphere: Sphere, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message": "3/m"}
    ana, ben = pair(sphere)
    for number in range(3):
        send(ana, ben, f"message {number}")
    with pytest.raises(RateLimited) as limited:
        send(ana, ben, "one too many")
    assert limited.value.message.startswith("You've done that too often. Please try again in")
    answer = client_for(ana).post(
        f"/messages/{handle_of(ben)}/send/",
        {"body": "still too many", "key": key()},
        HTTP_ACCEPT="application/json",
    )
    assert answer.status_code == 429 and answer["Retry-After"]


def test_each_link_counts_toward_the_link_limit(sphere: Sphere, settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message_link": "3/h"}
    ana, ben = pair(sphere)
    send(ana, ben, "https://a.example/ and https://b.example/")
    send(ana, ben, "no links here, so no link counted")
    send(ana, ben, "https://c.example/")
    with pytest.raises(RateLimited):
        send(ana, ben, "https://d.example/")
    assert send(ana, ben, "words still go").created


# ------------------------------------------------------------------ links


def test_html_in_a_message_is_shown_as_text_and_links_are_plain(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    send(
        ana,
        ben,
        "<script>alert(1)</script> <img src=x onerror=alert(2)> see https://example.org/a?b=1&c=2.",
    )
    page = client_for(ben).get(f"/messages/{handle_of(ana)}/").content.decode()
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert (
        '<a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer">'
        "https://example.org/a?b=1&amp;c=2</a>." in page
    )


def test_a_link_is_never_fetched_by_the_server(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    with (
        mock.patch("urllib.request.urlopen") as urlopen,
        mock.patch("socket.create_connection") as connect,
    ):
        send(ana, ben, "http://169.254.169.254/latest/meta-data/ https://example.org/")
        client_for(ben).get(f"/messages/{handle_of(ana)}/")
    urlopen.assert_not_called()
    connect.assert_not_called()


def test_a_link_to_a_sphere_or_a_person_of_ours_is_a_card(sphere: Sphere, settings: Any) -> None:
    settings.SITE_URL = "https://chatspheres.example"
    ana, ben = pair(sphere)
    send(
        ana,
        ben,
        f"Join https://chatspheres.example/spheres/{sphere.slug}/ and see "
        f"https://chatspheres.example/people/{handle_of(ana)}/",
    )
    page = client_for(ben).get(f"/messages/{handle_of(ana)}/").content.decode()
    cards = re.findall(r'<a class="message-card" href="([^"]+)"><strong>([^<]+)</strong>', page)
    assert cards == [
        (f"/spheres/{sphere.slug}/", "Book Club"),
        (f"/people/{handle_of(ana)}/", "Ana"),
    ]


def test_a_card_never_names_a_stranger(sphere: Sphere, settings: Any) -> None:
    settings.SITE_URL = "https://chatspheres.example"
    ana, ben = pair(sphere)
    stranger = make_member("sam@example.com", name="Secret Sam")
    send(ana, ben, f"https://chatspheres.example/people/{handle_of(stranger)}/")
    page = client_for(ben).get(f"/messages/{handle_of(ana)}/").content.decode()
    assert "Secret Sam" not in page and "message-card" not in page


# ------------------------------------------------------------------ reading


def test_viewing_the_thread_reads_it(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    send(ana, ben, "One")
    send(ana, ben, "Two")
    assert unread_total(user_id=ben.pk) == 2
    nav = client_for(ben).get("/messages/").content.decode()
    assert 'data-unread="2"' in nav
    client_for(ben).get(f"/messages/{handle_of(ana)}/")
    assert unread_total(user_id=ben.pk) == 0


def test_read_receipts_only_when_both_turn_them_on(sphere: Sphere, sent_events: Any) -> None:
    ana, ben = pair(sphere)
    send(ana, ben, "Read me")
    messaging_settings_set(user_id=ben.pk, read_receipts=True)
    thread_mark_read(user_id=ben.pk, other=ana.profile)
    assert not sent_events.of_type(MessageSeen)
    assert not re.search(
        r'id="message-seen"\s*>',
        client_for(ana).get(f"/messages/{handle_of(ben)}/").content.decode(),
    )
    messaging_settings_set(user_id=ana.pk, read_receipts=True)
    send(ana, ben, "And me")
    thread_mark_read(user_id=ben.pk, other=ana.profile)
    seen = sent_events.of_type(MessageSeen)
    newest = Message.objects.latest("id").pk
    assert [(event.targets, event.event.upto) for event in seen] == [  # type: ignore[attr-defined]
        ((ToMember(ana.pk),), newest)
    ]
    page = client_for(ana).get(f"/messages/{handle_of(ben)}/").content.decode()
    assert re.search(r'id="message-seen"\s*>Seen', page)
    assert sent_events.of_type(MessagesUnread)[-1].event.unread == 0  # type: ignore[attr-defined]


def test_the_settings_switch_is_saved(db: None) -> None:
    ana = make_member("ana@example.com", name="Ana")
    client = client_for(ana)
    assert client.post("/messages/settings/", {"read_receipts": "on"}).status_code == 302
    switch = re.search(
        r'<input type="checkbox" role="switch" id="read-receipts"[^>]*>',
        client.get("/messages/").content.decode(),
    )
    assert switch and switch.group(0).endswith(" checked>")


# ------------------------------------------------------------------ cursor


@pytest.fixture
def no_rate_limit(settings: Any) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "message": "100000/m"}


@pytest.mark.usefixtures("no_rate_limit")
def test_older_pages_cover_the_thread_once(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    for number in range(95):
        send(ana if number % 2 else ben, ben if number % 2 else ana, f"m{number}")
    side = ThreadMember.objects.get(user=ana)
    seen: list[int] = []
    before = None
    while True:
        page, before = thread_messages(side=side, before=before)
        seen[:0] = [message.pk for message in page]
        if before is None:
            break
    assert seen == sorted(Message.objects.values_list("pk", flat=True))


@pytest.mark.usefixtures("no_rate_limit")
def test_the_thread_page_without_javascript_loads_older_by_link(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    for number in range(45):
        send(ana, ben, f"note {number}")
    client = client_for(ben)
    page = client.get(f"/messages/{handle_of(ana)}/").content.decode()
    assert 'role="log" aria-label="Conversation with Ana"' in page
    assert 'placeholder="Reply whenever you\'re ready"' in page and ">Send message</button>" in page
    cursor = re.search(r'href="\?before=(\d+)"[^>]*>Load older messages', page)
    assert cursor
    older = client.get(f"/messages/{handle_of(ana)}/?before={cursor.group(1)}").content.decode()
    assert "note 0" in older and "note 44" not in older


# ------------------------------------------------------------------ reporting


def test_a_reported_message_goes_into_the_report_with_the_few_before_it(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    for number in range(6):
        send(ana, ben, f"line {number}")
    bad = send(ben, ana, "something hurtful").message
    answer = client_for(ana).post(
        f"/messages/m/{bad.pk}/report/", {"reason": Report.Reason.values[0], "details": ""}
    )
    assert answer.status_code == 302
    report = Report.objects.get()
    assert report.subject_id == ben.pk and report.reporter_id == ana.pk
    lines = [line for line in report.chat_excerpt if line.get("where") == "messages"]
    assert [line["text"] for line in lines] == [
        "line 2",
        "line 3",
        "line 4",
        "line 5",
        "something hurtful",
    ]
    assert [line["from"] for line in lines][-1] == "subject"


def test_one_cannot_report_ones_own_message(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    mine = send(ana, ben, "mine").message
    assert client_for(ana).get(f"/messages/m/{mine.pk}/report/").status_code == 404
    with pytest.raises(ApplicationError):
        message_report(reporter_id=ana.pk, message=mine, reason=Report.Reason.values[0])


def test_the_moderator_sees_the_reported_messages_marked_as_messages(sphere: Sphere) -> None:
    from django.contrib.auth.models import Group

    ana, ben = pair(sphere)
    send(ana, ben, "an ordinary line")
    bad = send(ben, ana, "a threatening line").message
    message_report(reporter_id=ana.pk, message=bad, reason=Report.Reason.values[0])
    mo = make_member("mo@example.com", name="Mo")
    mo.groups.add(Group.objects.get_or_create(name="Moderators")[0])
    page = client_for(mo).get(f"/moderation/reports/{Report.objects.get().pk}/")
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.content.decode()))
    assert "(in messages) : a threatening line" in text
    assert "(in messages) : an ordinary line" in text


def test_a_suspended_member_cannot_send(sphere: Sphere) -> None:
    from django.contrib.auth.models import Group

    from chatspheres.moderation.services import decision_make
    from chatspheres.safety.services import report_create

    ana, ben = pair(sphere)
    mo = make_member("mo@example.com", name="Mo")
    mo.groups.add(Group.objects.get_or_create(name="Moderators")[0])
    report = report_create(reporter_id=ana.pk, subject_id=ben.pk, reason=Report.Reason.values[0])
    decision_make(
        report=report,
        moderator=mo,
        action="suspend",
        days=3,
        statement="Threats break the community guidelines.",
    )
    with pytest.raises(ApplicationError) as refused:
        send(ben, ana, "let me explain")
    assert (
        refused.value.message == "Your account is suspended or banned, so you can't send messages."
    )
    assert not Message.objects.filter(sender=ben).exists()
