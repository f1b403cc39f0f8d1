"""Signing up and keeping a profile, through the real pages."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from chatspheres.accounts.models import Profile, User
from chatspheres.accounts.selectors import public_card
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def sign_up(client: Client, **overrides: str) -> object:
    data = {
        "email": "ana@example.com",
        "password1": "correct horse battery staple",
        "display_name": "Ana",
        "is_adult": "on",
        "time_zone": "America/Sao_Paulo",
    }
    data.update(overrides)
    return client.post("/accounts/signup/", data)


def test_signing_up_creates_a_profile_with_the_browser_time_zone(client: Client) -> None:
    response = sign_up(client)
    # Every sign-up ends on "Check your email" (tests/accounts/test_signup_enumeration.py).
    assert response.status_code == 302  # type: ignore[attr-defined]
    assert response["Location"] == "/accounts/confirm-email/"  # type: ignore[index]
    profile = Profile.objects.get(user__email="ana@example.com")
    assert profile.display_name == "Ana"
    assert profile.time_zone == "America/Sao_Paulo"
    assert profile.adult_confirmed_at is not None


def test_sign_up_requires_confirming_age(client: Client) -> None:
    response = sign_up(client, is_adult="")
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert "ChatSpheres is for people 18 or older." in response.content.decode()  # type: ignore[attr-defined]
    assert not User.objects.exists()


def test_an_unknown_time_zone_falls_back_to_utc(client: Client) -> None:
    sign_up(client, time_zone="Mars/Olympus_Mons")
    assert Profile.objects.get().time_zone == "UTC"


def test_profile_saves_bio_interests_and_time_zone(client: Client) -> None:
    member = make_member("ana@example.com", interests=("books",))
    client.force_login(member)
    response = client.post(
        "/profile/",
        {
            "display_name": "Ana B.",
            "bio": "I read on trains.",
            "interests": ["books"],
            "other_interests": "Jazz Piano,  bouldering , books",
            "time_zone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302
    profile = Profile.objects.get(user=member)
    assert profile.display_name == "Ana B."
    assert profile.bio == "I read on trains."
    assert profile.time_zone == "Asia/Tokyo"
    assert sorted(interest.name for interest in profile.interests.all()) == [
        "books",
        "bouldering",
        "jazz piano",
    ]


def test_more_than_ten_interests_are_refused_and_nothing_changes(client: Client) -> None:
    member = make_member("ana@example.com", interests=("books",))
    client.force_login(member)
    response = client.post(
        "/profile/",
        {
            "display_name": "Ana",
            "other_interests": ",".join(f"topic {n}" for n in range(11)),
            "time_zone": "UTC",
        },
    )
    assert response.status_code == 200
    assert "Pick at most 10 interests (you have 11)." in response.content.decode()
    assert [i.name for i in Profile.objects.get(user=member).interests.all()] == ["books"]


def test_html_in_a_bio_is_shown_as_text(client: Client) -> None:
    member = make_member("ana@example.com", bio="<script>alert('hi')</script>")
    client.force_login(member)
    page = client.get("/profile/").content.decode()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(&#x27;hi&#x27;)&lt;/script&gt;" in page


def test_public_card_never_shows_the_email_address() -> None:
    member = make_member("secret.address@example.com", name="Ana", interests=("books",))
    card = public_card(Profile.objects.get(user=member))
    assert card == {
        "name": "Ana",
        "handle": "ana",
        "bio": "",
        "interests": ["books"],
        "prompts": [],
    }
    assert "secret.address" not in str(card)


def test_pages_carry_a_content_security_policy_without_inline_scripts(client: Client) -> None:
    policy = client.get("/")["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy


def test_logging_in_and_out_with_email_and_password(client: Client) -> None:
    make_member("ana@example.com")
    response = client.post(
        "/accounts/login/", {"login": "ana@example.com", "password": "a-long-test-password"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/spheres/"
    assert client.get("/profile/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/profile/").status_code == 302


def test_a_wrong_password_is_refused_in_words(client: Client) -> None:
    make_member("ana@example.com")
    response = client.post("/accounts/login/", {"login": "ana@example.com", "password": "nope"})
    assert response.status_code == 200
    assert "The email address and/or password you specified are not correct." in (
        response.content.decode()
    )


def test_password_reset_sends_a_link_by_email(client: Client, mailoutbox: list[Any]) -> None:
    make_member("ana@example.com")
    response = client.post("/accounts/password/reset/", {"email": "ana@example.com"})
    assert response.status_code == 302
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["ana@example.com"]
    assert "/accounts/password/reset/key/" in mailoutbox[0].body


def test_an_account_made_with_createsuperuser_can_open_its_profile_page() -> None:
    admin = User.objects.create_superuser(email="root@example.com", password="a-long-password")
    client = Client()
    client.force_login(admin)
    response = client.get("/profile/")
    assert response.status_code == 200
    assert b'value="root"' in response.content  # named after the address until they choose
