"""Emails name the site by SITE_NAME and link to SITE_URL, whatever host the request used."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from tests.conftest import make_member

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site(settings: Any) -> None:
    settings.SITE_NAME = "Spheres of Lisbon"
    settings.SITE_URL = "https://spheres.example"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def assert_names_the_site(message: mail.EmailMessage) -> None:
    assert message.subject.startswith("[Spheres of Lisbon] ")
    body = str(message.body)
    assert body.startswith("Hello from Spheres of Lisbon!")
    assert "Thank you for using Spheres of Lisbon!\nspheres.example" in body
    assert "127.0.0.1" not in body
    assert "testserver" not in body


def test_the_sign_up_confirmation_names_the_site_and_links_to_it(client: Client) -> None:
    client.post(
        "/accounts/signup/",
        {
            "email": "ana@example.com",
            "password1": "correct horse battery staple",
            "display_name": "Ana",
            "is_adult": "on",
            "time_zone": "Europe/Lisbon",
        },
        headers={"Host": "127.0.0.1:8100"},
    )
    [message] = mail.outbox
    assert_names_the_site(message)
    assert "https://spheres.example/accounts/confirm-email/" in str(message.body)


def test_the_password_reset_names_the_site_and_links_to_it(client: Client) -> None:
    make_member("ana@example.com")
    client.post(
        "/accounts/password/reset/",
        {"email": "ana@example.com"},
        headers={"Host": "127.0.0.1:8100"},
    )
    [message] = mail.outbox
    assert_names_the_site(message)
    assert "https://spheres.example/accounts/password/reset/key/" in str(message.body)
