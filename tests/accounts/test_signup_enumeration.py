"""Sign-up never tells whether an address is registered, whatever the verification setting."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core import mail
from django.test import Client, override_settings

from chatspheres.accounts.models import Profile, User
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

MODES = ["none", "optional", "mandatory"]


def sign_up(client: Client, email: str, **overrides: str) -> Any:
    data = {
        "email": email,
        "password1": "correct horse battery staple",
        "display_name": "Ana",
        "is_adult": "on",
        "time_zone": "Europe/Lisbon",
    }
    data.update(overrides)
    return client.post("/accounts/signup/", data, follow=True)


def visible_page(response: Any) -> str:
    """The whole page, without the per-request CSRF token."""
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


@pytest.mark.parametrize("mode", MODES)
def test_a_taken_and_a_new_address_get_the_same_page_and_one_email_each(mode: str) -> None:
    make_member("taken@example.com", name="Owner")
    with override_settings(ACCOUNT_EMAIL_VERIFICATION=mode):
        mail.outbox.clear()
        taken = sign_up(Client(), "taken@example.com")
        taken_mail = list(mail.outbox)
        mail.outbox.clear()
        new = sign_up(Client(), "new@example.com")
        new_mail = list(mail.outbox)

    assert taken.redirect_chain == new.redirect_chain == [("/accounts/confirm-email/", 302)]
    assert taken.status_code == new.status_code == 200
    page = visible_page(new)
    assert "<h1>Check your email</h1>" in page
    assert "We have sent a message to new@example.com." in page
    assert visible_page(taken) == page.replace("new@example.com", "taken@example.com")
    assert set(taken.client.cookies) == set(new.client.cookies)
    assert len(taken_mail) == 1 and taken_mail[0].to == ["taken@example.com"]
    assert len(new_mail) == 1 and new_mail[0].to == ["new@example.com"]
    assert "already exists" in taken_mail[0].body
    # Nobody is signed in by the form itself, and the taken account is untouched.
    assert "_auth_user_id" not in new.client.session
    assert User.objects.filter(email="taken@example.com").count() == 1
    assert Profile.objects.get(user__email="taken@example.com").display_name == "Owner"
    assert Profile.objects.get(user__email="new@example.com").display_name == "Ana"


@pytest.mark.parametrize("mode", ["optional", "mandatory"])
def test_the_link_in_the_email_signs_the_new_member_in_and_opens_the_welcome(mode: str) -> None:
    client = Client()
    with override_settings(ACCOUNT_EMAIL_VERIFICATION=mode):
        sign_up(client, "new@example.com")
        (message,) = mail.outbox
        link = next(word for word in message.body.split() if "/accounts/confirm-email/" in word)
        path = link.split("://", 1)[1].split("/", 1)[1]
        response = client.post(f"/{path}")
    assert response.status_code == 302
    assert response["Location"] == "/welcome/"
    assert client.get("/profile/").status_code == 200


@pytest.mark.parametrize("mode", ["none", "optional"])
def test_without_mandatory_verification_the_new_member_can_log_in_straight_away(
    mode: str,
) -> None:
    client = Client()
    with override_settings(ACCOUNT_EMAIL_VERIFICATION=mode):
        sign_up(client, "new@example.com")
        response = client.post(
            "/accounts/login/",
            {"login": "new@example.com", "password": "correct horse battery staple"},
        )
    assert response.status_code == 302
    assert response["Location"] == "/spheres/"


def test_with_verification_off_the_one_email_is_a_welcome_with_the_way_in() -> None:
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="none"):
        sign_up(Client(), "new@example.com")
    (message,) = mail.outbox
    assert "Your account for new@example.com is ready" in message.body
    assert "/accounts/login/" in message.body


@pytest.mark.parametrize("mode", MODES)
def test_the_age_confirmation_is_required_for_a_taken_address_too(mode: str) -> None:
    make_member("taken@example.com")
    with override_settings(ACCOUNT_EMAIL_VERIFICATION=mode):
        response = sign_up(Client(), "taken@example.com", is_adult="")
    assert response.status_code == 200
    assert "ChatSpheres is for people 18 or older." in response.content.decode()
    assert mail.outbox == []


def test_sign_up_links_the_terms_and_the_community_guidelines(client: Client) -> None:
    page = client.get("/accounts/signup/").content.decode()
    assert "By signing up you agree to the" in page
    assert 'href="/terms/">Terms</a>' in page
    assert 'href="/guidelines/">Community guidelines</a>' in page


def test_with_mandatory_verification_logging_in_before_confirming_is_not_enough() -> None:
    with override_settings(ACCOUNT_EMAIL_VERIFICATION="mandatory"):
        sign_up(Client(), "new@example.com")
        response = Client().post(
            "/accounts/login/",
            {"login": "new@example.com", "password": "correct horse battery staple"},
            follow=True,
        )
    assert "<h1>Check your email</h1>" in response.content.decode()
    assert "_auth_user_id" not in response.client.session
