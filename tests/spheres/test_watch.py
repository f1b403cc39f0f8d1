"""The "Tell me when someone's here" toggle, and who hears that someone is waiting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.notifications.models import Notification
from chatspheres.spheres import services
from chatspheres.spheres.models import Sphere, SphereWatch
from chatspheres.spheres.services import (
    sphere_upsert,
    sphere_watch_create,
    sphere_watchers_notify,
)
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

TOGGLE = re.compile(r'<button[^>]*aria-pressed="(true|false)"[^>]*>(.*?)</button>', re.S)


def toggle_on(html: str) -> tuple[str, str] | None:
    """The watch toggle's state and accessible name (tags inside it are aria-hidden)."""
    found = TOGGLE.search(html)
    if found is None:
        return None
    return found.group(1), re.sub(r"<[^>]+>", "", found.group(2)).strip()


def told(user: User, sphere: Sphere) -> int:
    return Notification.objects.filter(
        recipient=user, kind=Notification.Kind.SOMEONE_WAITING, sphere=sphere
    ).count()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> Iterator[Clock]:
    yield Clock()


# The toggle ------------------------------------------------------------------


def test_a_member_turns_the_toggle_on_and_off_with_plain_form_posts(
    client: Client, sphere: Sphere
) -> None:
    ana = make_member("ana@example.com", spheres=(sphere,))
    client.force_login(ana)
    assert toggle_on(client.get("/spheres/book-club/").content.decode()) == (
        "false",
        "Tell me when someone's here",
    )

    response = client.post("/spheres/book-club/watch/", {"watch": "on"})
    assert response.status_code == 302 and response["Location"] == "/spheres/book-club/"
    html = unescape(client.get("/spheres/book-club/").content.decode())
    assert toggle_on(html) == ("true", "Tell me when someone's here")
    assert "We'll tell you when someone starts waiting in Book Club." in html
    assert "at most once an hour" in html
    assert SphereWatch.objects.filter(user=ana, sphere=sphere).count() == 1

    client.post("/spheres/book-club/watch/", {"watch": "on"})  # twice changes nothing
    assert SphereWatch.objects.filter(user=ana, sphere=sphere).count() == 1

    client.post("/spheres/book-club/watch/", {"watch": "off"})
    html = client.get("/spheres/book-club/").content.decode()
    assert toggle_on(html) == ("false", "Tell me when someone's here")
    assert not SphereWatch.objects.exists()


def test_only_members_watch_and_leaving_stops_it(client: Client, sphere: Sphere) -> None:
    ana = make_member("ana@example.com")
    client.force_login(ana)
    assert toggle_on(client.get("/spheres/book-club/").content.decode()) is None
    response = client.post("/spheres/book-club/watch/", {"watch": "on"}, follow=True)
    assert "Join the sphere first." in response.content.decode()
    assert not SphereWatch.objects.exists()

    client.post("/spheres/book-club/join/")
    client.post("/spheres/book-club/watch/", {"watch": "on"})
    assert SphereWatch.objects.filter(user=ana).exists()
    client.post("/spheres/book-club/leave/")
    assert not SphereWatch.objects.exists()


def test_watching_needs_a_login_and_a_post(client: Client, sphere: Sphere) -> None:
    response = client.post("/spheres/book-club/watch/", {"watch": "on"})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    client.force_login(make_member("ana@example.com", spheres=(sphere,)))
    assert client.get("/spheres/book-club/watch/").status_code == 405
    assert client.post("/spheres/no-such-sphere/watch/", {"watch": "on"}).status_code == 404
    assert not SphereWatch.objects.exists()


# Telling watchers --------------------------------------------------------------


def test_watchers_hear_someone_is_waiting_but_never_the_one_waiting(sphere: Sphere) -> None:
    ana, ben, cleo = (
        make_member(f"{name}@example.com", spheres=(sphere,)) for name in ("ana", "ben", "cleo")
    )
    make_member("dev@example.com", spheres=(sphere,))  # a member who does not watch
    for member in (ana, ben, cleo):
        sphere_watch_create(user_id=member.pk, sphere_id=sphere.pk)

    assert sorted(sphere_watchers_notify(sphere_id=sphere.pk, waiter_id=ana.pk)) == sorted(
        [ben.pk, cleo.pk]
    )
    assert (told(ana, sphere), told(ben, sphere), told(cleo, sphere)) == (0, 1, 1)
    assert Notification.objects.count() == 2
    notification = Notification.objects.filter(recipient=ben).get()
    # Who waits is not said: it is a stranger until they meet.
    assert notification.actor_id is None


