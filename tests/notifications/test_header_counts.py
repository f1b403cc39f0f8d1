"""The header's unread counts: both in one query, once per request, and always right."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatspheres.accounts.models import User
from chatspheres.common.header import counts_for, header_counts
from chatspheres.messaging.selectors import unread_total
from chatspheres.messaging.services import thread_mark_read
from chatspheres.notifications.models import Notification
from chatspheres.notifications.selectors import unread_count
from chatspheres.notifications.services import notification_send, notifications_mark_all_read
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.messaging.helpers import pair, send

pytestmark = pytest.mark.django_db

MESSAGES = re.compile(r'id="messages-unread" data-unread="(\d+)"')
NOTIFICATIONS = re.compile(r'id="notifications-unread" data-unread="(\d+)"')


def header_of(client: Client) -> tuple[int, int, list[str]]:
    """The header's two counts on a plain page, and the SQL the request ran."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/guidelines/")
    assert response.status_code == 200
    html = response.content.decode()
    messages, notifications = MESSAGES.search(html), NOTIFICATIONS.search(html)
    assert messages is not None and notifications is not None
    sql = [query["sql"] for query in captured.captured_queries]
    return int(messages.group(1)), int(notifications.group(1)), sql


def test_a_signed_in_page_reads_both_counts_in_one_query(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    send(ana, ben, "Hello Ben")
    notification_send(recipient_id=ben.pk, kind=Notification.Kind.NEW_FOLLOWER, actor_id=ana.pk)
    client = Client()
    client.force_login(ben)

    messages, notifications, sql = header_of(client)

    assert (messages, notifications) == (1, 1)
    counting = [
        query
        for query in sql
        if "messaging_threadmember" in query or "notifications_notification" in query
    ]
    assert len(counting) == 1, counting
    assert "messaging_threadmember" in counting[0] and "notifications_notification" in counting[0]
    # The whole plain page: the session, the member (with their profile and
    # whether a decision keeps them out), and the header's counts.
    assert len(sql) == 3, sql


def test_each_count_follows_what_is_unread(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    client = Client()
    client.force_login(ben)
    assert header_of(client)[:2] == (0, 0)

    send(ana, ben, "Hello Ben")
    send(ana, ben, "Are you there?")
    assert header_of(client)[:2] == (2, 0)

    notification_send(recipient_id=ben.pk, kind=Notification.Kind.NEW_FOLLOWER, actor_id=ana.pk)
    assert header_of(client)[:2] == (2, 1)

    thread_mark_read(user_id=ben.pk, other=ana.profile)
    assert header_of(client)[:2] == (0, 1)

    notifications_mark_all_read(user_id=ben.pk)
    assert header_of(client)[:2] == (0, 0)


def test_the_counts_are_the_selectors_counts_and_only_the_members_own(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    cat = make_member("cat@example.com", name="Cat")
    send(ben, ana, "first")
    for body in ("one", "two", "three"):
        send(ana, ben, body)
    notification_send(recipient_id=ben.pk, kind=Notification.Kind.NEW_FOLLOWER, actor_id=ana.pk)
    notification_send(recipient_id=ana.pk, kind=Notification.Kind.NEW_FOLLOWER, actor_id=ben.pk)
    notification_send(recipient_id=ana.pk, kind=Notification.Kind.MISSED_RING, actor_id=ben.pk)

    for person in (ana, ben, cat):
        counts = counts_for(user_id=person.pk)
        assert counts.messages == unread_total(user_id=person.pk)
        assert counts.notifications == unread_count(user_id=person.pk)
    assert (counts_for(user_id=ben.pk).messages, counts_for(user_id=ben.pk).notifications) == (3, 1)
    assert counts_for(user_id=ana.pk).notifications == 2
    assert (counts_for(user_id=cat.pk).messages, counts_for(user_id=cat.pk).notifications) == (0, 0)


def test_the_counts_are_read_once_per_request_however_many_ask(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    send(ana, ben, "Hello Ben")
    request = SimpleNamespace(user=User.objects.get(pk=ben.pk))
    with CaptureQueriesContext(connection) as captured:
        first = header_counts(request)
        again = header_counts(request)
    assert first == again
    assert first.messages == 1
    assert len(captured.captured_queries) == 1
    # A new request reads them again.
    send(ana, ben, "Still there?")
    assert header_counts(SimpleNamespace(user=request.user)).messages == 2


def test_nobody_signed_in_costs_no_query() -> None:
    from django.contrib.auth.models import AnonymousUser

    with CaptureQueriesContext(connection) as captured:
        counts = header_counts(SimpleNamespace(user=AnonymousUser()))
        none = header_counts(None)
    assert (counts.messages, counts.notifications) == (0, 0)
    assert (none.messages, none.notifications) == (0, 0)
    assert len(captured.captured_queries) == 0
    page = Client().get("/guidelines/").content.decode()
    assert "messages-unread" not in page and "notifications-unread" not in page
