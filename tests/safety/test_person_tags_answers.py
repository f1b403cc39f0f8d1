"""Block and Report, and "Plan a call", for one person: a page that knows the answer passes it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.db import connection
from django.db.models import OuterRef
from django.template import Context, Template
from django.test.utils import CaptureQueriesContext

from chatspheres.accounts.models import Profile, User
from chatspheres.safety.selectors import blocked_either_way, met_on_call, safety_targets_among
from chatspheres.safety.services import block_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import connect, talk

pytestmark = pytest.mark.django_db

SAFETY = "{% load safety_tags %}{% person_safety other.user_id other.handle other.display_name "
PLAN = "{% load plan_tags %}{% plan_a_call other "


def render(source: str, viewer: User, other: Profile) -> tuple[str, int]:
    """The HTML and how many queries rendering it took."""
    context = Context({"request": SimpleNamespace(user=viewer), "other": other})
    with CaptureQueriesContext(connection) as captured:
        html = Template(source).render(context)
    return html, len(captured.captured_queries)


@pytest.fixture
def people(sphere: Sphere) -> dict[str, User]:
    """Ana and Ben talked twice and are connections; Cleo talked with Ana once; Dan never did."""
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    cleo = make_member("cleo@example.com", name="Cleo")
    dan = make_member("dan@example.com", name="Dan")
    connect(sphere, ana, ben)
    talk(sphere, ana, cleo)
    return {"ana": ana, "ben": ben, "cleo": cleo, "dan": dan}


def profile(user: User) -> Profile:
    return Profile.objects.get(user=user)


def test_person_safety_asks_once_by_default_and_not_at_all_when_told(
    people: dict[str, User],
) -> None:
    ana, ben = people["ana"], profile(people["ben"])
    asked, queries = render(SAFETY + "%}", ana, ben)
    assert "Block<span" in asked and queries == 1
    told, queries = render(SAFETY + "shown=True %}", ana, ben)
    assert told == asked and queries == 0
    hidden, queries = render(SAFETY + "shown=False %}", ana, ben)
    assert hidden.strip() == "" and queries == 0
    # Someone Ana never met: nothing by default.
    assert render(SAFETY + "%}", ana, profile(people["dan"]))[0].strip() == ""


def test_plan_a_call_asks_by_default_and_not_at_all_when_told(people: dict[str, User]) -> None:
    ana, ben, cleo = people["ana"], profile(people["ben"]), profile(people["cleo"])
    asked, queries = render(PLAN + "%}", ana, ben)
    assert "Plan a call" in asked and queries == 2
    told, queries = render(PLAN + "connected=True %}", ana, ben)
    assert told == asked and queries == 0
    assert render(PLAN + "connected=False %}", ana, ben) == ("", 0)
    assert render(PLAN + "%}", ana, cleo)[0] == ""
    # Never with oneself, whatever the page says.
    assert render(PLAN + "connected=True %}", ana, profile(ana)) == ("", 0)


def test_the_annotations_give_the_answer_safety_targets_among_gives(
    people: dict[str, User],
) -> None:
    ana = people["ana"]
    block_create(blocker_id=people["cleo"].pk, blocked_id=ana.pk)
    others = [people[name].pk for name in ("ben", "cleo", "dan")]
    rows = Profile.objects.filter(user_id__in=others).annotate(
        met=met_on_call(ana.pk, OuterRef("user_id")),
        blocked=blocked_either_way(ana.pk, OuterRef("user_id")),
    )
    offered = {row.user_id for row in rows if row.met and not row.blocked}
    assert offered == set(safety_targets_among(viewer_id=ana.pk, user_ids=others))
    assert offered == {people["ben"].pk}
    by_id = {row.user_id: (row.met, row.blocked) for row in rows}
    assert by_id[people["cleo"].pk] == (True, True)
    assert by_id[people["dan"].pk] == (False, False)
