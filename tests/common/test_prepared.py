"""A query compiled once runs with each call's own values, and refuses what it cannot keep right."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count, Exists, OuterRef, QuerySet
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatspheres.accounts.models import Profile, User
from chatspheres.common.prepared import PreparedQuery
from chatspheres.moderation.models import Decision
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def joined_after(*, user_id: int, since: datetime) -> QuerySet[Any, Any]:
    return User.objects.filter(pk__gte=user_id, date_joined__gt=since).values(
        "email", "date_joined", "is_active", handle=Count("profile__handle")
    )


def test_each_run_takes_its_own_values_and_matches_the_orm() -> None:
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    prepared = PreparedQuery(joined_after, variables={"user_id": int, "since": datetime})
    before = timezone.now() - timedelta(days=1)
    for user_id, since in ((ana.pk, before), (ben.pk, before), (ana.pk, timezone.now())):
        rows = prepared.rows(user_id=user_id, since=since)
        assert rows == list(joined_after(user_id=user_id, since=since))
    # Values come back as the ORM gives them (an aware datetime, a bool), not raw.
    row = prepared.rows(user_id=ben.pk, since=before)[0]
    assert row["date_joined"] == User.objects.get(pk=ben.pk).date_joined
    assert timezone.is_aware(row["date_joined"]) and row["is_active"] is True


def test_after_the_first_run_a_call_is_one_query_and_no_compiling() -> None:
    ana = make_member("ana@example.com", name="Ana")
    prepared = PreparedQuery(joined_after, variables={"user_id": int, "since": datetime})
    prepared.rows(user_id=ana.pk, since=timezone.now())
    built = []

    def spy(**values: Any) -> QuerySet[Any, Any]:
        built.append(values)
        return joined_after(**values)

    prepared._build = spy
    with CaptureQueriesContext(connection) as captured:
        prepared.rows(user_id=ana.pk, since=timezone.now())
    assert len(captured.captured_queries) == 1
    assert built == []


def test_a_query_that_reads_the_clock_by_itself_is_refused() -> None:
    def restricted(*, user_id: int) -> QuerySet[Any, Any]:
        in_force = Decision.objects.filter(subject_id=OuterRef("pk"), ends_at__gt=timezone.now())
        return User.objects.filter(pk=user_id).values(out=Exists(in_force))

    with pytest.raises(ValueError, match="changes by itself"):
        PreparedQuery(restricted, variables={"user_id": int}).rows(user_id=1)


def test_a_query_whose_sql_changes_with_its_values_is_refused() -> None:
    def some(*, user_id: int) -> QuerySet[Any, Any]:
        return Profile.objects.filter(user_id__in=range(user_id // 10 % 5 + 1)).values("handle")

    with pytest.raises(ValueError, match="SQL changes"):
        PreparedQuery(some, variables={"user_id": int}).rows(user_id=1)


def test_only_named_ints_strings_and_datetimes_are_variables() -> None:
    with pytest.raises(TypeError):
        PreparedQuery(joined_after, variables={"user_id": float})
    prepared = PreparedQuery(joined_after, variables={"user_id": int, "since": datetime})
    with pytest.raises(TypeError):
        prepared.rows(user_id=1)
