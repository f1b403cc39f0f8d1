"""People and a person's page read a fixed number of queries, however much history there is."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chatspheres.accounts.models import User
from chatspheres.connections.selectors import access_person, people_page, person_page
from chatspheres.connections.services import follow_create, note_create, talk_again_wish
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import set_online, talk

pytestmark = pytest.mark.django_db

# The pages' own reads: People's nudges, four counts and four slices, the
# stages, the presence settings and presence; a person, their interests, the
# bond, follow, wish, notes, presence settings and presence.
PEOPLE_QUERIES = 8
PERSON_QUERIES = 6


def grow(sphere: Sphere, ana: User, others: list[User]) -> None:
    """Every other member: two talks with Ana, connected, following both ways, a note, online."""
    for other in others:
        talk(sphere, ana, other, a_rating="good", b_rating="good")
        talk(sphere, other, ana, a_rating="good", b_rating="okay")
        talk_again_wish(wisher_id=ana.pk, about_id=other.pk)
        talk_again_wish(wisher_id=other.pk, about_id=ana.pk)
        follow_create(follower_id=ana.pk, followee_id=other.pk)
        follow_create(follower_id=other.pk, followee_id=ana.pk)
        note_create(author_id=ana.pk, about_id=other.pk, text="Runs marathons")
        set_online(other, sphere)


def queries(fetch: Callable[[], object]) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = fetch()
    assert getattr(response, "status_code", None) == 200
    return len(captured.captured_queries)


def test_people_and_a_persons_page_take_the_same_queries_for_1_or_30_people(
    client: Client, sphere: Sphere, django_assert_num_queries: Callable[..., object]
) -> None:
    ana = make_member("ana@example.com", name="Ana")
    first = make_member("first@example.com", name="First")
    grow(sphere, ana, [first])
    client.force_login(ana)
    small = (queries(lambda: client.get("/people/")), queries(lambda: client.get("/people/first/")))

    grow(sphere, ana, [make_member(f"m{n}@example.com", name=f"M {n}") for n in range(30)])
    for _ in range(3):
        note_create(author_id=ana.pk, about_id=first.pk, text="Another note")
    large = (queries(lambda: client.get("/people/")), queries(lambda: client.get("/people/first/")))
    # The whole request, header and session included, does not grow either.
    assert small == large
    with django_assert_num_queries(PEOPLE_QUERIES):  # type: ignore[operator]
        people_page(viewer_id=ana.pk, pages={"history": "2"})
    with django_assert_num_queries(PERSON_QUERIES):  # type: ignore[operator]
        person_page(viewer_id=ana.pk, profile=access_person(viewer_id=ana.pk, handle="first"))
