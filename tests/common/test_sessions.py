"""Sessions: Django's database sessions, read with SQL compiled once, by the same rules."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.module_loading import import_string

from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def signed_in(client: Client) -> bool:
    return client.get("/people/").status_code == 200


def test_a_session_is_read_in_one_query_while_it_lives() -> None:
    ana = make_member("ana@example.com", name="Ana")
    client = Client()
    client.force_login(ana)
    key = client.cookies["sessionid"].value
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")
    with CaptureQueriesContext(connection) as captured:
        data = store(key).load()
    assert data["_auth_user_id"] == str(ana.pk)
    assert len(captured.captured_queries) == 1
    assert signed_in(client)


def test_an_expired_an_unknown_or_a_deleted_session_signs_nobody_in() -> None:
    ana = make_member("ana@example.com", name="Ana")
    client = Client()
    client.force_login(ana)
    key = client.cookies["sessionid"].value
    store = import_string(settings.SESSION_ENGINE + ".SessionStore")

    past = timezone.now() - timedelta(seconds=1)
    Session.objects.filter(session_key=key).update(expire_date=past)
    assert not signed_in(client)
    unknown = store("x" * 32)
    assert unknown.load() == {} and unknown.session_key is None

    client.force_login(ana)
    assert signed_in(client)
    Session.objects.filter(session_key=client.cookies["sessionid"].value).delete()
    assert not signed_in(client)


def test_signing_out_ends_the_session() -> None:
    ana = make_member("ana@example.com", name="Ana")
    client = Client()
    client.force_login(ana)
    assert signed_in(client)
    client.post("/accounts/logout/")
    assert not signed_in(client)