def test_a_watcher_hears_at_most_once_an_hour_per_sphere(sphere: Sphere, clock: Clock) -> None:
    night_owls = sphere_upsert(slug="night-owls", name="Night Owls", tagline="", description="x")
    ana = make_member("ana@example.com", spheres=(sphere, night_owls))
    waiters = [make_member(f"w{index}@example.com") for index in range(4)]
    sphere_watch_create(user_id=ana.pk, sphere_id=sphere.pk)
    sphere_watch_create(user_id=ana.pk, sphere_id=night_owls.pk)

    def someone_waits(where: Sphere, waiter: User) -> list[int]:
        return sphere_watchers_notify(sphere_id=where.pk, waiter_id=waiter.pk, now=clock.now)

    assert someone_waits(sphere, waiters[0]) == [ana.pk]
    clock.advance(minutes=20)
    assert someone_waits(sphere, waiters[1]) == []
    # Another sphere has its own hour.
    assert someone_waits(night_owls, waiters[1]) == [ana.pk]
    clock.advance(minutes=39, seconds=59)
    assert someone_waits(sphere, waiters[2]) == []
    clock.advance(seconds=1)  # an hour after she was told about Book Club
    assert someone_waits(sphere, waiters[3]) == [ana.pk]
    assert (told(ana, sphere), told(ana, night_owls)) == (2, 1)


def test_waiting_while_watching_does_not_use_up_the_hour(sphere: Sphere, clock: Clock) -> None:
    ana = make_member("ana@example.com", spheres=(sphere,))
    ben = make_member("ben@example.com", spheres=(sphere,))
    sphere_watch_create(user_id=ana.pk, sphere_id=sphere.pk)
    assert sphere_watchers_notify(sphere_id=sphere.pk, waiter_id=ana.pk, now=clock.now) == []
    clock.advance(minutes=1)
    assert sphere_watchers_notify(sphere_id=sphere.pk, waiter_id=ben.pk, now=clock.now) == [ana.pk]


def test_a_watcher_who_turned_the_kind_off_is_not_told(sphere: Sphere) -> None:
    from chatspheres.notifications.services import notification_preferences_set

    ana = make_member("ana@example.com", spheres=(sphere,))
    sphere_watch_create(user_id=ana.pk, sphere_id=sphere.pk)
    notification_preferences_set(user_id=ana.pk, enabled_kinds=[])
    sphere_watchers_notify(sphere_id=sphere.pk, waiter_id=make_member("ben@example.com").pk)
    assert told(ana, sphere) == 0


def test_finding_whom_to_tell_takes_two_queries_whatever_the_number_of_watchers(
    sphere: Sphere, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each notification is notification_send's own work; this counts the rest.
    sent: list[int] = []
    monkeypatch.setattr(
        services, "notification_send", lambda *, recipient_id, **_: sent.append(recipient_id)
    )
    waiter = make_member("waiter@example.com", spheres=(sphere,))

    def queries_to_tell(watchers: int) -> int:
        for index in range(watchers):
            member = make_member(f"watcher-{watchers}-{index}@example.com", spheres=(sphere,))
            sphere_watch_create(user_id=member.pk, sphere_id=sphere.pk)
        clock.advance(hours=2)
        sent.clear()
        with CaptureQueriesContext(connection) as captured:
            sphere_watchers_notify(sphere_id=sphere.pk, waiter_id=waiter.pk, now=clock.now)
        assert len(sent) == SphereWatch.objects.count()
        return len([q for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))])

    assert queries_to_tell(1) == queries_to_tell(40) == 2
    # Nobody due: one query.
    with CaptureQueriesContext(connection) as captured:
        sphere_watchers_notify(sphere_id=sphere.pk, waiter_id=waiter.pk, now=clock.now)
    assert len([q for q in captured if not q["sql"].startswith(("SAVEPOINT", "RELEASE"))]) == 1
