"""A request reads the member's profile once, with the member, and everything uses that one."""

from __future__ import annotations

import pytest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatspheres.accounts.middleware import TimezoneMiddleware
from chatspheres.moderation.backends import ModerationAwareModelBackend
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def test_the_time_zone_middleware_uses_the_profile_read_with_the_member() -> None:
    ana = make_member("ana@example.com", name="Ana")
    request = RequestFactory().get("/")
    request.user = ModerationAwareModelBackend().get_user(ana.pk)
    seen: dict[str, object] = {}

    def view(request: HttpRequest) -> HttpResponse:
        seen["zone"] = timezone.get_current_timezone_name()
        seen["profile"] = request.user.profile  # type: ignore[union-attr]
        return HttpResponse()

    with CaptureQueriesContext(connection) as captured:
        TimezoneMiddleware(view)(request)
    assert seen["zone"] == "Europe/Paris"
    assert seen["profile"] is request.user.profile  # type: ignore[union-attr]
    assert len(captured.captured_queries) == 0


def test_no_page_reads_the_members_own_profile_again() -> None:
    ana = make_member("ana@example.com", name="Ana")
    client = Client()
    client.force_login(ana)
    # (The profile page reads it again with its interests: accounts.selectors.)
    for url in ("/guidelines/", "/spheres/", "/messages/", "/notifications/"):
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200, url
        own = [
            query["sql"]
            for query in captured.captured_queries
            if query["sql"].startswith('SELECT "accounts_profile"')
            and f'"accounts_profile"."user_id" = {ana.pk}' in query["sql"]
        ]
        assert own == [], (url, own)
