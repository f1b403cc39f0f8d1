"""Planned calls through the real pages: both local times, answering, and the .ics file."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from chatspheres.accounts.models import User
from chatspheres.connections.models import Plan
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import handle_of, talk, text_of

# Ana in São Paulo and Ben in Tokyo, connected: the same pair as the plan services' tests.
from tests.connections.test_plans import ana, ben, set_zone  # noqa: F401  (fixtures used by name)

pytestmark = pytest.mark.django_db


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def a_sunday_13_utc() -> datetime:
    day = timezone.now().astimezone(UTC) + timedelta(days=3)
    day += timedelta(days=(6 - day.weekday()) % 7)
    return day.replace(hour=13, minute=0, second=0, microsecond=0)


def test_a_connections_page_offers_plan_a_call_and_the_form_suggests_times_for_both(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
) -> None:
    page = client_for(ana).get(reverse("connections:person", kwargs={"handle": handle_of(ben)}))
    assert ">Plan a call</a>" in page.content.decode()
    form = client_for(ana).get(reverse("connections:plan_new", kwargs={"handle": handle_of(ben)}))
    words = text_of(form.content)
    assert "You're in America/Sao_Paulo, Ben in Asia/Tokyo." in words
    # The only overlap: 08:00-10:00 in Sao Paulo is 20:00-22:00 in Tokyo.
    assert " 08:00 for you · " in words and " 20:00 for Ben" in words


def test_offering_a_time_shows_each_person_both_local_times_and_ben_accepts(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
) -> None:
    at = a_sunday_13_utc()  # 10:00 in Sao Paulo, 22:00 in Tokyo
    ana_client, ben_client = client_for(ana), client_for(ben)
    sent = ana_client.post(
        reverse("connections:plan_new", kwargs={"handle": handle_of(ben)}),
        {"times": ["", at.astimezone(UTC).isoformat()]},
    )
    assert sent.status_code == 302
    plan = Plan.objects.get()
    ana_page = text_of(ana_client.get(sent["Location"]).content)
    assert "Sun 10:00 for you · Sun 22:00 for Ben" in ana_page
    assert "Waiting for Ben to accept one" in ana_page
    ben_url = reverse(
        "connections:plan", kwargs={"handle": handle_of(ana), "public_id": plan.public_id}
    )
    ben_page = ben_client.get(ben_url).content.decode()
    assert "Sun 22:00 for you · Sun 10:00 for Ana" in text_of(ben_page.encode())
    assert ">Accept this time</button>" in ben_page
    accepted = ben_client.post(
        reverse(
            "connections:plan_accept",
            kwargs={"handle": handle_of(ana), "public_id": plan.public_id},
        ),
        {"at": at.isoformat()},
        follow=True,
    )
    assert "Sun 22:00 for you · Sun 10:00 for Ana" in text_of(accepted.content)
    plan.refresh_from_db()
    assert (plan.state, plan.starts_at) == (Plan.State.CONFIRMED, at)
    # On People, each in their own time.
    assert "Sun 10:00 for you · Sun 22:00 for Ben" in text_of(
        ana_client.get(reverse("connections:people")).content
    )
    ben_people = text_of(ben_client.get(reverse("connections:people")).content)
    assert "Call with Ana" in ben_people and "Sun 22:00 for you · Sun 10:00 for Ana" in ben_people


def test_a_time_the_clocks_skip_is_refused_with_words(ana: User, ben: User) -> None:  # noqa: F811
    set_zone(ana, "Europe/London")
    now = timezone.now()
    # The last Sunday of March, 01:30 in London, does not exist.
    year = now.year + 1
    last_sunday = max(
        datetime(year, 3, day) for day in range(25, 32) if datetime(year, 3, day).weekday() == 6
    )
    wall = last_sunday.replace(hour=1, minute=30)
    answer = client_for(ana).post(
        reverse("connections:plan_new", kwargs={"handle": handle_of(ben)}),
        {"times": [wall.strftime("%Y-%m-%dT%H:%M")]},
    )
    assert answer.status_code == 400
    assert "doesn't exist in Europe/London: the clocks skip that hour" in text_of(answer.content)
    assert not Plan.objects.exists()


def test_someone_not_connected_gets_no_plan_form(ana: User, ben: User, sphere: Sphere) -> None:  # noqa: F811
    cleo = make_member("cleo@example.com", name="Cleo")
    talk(sphere, ana, cleo)
    client = client_for(ana)
    page = client.get(reverse("connections:person", kwargs={"handle": handle_of(cleo)}))
    assert "Plan a call" not in page.content.decode()
    answer = client.get(
        reverse("connections:plan_new", kwargs={"handle": handle_of(cleo)}), follow=True
    )
    assert "You can plan calls only with your connections" in text_of(answer.content)


def test_add_to_calendar_gives_an_ics_in_the_viewers_zone_with_the_other_persons_name(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
) -> None:
    at = a_sunday_13_utc()
    plan = Plan.objects.create(
        first=ana, second=ben, state=Plan.State.CONFIRMED, starts_at=at, version=2
    )
    page = client_for(ben).get(
        reverse("connections:plan", kwargs={"handle": handle_of(ana), "public_id": plan.public_id})
    )
    assert ">Add to calendar</a>" in page.content.decode()
    files = []
    for user, other in ((ben, ana), (ana, ben)):
        response = client_for(user).get(
            reverse(
                "connections:plan_calendar",
                kwargs={"handle": handle_of(other), "public_id": plan.public_id},
            )
        )
        assert response["Content-Type"].startswith("text/calendar")
        assert "attachment" in response["Content-Disposition"]
        files.append(Calendar.from_ical(response.content))
    for calendar, zone, name in zip(
        files, ("Asia/Tokyo", "America/Sao_Paulo"), ("Ana", "Ben"), strict=True
    ):
        (event,) = calendar.walk("VEVENT")
        start = event.decoded("dtstart")
        assert start == at  # the same instant, whichever zone it is written in
        assert event["DTSTART"].params["TZID"] == zone
        assert [tz["TZID"] for tz in calendar.walk("VTIMEZONE")] == [zone]
        assert str(event["SUMMARY"]) == f"Call with {name} on ChatSpheres"
    uids = {str(calendar.walk("VEVENT")[0]["UID"]) for calendar in files}
    assert uids == {f"plan-{plan.public_id}@chatspheres"}


def join_link(html: str) -> str:
    """The page's Join link as written, hidden or not ('' when there is none)."""
    found = re.search(r"<a [^>]*class=\"[^\"]*plan-join[^>]*>Join</a>", html)
    return found.group(0) if found else ""


