"""Spheres by activity, and when a sphere is usually busy, in the viewer's own time zone."""

from __future__ import annotations

import io
import math
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_start
from chatspheres.presence.models import Presence
from chatspheres.spheres.activity import (
    RECENT_HALF_LIFE,
    busiest_hour,
    hour_of_week,
    recent_rank_after,
)
from chatspheres.spheres.models import HOURS_IN_WEEK, Sphere, SphereActivity
from chatspheres.spheres.services import sphere_activity_record, sphere_upsert
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def make_sphere(name: str) -> Sphere:
    slug = name.lower().replace(" ", "-")
    return sphere_upsert(slug=slug, name=name, tagline="", description=f"About {name}.")


def conversations_at(sphere: Sphere, *starts: datetime) -> None:
    for started in starts:
        sphere_activity_record(sphere_id=sphere.pk, started_at=started)


def online_now(sphere: Sphere, count: int) -> None:
    """``count`` people have a tab open in the sphere, as the presence app records them."""
    until = timezone.now() + timedelta(minutes=2)
    for index in range(count):
        member = make_member(f"{sphere.slug}-{index}@example.com")
        Presence.objects.create(user=member, online_until=until, sphere=sphere)


def card_order(html: str) -> list[str]:
    return re.findall(r'<h3><a href="/spheres/[^"]+/">([^<]+)</a></h3>', html)


def at_hour(hour: int, days_ago: int = 0) -> datetime:
    today = timezone.now().astimezone(UTC).replace(minute=10, second=0, microsecond=0)
    return today.replace(hour=hour) - timedelta(days=days_ago)


# Ordering ------------------------------------------------------------------


def test_spheres_are_ordered_by_people_online_then_recent_conversations_then_name(
    client: Client,
) -> None:
    quiet_a, quiet_b, chatty, crowded = (
        make_sphere(name) for name in ("Alpha", "Beta", "Chatty", "Crowded")
    )
    now = timezone.now()
    # Chatty had three conversations this week; Beta had ten, but two months ago.
    conversations_at(chatty, now - timedelta(hours=1), now - timedelta(days=1), now)
    conversations_at(quiet_b, *(now - timedelta(days=60, minutes=m) for m in range(10)))
    online_now(crowded, 2)
    online_now(quiet_a, 1)

    expected = ["Crowded", "Alpha", "Chatty", "Beta"]
    assert card_order(client.get("/spheres/").content.decode()) == expected
    assert card_order(client.get("/").content.decode()) == expected

    # Nobody online anywhere and no history: by name.
    Presence.objects.all().delete()
    SphereActivity.objects.all().delete()
    assert card_order(client.get("/spheres/").content.decode()) == sorted(expected)


def test_the_list_shows_the_online_count_it_orders_by(client: Client) -> None:
    online_now(make_sphere("Book Club"), 3)
    html = client.get("/spheres/").content.decode()
    assert "3 online now" in html


def test_list_and_home_take_a_fixed_number_of_queries_whatever_the_history(
    client: Client,
) -> None:
    def queries_for(url: str) -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured)

    member = make_member("ana@example.com")
    client.force_login(member)
    first = make_sphere("First")
    conversations_at(first, timezone.now())
    small = (queries_for("/spheres/"), queries_for("/"))
    for index in range(12):
        sphere = make_sphere(f"Extra {index}")
        conversations_at(sphere, *(at_hour(20, days_ago=day) for day in range(10)))
        online_now(sphere, index % 3)
    assert (queries_for("/spheres/"), queries_for("/")) == small


# The aggregate ---------------------------------------------------------------


def test_a_matched_conversation_counts_where_and_when_it_started() -> None:
    sphere = make_sphere("Book Club")
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana.pk,
        a_tab="tab-a",
        b_user_id=ben.pk,
        b_tab="tab-b",
        shared_interests=(),
    )
    activity = SphereActivity.objects.get(sphere=sphere)
    assert activity.conversations == 1
    assert activity.week_hours[hour_of_week(conversation.started_at)] == 1
    assert sum(activity.week_hours) == 1
    assert activity.busiest_hour_utc == conversation.started_at.astimezone(UTC).hour


def test_a_direct_call_between_connections_says_nothing_about_a_sphere() -> None:
    sphere = make_sphere("Book Club")
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana.pk,
        a_tab="tab-a",
        b_user_id=ben.pk,
        b_tab="tab-b",
        shared_interests=(),
        kind=Conversation.Kind.DIRECT,
    )
    assert not SphereActivity.objects.filter(sphere=sphere).exists()


def test_hours_of_the_week_start_on_monday_in_utc() -> None:
    monday_midnight = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
    assert hour_of_week(monday_midnight) == 0
    assert hour_of_week(monday_midnight + timedelta(days=6, hours=23, minutes=59)) == 167
    # 00:30 on Monday in Paris is still Sunday 23:30 in UTC.
    paris = datetime(2026, 11, 30, 0, 30, tzinfo=timezone.get_fixed_timezone(60))
    assert hour_of_week(paris) == 6 * 24 + 23


