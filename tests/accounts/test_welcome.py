"""The welcome after sign-up: profile, a few spheres, a first conversation; each step skippable."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from chatspheres.accounts.models import Profile, User
from chatspheres.presence.models import Presence
from chatspheres.spheres.models import Membership, Sphere
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def spheres(db: None) -> None:
    call_command("load_demo", stdout=io.StringIO())


def sign_up(client: Client) -> str:
    response = client.post(
        "/accounts/signup/",
        {
            "email": "ana@example.com",
            "password1": "correct horse battery staple",
            "display_name": "Ana",
            "is_adult": "on",
            "time_zone": "Asia/Tokyo",
        },
    )
    assert response["Location"] == "/accounts/confirm-email/"
    # The link in the email, opened in the same browser, signs the new member in.
    return str(client.post(confirmation_path(str(mail.outbox[-1].body)))["Location"])


def confirmation_path(body: str) -> str:
    """The path of the confirmation link in an email's text."""
    return re.search(r"https?://[^/\s]+(/accounts/confirm-email/\S+)", body)[1]  # type: ignore[index]


def page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.content.decode()


def links(html: str) -> dict[str, str]:
    """Each link's words (tags stripped) and where it goes."""
    return {
        re.sub(r"<[^>]+>", "", words).strip(): href
        for href, words in re.findall(r'<a [^>]*href="([^"]+)"[^>]*>(.*?)</a>', html, re.S)
    }


def online_now(sphere: Sphere, *people: str) -> None:
    """These people have a tab open in the sphere (as the presence app records it)."""
    until = timezone.now() + timedelta(minutes=2)
    for email in people:
        Presence.objects.create(user=make_member(email), online_until=until, sphere=sphere)


def test_sign_up_ends_on_the_first_step_of_the_welcome(client: Client, spheres: None) -> None:
    assert sign_up(client) == "/welcome/"
    html = page(client, "/welcome/")
    assert "Step 1 of 3" in html
    assert "Tell people a little about you" in html
    for label in ("Display name", "A line about you", "Interests", "Other interests"):
        assert label in html
    assert links(html)["Skip"] == "/welcome/spheres/"


def test_the_whole_welcome_profile_then_spheres_then_a_call_in_the_busiest(
    client: Client, spheres: None
) -> None:
    sign_up(client)
    response = client.post(
        "/welcome/",
        {
            "display_name": "Ana B.",
            "bio": "Learning Portuguese on the train.",
            "interests": ["languages"],
            "other_interests": "bossa nova",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/welcome/spheres/"
    profile = Profile.objects.get(user__email="ana@example.com")
    assert profile.display_name == "Ana B."
    assert profile.bio == "Learning Portuguese on the train."
    assert sorted(interest.name for interest in profile.interests.all()) == [
        "bossa nova",
        "languages",
    ]
    assert profile.time_zone == "Asia/Tokyo"  # the welcome leaves the sign-up's time zone be

    html = page(client, "/welcome/spheres/")
    assert "Step 2 of 3" in html and "Pick a few spheres" in html
    assert "Book Club" in html and "Night Owls" in html
    assert links(html)["Skip"] == "/welcome/start/"

    online_now(Sphere.objects.get(slug="book-club"), "ben@example.com", "cleo@example.com")
    response = client.post(
        "/welcome/spheres/", {"spheres": ["language-exchange", "book-club", "night-owls"]}
    )
    assert response.status_code == 302 and response["Location"] == "/welcome/start/"
    ana = User.objects.get(email="ana@example.com")
    assert set(Membership.objects.filter(user=ana).values_list("sphere__slug", flat=True)) == {
        "language-exchange",
        "book-club",
        "night-owls",
    }

    html = page(client, "/welcome/start/")
    assert "Step 3 of 3" in html
    # Two people are online in Book Club now, nobody in the other two.
    assert "<h2>Book Club</h2>" in html
    assert "2 online now" in html
    assert links(html)["Start a conversation"] == "/spheres/book-club/call/"
    assert client.get("/spheres/book-club/call/").status_code == 200


def test_with_nobody_online_the_busiest_is_the_one_with_the_most_recent_conversations(
    client: Client, spheres: None
) -> None:
    sign_up(client)
    client.post("/welcome/spheres/", {"spheres": ["wellbeing", "language-exchange"]})
    html = page(client, "/welcome/start/")
    # The demo past: Language Exchange has had far more conversations lately.
    assert links(html)["Start a conversation"] == "/spheres/language-exchange/call/"
    assert "Of your spheres, this one is the busiest right now." in html


def test_every_step_can_be_skipped(client: Client, spheres: None) -> None:
    sign_up(client)
    step_2 = links(page(client, "/welcome/"))["Skip"]
    step_3 = links(page(client, step_2))["Skip"]
    html = page(client, step_3)
    assert "Step 3 of 3" in html
    assert "You haven't joined a sphere yet." in html
    assert links(html)["Pick a few spheres"] == "/welcome/spheres/"
    assert links(html)["Skip"] == "/spheres/"
    # Skipping saved nothing.
    profile = Profile.objects.get(user__email="ana@example.com")
    assert (profile.display_name, profile.bio) == ("Ana", "")
    assert not Membership.objects.exists()


def test_joining_nothing_asks_to_pick_one_or_skip(client: Client, spheres: None) -> None:
    sign_up(client)
    response = client.post("/welcome/spheres/", {})
    assert response.status_code == 200
    assert "Pick at least one sphere, or press Skip." in response.content.decode()
    response = client.post("/welcome/spheres/", {"spheres": ["no-such-sphere"]})
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()
    assert not Membership.objects.exists()


def test_spheres_already_joined_are_shown_joined_and_not_offered_again(
    client: Client, spheres: None
) -> None:
    member = make_member("ana@example.com", spheres=(Sphere.objects.get(slug="book-club"),))
    client.force_login(member)
    html = page(client, "/welcome/spheres/")
    assert "Book Club (joined)" in html
    assert 'value="book-club"' not in html
    assert 'value="night-owls"' in html


def test_a_profile_the_form_refuses_stays_on_step_1_with_the_reason(
    client: Client, spheres: None
) -> None:
    sign_up(client)
    many = ",".join(f"topic {index}" for index in range(11))
    response = client.post("/welcome/", {"display_name": "Ana", "other_interests": many})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Step 1 of 3" in html
    assert "Pick at most 10 interests (you have 11)." in html


def test_the_welcome_is_for_signed_in_members(client: Client) -> None:
    for url in ("/welcome/", "/welcome/spheres/", "/welcome/start/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_picking_spheres_takes_a_fixed_number_of_queries_whatever_their_number(
    client: Client,
) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from chatspheres.spheres.services import sphere_upsert

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/welcome/spheres/").status_code == 200
        return len(captured)

    client.force_login(make_member("ana@example.com"))
    sphere_upsert(slug="first", name="First", tagline="", description="x")
    few = queries()
    for index in range(25):
        sphere = sphere_upsert(
            slug=f"extra-{index}", name=f"Extra {index}", tagline="", description="x"
        )
        if index % 5 == 0:
            online_now(sphere, f"extra-{index}@example.com")
    assert queries() == few