def test_join_shows_only_around_the_time_and_leads_to_the_call(ana: User, ben: User) -> None:  # noqa: F811
    starts_at = (timezone.now() + timedelta(hours=2)).replace(microsecond=0)
    plan = Plan.objects.create(
        first=ana, second=ben, state=Plan.State.CONFIRMED, starts_at=starts_at
    )
    handle = handle_of(ben)
    url = reverse("connections:plan", kwargs={"handle": handle, "public_id": plan.public_id})
    join = reverse("connections:plan_join", kwargs={"handle": handle, "public_id": plan.public_id})
    client = client_for(ana)
    page = client.get(url).content.decode()
    # Join is in the page but hidden; the page's timer shows it at the window's UTC edges.
    assert " hidden" in join_link(page)
    opens = (starts_at - timedelta(minutes=5)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    closes = (starts_at + timedelta(minutes=30)).astimezone(UTC).isoformat().replace("+00:00", "Z")
    assert f'data-join-opens="{opens}" data-join-closes="{closes}"' in page
    # The server still decides: a Join before the window is refused in words.
    early = client.get(join, follow=True)
    assert "You can join from 5 minutes before the time." in text_of(early.content)

    Plan.objects.filter(pk=plan.pk).update(starts_at=timezone.now() + timedelta(minutes=2))
    assert join_link(client.get(url).content.decode()).startswith("<a ")
    assert " hidden" not in join_link(client.get(url).content.decode())
    joined = client.get(join)
    assert joined["Location"] == reverse("calls:call_now", kwargs={"handle": handle})

    # After the window, Join is refused in words, and the plan is settled as missed.
    Plan.objects.filter(pk=plan.pk).update(starts_at=timezone.now() - timedelta(minutes=31))
    late = client.get(join, follow=True)
    assert "The time for this call has passed." in text_of(late.content)


def test_a_message_thread_offers_plan_a_call_to_connections_only(
    ana: User,  # noqa: F811
    ben: User,  # noqa: F811
    sphere: Sphere,
) -> None:
    cleo = make_member("cleo@example.com", name="Cleo")
    talk(sphere, ana, cleo)
    client = client_for(ana)
    with_ben = client.get(reverse("messaging:thread", kwargs={"handle": handle_of(ben)}))
    plan_url = reverse("connections:plan_new", kwargs={"handle": handle_of(ben)})
    assert f'href="{plan_url}">Plan a call</a>' in with_ben.content.decode()
    with_cleo = client.get(reverse("messaging:thread", kwargs={"handle": handle_of(cleo)}))
    assert with_cleo.status_code == 200 and "Plan a call" not in with_cleo.content.decode()


def test_a_time_in_a_doubled_hour_says_which_one_on_the_page(ana: User, ben: User) -> None:  # noqa: F811
    set_zone(ben, "Europe/London")
    first = datetime(timezone.now().year + 1, 10, 31, 0, 30, tzinfo=UTC)
    # The last Sunday of October: 01:30 happens twice in London.
    while first.weekday() != 6:
        first -= timedelta(days=1)
    plan = Plan.objects.create(
        first=ana,
        second=ben,
        state=Plan.State.PROPOSED,
        options=[first.isoformat()],
        proposed_by=ana,
    )
    page = client_for(ben).get(
        reverse("connections:plan", kwargs={"handle": handle_of(ana), "public_id": plan.public_id})
    )
    assert "Sun 01:30 (first) for you" in text_of(page.content)


def test_a_typed_time_comes_back_in_its_field_after_a_refusal(ana: User, ben: User) -> None:  # noqa: F811
    answer = client_for(ana).post(
        reverse("connections:plan_new", kwargs={"handle": handle_of(ben)}),
        {"times": ["2020-01-05T10:00"]},
    )
    assert answer.status_code == 400
    words = text_of(answer.content)
    assert "Offer one to three times, each in the future and within the next 60 days." in words
    assert 'id="time-1" step="60" aria-describedby="time-1-reads" value="2020-01-05T10:00"' in (
        answer.content.decode()
    )


def test_after_a_block_neither_can_open_their_plan(ana: User, ben: User) -> None:  # noqa: F811
    from chatspheres.safety.services import block_create

    plan = Plan.objects.create(
        first=ana, second=ben, state=Plan.State.CONFIRMED, starts_at=a_sunday_13_utc()
    )
    block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    for user, other in ((ana, ben), (ben, ana)):
        for name in ("connections:plan", "connections:plan_calendar", "connections:plan_join"):
            url = reverse(name, kwargs={"handle": handle_of(other), "public_id": plan.public_id})
            assert client_for(user).get(url).status_code == 404
