"""Interest names a member types stay theirs until a moderator approves them."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.test import Client

from chatspheres.accounts.models import Interest, Profile
from chatspheres.accounts.selectors import interest_suggestions
from chatspheres.spheres.demo import DEMO_INTERESTS
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def suggestion_boxes(client: Client) -> str:
    return client.get("/profile/").content.decode()


def test_a_typed_name_is_created_unapproved_and_remembered_as_the_members() -> None:
    ana = make_member("ana@example.com", interests=("competitive yodelling",))
    interest = Interest.objects.get(name="competitive yodelling")
    assert interest.approved is False
    assert interest.suggested_by == ana


def test_a_typed_name_is_offered_to_its_author_and_to_nobody_else(client: Client) -> None:
    make_member("ana@example.com", interests=("competitive yodelling",))
    ben = make_member("ben@example.com")
    client.force_login(ben)
    assert "competitive yodelling" not in suggestion_boxes(client)
    assert "competitive yodelling" not in interest_suggestions()
    client.force_login(Profile.objects.get(handle="ana").user)
    assert 'value="competitive yodelling"' in suggestion_boxes(client)


def test_once_approved_a_name_is_offered_to_everyone(client: Client) -> None:
    make_member("ana@example.com", interests=("competitive yodelling",))
    Interest.objects.filter(name="competitive yodelling").update(approved=True)
    client.force_login(make_member("ben@example.com"))
    assert 'value="competitive yodelling"' in suggestion_boxes(client)


def test_two_members_who_typed_the_same_name_share_it_for_matching() -> None:
    ana = make_member("ana@example.com", interests=("competitive yodelling",))
    ben = make_member("ben@example.com", interests=("Competitive  Yodelling",))
    (interest,) = Interest.objects.filter(name="competitive yodelling")
    assert set(interest.profiles.values_list("user", flat=True)) == {ana.pk, ben.pk}
    # Still the first typist's, still private.
    assert interest.suggested_by == ana and not interest.approved


def test_load_demo_marks_the_shipped_names_approved() -> None:
    make_member("ana@example.com", interests=(DEMO_INTERESTS[0],))
    assert not Interest.objects.get(name=DEMO_INTERESTS[0]).approved
    call_command("load_demo", stdout=io.StringIO())
    shipped = Interest.objects.filter(name__in=DEMO_INTERESTS)
    assert shipped.count() == len(DEMO_INTERESTS)
    assert all(interest.approved for interest in shipped)
