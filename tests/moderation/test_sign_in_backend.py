"""The sign-in backend on every request: one query, and a decision ends the session at once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chatspheres.accounts.models import Profile, User
from chatspheres.moderation.backends import ModerationAwareModelBackend
from chatspheres.moderation.models import Decision
from chatspheres.moderation.selectors import MODERATORS_GROUP
from chatspheres.moderation.services import appeal_decide, appeal_make, decision_make
from chatspheres.safety.models import Report
from tests.moderation.helpers import signed_in
from tests.moderation.test_services import STATEMENT

pytestmark = pytest.mark.django_db


def still_signed_in(client: Client) -> bool:
    response = client.get("/people/")
    return response.status_code == 200


def test_the_member_comes_with_their_profile_in_one_query(people: dict[str, User]) -> None:
    backend = ModerationAwareModelBackend()
    with CaptureQueriesContext(connection) as captured:
        user = backend.get_user(people["ana"].pk)
        assert user is not None
        assert user.profile.display_name == "Ana"
        assert user.profile.time_zone == "Europe/Paris"
        assert user.profile.user is user
        assert user.moderation_restricted is False
        assert user.moderation_moderator is False
    assert len(captured.captured_queries) == 1
    # The same fields as the ORM would read.
    fresh = User.objects.get(pk=people["ana"].pk)
    assert (user.email, user.password, user.is_active, user.date_joined) == (
        fresh.email,
        fresh.password,
        fresh.is_active,
        fresh.date_joined,
    )
    assert user.profile.pk == Profile.objects.get(user=fresh).pk


def test_a_member_without_a_profile_has_none_and_costs_no_query_more() -> None:
    staff = User.objects.create_user(email="admin@example.com", password="a-long-password-1")
    with CaptureQueriesContext(connection) as captured:
        user = ModerationAwareModelBackend().get_user(staff.pk)
        assert user is not None
        assert getattr(user, "profile", None) is None
    assert len(captured.captured_queries) == 1


def test_nobody_behind_an_id_is_nobody() -> None:
    backend = ModerationAwareModelBackend()
    assert backend.get_user(987654) is None
    assert backend.get_user("not a number") is None


def test_moderators_are_known_with_the_member(people: dict[str, User]) -> None:
    backend = ModerationAwareModelBackend()
    assert backend.get_user(people["mia"].pk).moderation_moderator is True
    people["mia"].groups.remove(Group.objects.get(name=MODERATORS_GROUP))
    assert backend.get_user(people["mia"].pk).moderation_moderator is False


def test_an_inactive_member_is_refused(people: dict[str, User]) -> None:
    User.objects.filter(pk=people["ana"].pk).update(is_active=False)
    assert ModerationAwareModelBackend().get_user(people["ana"].pk) is None


def test_a_ban_ends_the_session_on_the_next_request(
    people: dict[str, User], report: Report
) -> None:
    ben = signed_in(people["ben"])
    ana = signed_in(people["ana"])
    assert still_signed_in(ben) and still_signed_in(ana)
    decision_make(report=report, moderator=people["mia"], action="ban", statement=STATEMENT)
    assert not still_signed_in(ben)
    assert still_signed_in(ana)


def test_a_suspension_ends_the_session_until_its_time_is_up(
    people: dict[str, User], report: Report
) -> None:
    ben = signed_in(people["ben"])
    decision = decision_make(
        report=report, moderator=people["mia"], action="suspend", statement=STATEMENT, days=1
    )
    assert not still_signed_in(ben)
    # The moment a request is asked about is its own: once the end has passed, he is back.
    Decision.objects.filter(pk=decision.pk).update(ends_at=timezone.now() - timedelta(seconds=1))
    ben = signed_in(people["ben"])
    assert still_signed_in(ben)
    Decision.objects.filter(pk=decision.pk).update(ends_at=timezone.now() + timedelta(minutes=5))
    assert not still_signed_in(ben)


def test_an_overturned_ban_lets_the_member_back_on_the_next_request(
    people: dict[str, User], report: Report
) -> None:
    decision = decision_make(
        report=report, moderator=people["mia"], action="ban", statement=STATEMENT
    )
    assert ModerationAwareModelBackend().get_user(people["ben"].pk) is None
    appeal = appeal_make(decision=decision, text="I was not the one who insulted her.")
    appeal_decide(
        appeal=appeal, moderator=people["max"], outcome="overturned", statement="Wrong person."
    )
    user = ModerationAwareModelBackend().get_user(people["ben"].pk)
    assert user is not None and user.moderation_restricted is False