def test_the_busiest_hour_adds_up_every_weekday_and_breaks_ties_by_its_neighbours() -> None:
    week = [0] * HOURS_IN_WEEK
    assert busiest_hour(week) is None
    week[0 * 24 + 9] = 3  # Monday 09:00
    week[2 * 24 + 20] = 2  # Wednesday 20:00
    week[4 * 24 + 20] = 2  # Friday 20:00
    assert busiest_hour(week) == 20  # 4 starts at 20:00 over the week, 3 at 09:00
    week[3 * 24 + 9] = 1  # now 4 at 09:00 as well
    week[5 * 24 + 8] = 1  # and 08:00 next to it is busier than 19:00 and 21:00
    assert busiest_hour(week) == 9


@given(
    st.lists(st.integers(min_value=0, max_value=60 * 24 * 90), max_size=12),
    st.lists(st.integers(min_value=0, max_value=60 * 24 * 90), max_size=12),
)
def test_ordering_by_the_stored_rank_is_ordering_by_decayed_recent_conversations(
    first_ages: list[int], second_ages: list[int]
) -> None:
    """Whatever order the conversations came in, the rank orders as the decayed count does."""
    now = datetime(2026, 12, 1, tzinfo=UTC)

    def rank_and_weight(minutes_ago: list[int]) -> tuple[float, float]:
        rank: float | None = None
        for minutes in minutes_ago:
            rank = recent_rank_after(rank, now - timedelta(minutes=minutes))
        weight = sum(0.5 ** (timedelta(minutes=m) / RECENT_HALF_LIFE) for m in minutes_ago)
        return (-math.inf if rank is None else rank), weight

    first_rank, first_weight = rank_and_weight(first_ages)
    second_rank, second_weight = rank_and_weight(second_ages)
    if not math.isclose(first_weight, second_weight, rel_tol=1e-9, abs_tol=1e-12):
        assert (first_rank > second_rank) == (first_weight > second_weight)
    if first_ages:
        stored = first_rank - now.timestamp() / RECENT_HALF_LIFE.total_seconds()
        assert math.isclose(2**stored, first_weight, rel_tol=1e-9)


# Busiest hour in the viewer's time zone ------------------------------------------


def test_a_sphere_says_when_it_is_usually_busy_in_each_viewers_time(client: Client) -> None:
    sphere = make_sphere("Book Club")
    conversations_at(sphere, *(at_hour(18, days_ago=day) for day in range(9)))
    conversations_at(sphere, at_hour(7))

    tokyo = make_member("ana@example.com", spheres=(sphere,))
    Profile.objects.filter(user=tokyo).update(time_zone="Asia/Tokyo")
    client.force_login(tokyo)
    assert "Busiest around 03:00 your time" in client.get("/spheres/book-club/").content.decode()
    assert "Busiest around 03:00 your time" in client.get("/spheres/").content.decode()

    sao_paulo = make_member("ben@example.com")
    Profile.objects.filter(user=sao_paulo).update(time_zone="America/Sao_Paulo")
    client.force_login(sao_paulo)
    assert "Busiest around 15:00 your time" in client.get("/spheres/book-club/").content.decode()
    assert "Busiest around 15:00 your time" in client.get("/").content.decode()

    client.logout()
    assert "Busiest around 18:00 UTC" in client.get("/spheres/book-club/").content.decode()


def test_a_sphere_with_little_history_says_nothing_about_when_it_is_busy(
    client: Client,
) -> None:
    sphere = make_sphere("Book Club")
    conversations_at(sphere, *(at_hour(18, days_ago=day) for day in range(9)))
    for url in ("/spheres/book-club/", "/spheres/", "/"):
        assert "Busiest" not in client.get(url).content.decode()
    conversations_at(sphere, at_hour(18))  # the tenth
    assert "Busiest around 18:00 UTC" in client.get("/spheres/book-club/").content.decode()


def test_the_demo_gives_spheres_a_past_once_and_keeps_real_history() -> None:
    call_command("load_demo", stdout=io.StringIO())
    first = {
        activity.sphere_id: (activity.week_hours, activity.recent_rank)
        for activity in SphereActivity.objects.all()
    }
    assert len(first) >= 8
    book_club = Sphere.objects.get(slug="book-club")
    conversations_at(book_club, timezone.now())
    call_command("load_demo", stdout=io.StringIO())
    again = {
        activity.sphere_id: (activity.week_hours, activity.recent_rank)
        for activity in SphereActivity.objects.all()
    }
    assert again.keys() == first.keys()
    assert {k: v for k, v in again.items() if k != book_club.pk} == {
        k: v for k, v in first.items() if k != book_club.pk
    }
    assert sum(again[book_club.pk][0]) == sum(first[book_club.pk][0]) + 1


def test_the_demo_sphere_pages_say_when_they_are_busy(client: Client) -> None:
    call_command("load_demo", stdout=io.StringIO())
    html = client.get("/spheres/night-owls/").content.decode()
    assert re.search(r"Busiest around 0[0-9]:00 UTC", html)
    # Travel Stories' demo past is too short to say anything.
    assert "Busiest" not in client.get("/spheres/travel-stories/").content.decode()
