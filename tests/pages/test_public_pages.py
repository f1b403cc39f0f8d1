"""The public pages: guidelines, terms, privacy, contact; linked from the footer and sign-up."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db

PAGES = {
    "/guidelines/": "<h1>Community guidelines</h1>",
    "/terms/": "<h1>Terms</h1>",
    "/privacy/": "<h1>Privacy</h1>",
    "/contact/": "<h1>Contact</h1>",
}
CHAT_BUFFER_RULE = (
    "the server keeps the last 20 chat lines of each live conversation in a short-lived buffer "
    "(at most 10 minutes after the call ends, in memory or Redis) and attaches them to a report "
    "only when one of the two reports"
)


@pytest.mark.parametrize(("url", "heading"), PAGES.items())
def test_each_page_opens_for_anyone_in_the_site_layout(
    client: Client, url: str, heading: str
) -> None:
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    assert heading in page
    assert 'class="site-header"' in page and 'class="site-footer"' in page


@pytest.mark.parametrize("url", ["/", "/spheres/", "/accounts/login/", *PAGES])
def test_the_footer_links_every_page(client: Client, url: str) -> None:
    page = client.get(url).content.decode()
    footer = page[page.index('<footer class="site-footer">') :]
    for href, words in [
        ("/guidelines/", "Community guidelines"),
        ("/terms/", "Terms"),
        ("/privacy/", "Privacy"),
        ("/contact/", "Contact"),
    ]:
        assert f'<a href="{href}">{words}</a>' in footer


def test_privacy_states_the_chat_buffer_rule_exactly(client: Client) -> None:
    page = client.get("/privacy/").content.decode()
    assert CHAT_BUFFER_RULE in page


def test_privacy_says_media_never_touches_the_server_and_how_to_hide_an_address(
    client: Client,
) -> None:
    page = client.get("/privacy/").content.decode()
    assert "Your video and voice never touch our server." in page
    assert "the person you talk with can see your IP address" in page
    assert "Hide my IP address" in page
    for stored in ("Your notes about people", "Presence", "Notifications sent to you"):
        assert stored in page


def test_the_pages_take_no_form_posts(client: Client) -> None:
    assert client.post("/privacy/").status_code == 405


@override_settings(CONTACT_EMAIL="help@chatspheres.example")
def test_contact_gives_the_configured_address_and_sends_safety_reports_to_report(
    client: Client,
) -> None:
    page = client.get("/contact/").content.decode()
    assert '<a href="mailto:help@chatspheres.example">help@chatspheres.example</a>' in page
    assert "Use <strong>Report</strong>" in page


def test_check_your_email_links_to_contact(client: Client) -> None:
    page = client.get("/accounts/confirm-email/").content.decode()
    assert "<h1>Check your email</h1>" in page
    assert '<a href="/contact/">contact us</a>' in page


def test_the_home_page_claims_safety_only_with_the_tools_that_exist(client: Client) -> None:
    page = client.get("/").content.decode()
    assert "Safe by design" not in page
    for claim in ("Block", "Report", "moderators", "Hide my IP address"):
        assert claim in page


def test_after_asking_for_a_password_reset_the_page_links_to_contact(client: Client) -> None:
    response = client.post(
        "/accounts/password/reset/", {"email": "nobody@example.com"}, follow=True
    )
    page = response.content.decode()
    assert "<h1>Check your email</h1>" in page
    assert '<a href="/contact/">contact us</a>' in page
