"""Notifications: what each kind says, who hears it, reading them, and choosing what to hear."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatspheres.accounts.models import User
from chatspheres.common.events import Captured, ToMember
from chatspheres.notifications.events import NotificationNew, NotificationUnread
from chatspheres.notifications.models import ALWAYS_SENT_KINDS, EMAIL_ONLY_KINDS, Notification
from chatspheres.notifications.services import (
    notification_preferences_set,
    notification_send,
    notifications_mark_all_read,
)
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


@pytest.fixture
def ana() -> User:
    return make_member("ana@example.com", name="Ana")


@pytest.fixture
def ben() -> User:
    return make_member("ben@example.com", name="Ben")


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("kind", "data", "words"),
    [
        (Kind.NEW_FOLLOWER, {}, "Ana followed you"),
        (Kind.CONNECTION_MADE, {}, "You and Ana are now connected"),
        (Kind.MISSED_RING, {}, "You missed a call from Ana"),
        (Kind.STAGE_REACHED, {"stage": "Friends"}, "You and Ana are now Friends"),
        (Kind.SOMEONE_WAITING, {}, "Someone is waiting in Book Club"),
    ],
)
def test_each_kind_is_told_live_in_its_own_words_with_the_unread_count(
    ana: User,
    ben: User,
    sphere: Sphere,
    sent_events: Captured,
    kind: str,
    data: dict[str, str],
    words: str,
) -> None:
    notification_send(recipient_id=ben.pk, kind=Kind.NEW_FOLLOWER, actor_id=ana.pk)
    saved = notification_send(
        recipient_id=ben.pk, kind=kind, actor_id=ana.pk, sphere_id=sphere.pk, data=data
    )
    assert saved is not None and saved.read_at is None
    told = [
        event for event in sent_events.to(ToMember(ben.pk)) if isinstance(event, NotificationNew)
    ]
    assert told[-1].notification.text == words
    assert told[-1].unread == 2
    assert sent_events.to(ToMember(ana.pk)) == []
    page = signed_in(ben).get(reverse("notifications:list"))
    assert words in page.content.decode()


def test_a_kind_turned_off_is_neither_saved_nor_sent(
    ana: User, ben: User, sent_events: Captured
) -> None:
    everything_but_followers = [kind for kind in Kind.values if kind != Kind.NEW_FOLLOWER]
    notification_preferences_set(user_id=ben.pk, enabled_kinds=everything_but_followers)
    assert notification_send(recipient_id=ben.pk, kind=Kind.NEW_FOLLOWER, actor_id=ana.pk) is None
    assert notification_send(recipient_id=ben.pk, kind=Kind.MISSED_RING, actor_id=ana.pk)
    assert Notification.objects.filter(recipient=ben).count() == 1
    assert len(sent_events.of_type(NotificationNew)) == 1


def test_an_unknown_kind_is_a_programming_error(ben: User) -> None:
    with pytest.raises(ValueError, match="unknown notification kind"):
        notification_send(recipient_id=ben.pk, kind="gossip")


def test_the_header_shows_the_unread_count_as_text_on_every_page(ana: User, ben: User) -> None:
    for _ in range(3):
        notification_send(recipient_id=ben.pk, kind=Kind.MISSED_RING, actor_id=ana.pk)
    html = signed_in(ben).get(reverse("spheres:list")).content.decode()
    assert 'id="notifications-toggle"' in html and ">Notifications<" in html
    assert '<span class="count-number">3</span><span class="live-hidden"> unread</span>' in html
    assert 'id="site-config"' in html and "js/site.js" in html
    anonymous = Client().get(reverse("spheres:list")).content.decode()
    assert "notifications-toggle" not in anonymous and "js/site.js" not in anonymous


def test_the_list_is_newest_first_paged_and_reads_a_fixed_number_of_queries(
    ana: User, ben: User, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(ben)
    notification_send(recipient_id=ben.pk, kind=Kind.MISSED_RING, actor_id=ana.pk)
    with django_assert_max_num_queries(12) as few:
        client.get(reverse("notifications:list"))
    for _ in range(45):
        notification_send(recipient_id=ben.pk, kind=Kind.NEW_FOLLOWER, actor_id=ana.pk)
    with django_assert_max_num_queries(len(few.captured_queries)):
        first = client.get(reverse("notifications:list")).content.decode()
    assert first.count('class="notification ') == 20
    assert "46 unread" in first and 'rel="next"' in first
    last = client.get(reverse("notifications:list") + "?page=3").content.decode()
    assert last.count('class="notification ') == 6
    assert "You missed a call from Ana" in last and 'rel="next"' not in last


def test_marking_one_read_then_all(ana: User, ben: User, sent_events: Captured) -> None:
    first = notification_send(recipient_id=ben.pk, kind=Kind.MISSED_RING, actor_id=ana.pk)
    notification_send(recipient_id=ben.pk, kind=Kind.NEW_FOLLOWER, actor_id=ana.pk)
    assert first is not None
    client = signed_in(ben)
    answer = client.post(
        reverse("notifications:read", kwargs={"notification_id": first.pk}),
        HTTP_ACCEPT="application/json",
    )
    assert answer.json() == {"unread": 1}
    assert sent_events.to(ToMember(ben.pk))[-1] == NotificationUnread(unread=1)
    page = client.post(reverse("notifications:read_all"), follow=True)
    assert "All your notifications are marked read." in page.content.decode()
    assert "You're all caught up." in page.content.decode()
    assert not Notification.objects.filter(recipient=ben, read_at__isnull=True).exists()
    assert sent_events.to(ToMember(ben.pk))[-1] == NotificationUnread(unread=0)
    assert notifications_mark_all_read(user_id=ben.pk) == 0


def test_nobody_reads_or_marks_another_members_notifications(ana: User, ben: User) -> None:
    mine = notification_send(recipient_id=ben.pk, kind=Kind.MISSED_RING, actor_id=ana.pk)
    assert mine is not None
    nosy = signed_in(ana)
    assert (
        nosy.post(reverse("notifications:read", kwargs={"notification_id": mine.pk})).status_code
        == 404
    )
    assert "You missed a call" not in nosy.get(reverse("notifications:list")).content.decode()
    assert "You missed a call" not in nosy.get(reverse("notifications:panel")).content.decode()
    assert Notification.objects.get(pk=mine.pk).read_at is None
    assert Client().get(reverse("notifications:list")).status_code == 302


def test_the_panel_holds_the_newest_few_and_a_link_to_all(ana: User, ben: User) -> None:
    for _ in range(10):
        notification_send(recipient_id=ben.pk, kind=Kind.NEW_FOLLOWER, actor_id=ana.pk)
    notification_send(recipient_id=ben.pk, kind=Kind.MISSED_RING, actor_id=ana.pk)
    html = signed_in(ben).get(reverse("notifications:panel")).content.decode()
    assert html.count('class="notification ') == 8
    assert html.index("You missed a call from Ana") < html.index("Ana followed you")
    assert "Mark all read" in html and "See all notifications" in html
    assert signed_in(ben).get(reverse("notifications:unread")).json() == {"unread": 11}


def test_preferences_live_on_the_profile_page_and_are_on_by_default(ben: User) -> None:
    client = signed_in(ben)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert "Tell me on ChatSpheres when" in html
    choosable = [kind for kind in Kind.values if kind not in ALWAYS_SENT_KINDS | EMAIL_ONLY_KINDS]
    assert html.count('name="kinds"') == len(choosable)
    for kind in choosable:
        assert f'name="kinds" value="{kind}" checked>' in html
    answer = client.post(
        reverse("notifications:preferences"),
        {"kinds": [Kind.MISSED_RING, Kind.CONNECTION_MADE, "not-a-kind"]},
        follow=True,
    )
    html = answer.content.decode()
    assert "Your notification choices are saved." in html
    assert 'value="missed_ring" checked>' in html and 'value="new_follower">' in html
    assert notification_send(recipient_id=ben.pk, kind=Kind.NEW_FOLLOWER) is None
