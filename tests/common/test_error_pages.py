"""403, 404, 429 and 500 are pages in the site's layout with a way home."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.conftest import make_member

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.common.urls")]


def assert_in_layout(html: str) -> None:
    """The page has the site's header, its footer and a way home."""
    assert '<nav class="site-nav" aria-label="Main">' in html
    assert '<footer class="site-footer">' in html
    assert '<a class="button" href="/">Go to the home page</a>' in html


def test_a_missing_page_says_so_in_the_layout(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = response.content.decode()
    assert_in_layout(html)
    assert "<h1>We couldn't find that page</h1>" in html
    assert "<title>Page not found · ChatSpheres</title>" in html


def test_a_request_we_cannot_read_is_a_400_page_in_the_layout(client: Client) -> None:
    response = client.get("/", headers={"Host": "evil.example"})
    assert response.status_code == 400
    html = response.content.decode()
    assert_in_layout(html)
    assert "<h1>We couldn't read that request</h1>" in html


def test_a_forbidden_page_says_so_in_the_layout(client: Client) -> None:
    response = client.get("/test-only/forbidden/")
    assert response.status_code == 403
    html = response.content.decode()
    assert_in_layout(html)
    assert "<h1>You can't open this page</h1>" in html


def test_a_limit_reached_in_a_view_is_a_429_page_with_the_wait(client: Client) -> None:
    response = client.get("/test-only/limited/")
    assert response.status_code == 429
    assert response["Retry-After"] == "125"
    html = response.content.decode()
    assert_in_layout(html)
    assert "<h1>Slow down a little</h1>" in html
    assert "You&#x27;ve done that too often. Please try again in 3 minutes." in html


def test_a_script_asking_for_json_gets_the_code_the_words_and_the_wait(client: Client) -> None:
    response = client.post("/test-only/limited/", headers={"Accept": "application/json"})
    assert response.status_code == 429
    assert response["Retry-After"] == "125"
    assert response.json() == {
        "error": "rate_limited",
        "message": "You've done that too often. Please try again in 3 minutes.",
        "retry_after": 125,
    }


def test_our_own_failure_is_a_500_page_in_the_layout_even_for_a_member() -> None:
    client = Client(raise_request_exception=False)
    client.force_login(make_member("ana@example.com"))
    response = client.get("/test-only/broken/")
    assert response.status_code == 500
    html = response.content.decode()
    assert_in_layout(html)
    assert "<h1>Something went wrong on our side</h1>" in html
    # Shown as to a visitor: nothing that needs the member's data, which may be what failed.
    assert "Log in" in html
