"""Stages, counted by one service from the conversation history, and what the matcher asks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_reflect, conversation_start
from chatspheres.connections.models import Bond, Stage, stage_for
from chatspheres.connections.selectors import (
    familiar_faces_for,
    never_again_for,
)
from chatspheres.connections.services import talk_again_wish
from chatspheres.notifications.models import Notification
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import quick_member, talk

pytestmark = pytest.mark.django_db

_emails = itertools.count()
RATINGS = ["good", "okay", "not_for_me"]


def pair() -> tuple[User, User]:
    n = next(_emails)
    return quick_member(f"ana{n}@example.com", "Ana"), quick_member(f"ben{n}@example.com", "Ben")


def bond(user: User, other: User) -> Bond:
    return Bond.objects.get(user=user, other=other)


# A history: how many conversations, then ratings given in any order, any number
# of times: (conversation index, who: 0 or 1, rating).
histories = st.integers(1, 6).flatmap(
    lambda n: st.tuples(
        st.just(n),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 1), st.sampled_from(RATINGS))),
    )
)


@given(history=histories)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_conversation_counts_once_and_only_when_both_said_good(
    sphere: Sphere, history: tuple[int, list[tuple[int, int, str]]]
) -> None:
    count, ratings = history
    people = pair()
    conversations: list[Conversation] = []
    for _ in range(count):
        conversation = conversation_start(
            sphere_id=sphere.pk,
            a_user_id=people[0].pk,
            a_tab="a",
            b_user_id=people[1].pk,
            b_tab="b",
            shared_interests=[],
        )
        conversation_end(conversation=conversation, by_user_id=people[0].pk, reason="ended")
        conversation.refresh_from_db()
        conversations.append(conversation)
    final: dict[tuple[int, int], str] = {}
    for index, who, rating in ratings:
        conversation_reflect(
            conversation=conversations[index], user_id=people[who].pk, rating=rating
        )
        final[(index, who)] = rating  # answering again replaces the first answer
    positive = sum(
        1 for i in range(count) if final.get((i, 0)) == "good" and final.get((i, 1)) == "good"
    )
    lukewarm = any(rating != "good" for rating in final.values())
    for me, other in (people, people[::-1]):
        mine = bond(me, other)
        assert mine.positive_conversations == positive
        assert mine.stage == stage_for(positive)
        assert mine.conversations == count
        assert mine.lukewarm is lukewarm
        assert mine.last_conversation_id == conversations[-1].pk


@given(good_by=st.lists(st.integers(0, 1), min_size=1, max_size=12))
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_one_persons_goods_alone_never_raise_the_stage(sphere: Sphere, good_by: list[int]) -> None:
    """Ratings are per person: one side saying good again and again counts for nothing."""
    people = pair()
    for who in good_by:
        rating = {0: ("good", ""), 1: ("", "good")}[who]
        talk(sphere, people[0], people[1], a_rating=rating[0], b_rating=rating[1])
    assert bond(*people).positive_conversations == 0
    assert bond(*people).stage == Stage.NEW


def test_stages_rise_at_two_and_five_and_both_are_told_once(sphere: Sphere) -> None:
    ana, ben = pair()
    stages = []
    for _ in range(6):
        talk(sphere, ana, ben, a_rating="good", b_rating="good")
        stages.append(bond(ana, ben).stage)
    assert stages == ["new", "familiar_face", "familiar_face", "familiar_face", "friend", "friend"]
    told = sorted(
        (recipient, data["stage"])
        for recipient, data in Notification.objects.filter(kind="stage_reached").values_list(
            "recipient", "data"
        )
    )
    assert told == sorted(
        [
            (ana.pk, "familiar faces"),
            (ben.pk, "familiar faces"),
            (ana.pk, "friends"),
            (ben.pk, "friends"),
        ]
    )


def test_rating_again_the_same_conversation_does_not_count_twice(sphere: Sphere) -> None:
    ana, ben = pair()
    conversation = talk(sphere, ana, ben, a_rating="good", b_rating="good")
    for _ in range(3):
        conversation_reflect(conversation=conversation, user_id=ana.pk, rating="good")
        conversation_reflect(conversation=conversation, user_id=ben.pk, rating="good")
    assert bond(ana, ben).positive_conversations == 1
    conversation_reflect(conversation=conversation, user_id=ben.pk, rating="okay")
    assert bond(ana, ben).positive_conversations == 0


def test_the_matcher_learns_familiar_faces_and_who_never_to_pair_again(sphere: Sphere) -> None:
    ana = make_member("ana@example.com", name="Ana")
    ben, cleo, dev, eve = (make_member(f"{n}@example.com") for n in ("ben", "cleo", "dev", "eve"))
    talk(sphere, ana, ben, a_rating="good", b_rating="good")
    talk(sphere, ana, cleo, a_rating="good", b_rating="good")
    talk(sphere, ana, cleo, a_rating="good", b_rating="okay")  # one lukewarm talk
    talk(sphere, dev, ana, a_rating="not_for_me")
    talk(sphere, ana, eve, a_rating="good", b_rating="good")  # good, but not connected
    for other in (ben, cleo):
        talk_again_wish(wisher_id=ana.pk, about_id=other.pk)
        talk_again_wish(wisher_id=other.pk, about_id=ana.pk)
    assert familiar_faces_for(user_id=ana.pk) == frozenset({ben.pk})
    assert familiar_faces_for(user_id=ben.pk) == frozenset({ana.pk})
    assert never_again_for(user_id=ana.pk) == frozenset({cleo.pk, dev.pk})
    assert never_again_for(user_id=dev.pk) == frozenset({ana.pk})


@pytest.mark.django_db(transaction=True)
def test_past_conversations_become_bonds_in_the_migration() -> None:
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor
    from django.utils import timezone

    before = [("calls", "0003_conversation_participants")]
    after = [("connections", "0001_initial")]
    executor = MigrationExecutor(connection)
    executor.migrate([("connections", None)])
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    old = executor.loader.project_state(before).apps
    OldUser = old.get_model("accounts", "User")
    OldSphere = old.get_model("spheres", "Sphere")
    OldConversation = old.get_model("calls", "Conversation")
    OldParticipant = old.get_model("calls", "Participant")
    ana = OldUser.objects.create(email="ana@example.com")
    ben = OldUser.objects.create(email="ben@example.com")
    sphere = OldSphere.objects.create(name="Book Club", slug="book-club")
    for n, (a_rating, b_rating) in enumerate([("good", "good"), ("good", "good"), ("good", "")]):
        started = timezone.now() - timezone.timedelta(days=10 - n)
        conversation = OldConversation.objects.create(
            public_id=f"old-{n}", sphere=sphere, user_a=ana, user_b=ben, state="ended",
            started_at=started,
        )  # fmt: skip
        for user, partner, rating in ((ana, ben, a_rating), (ben, ana, b_rating)):
            side = OldParticipant.objects.create(
                conversation=conversation, user=user, partner=partner, tab="t", rating=rating
            )
            OldParticipant.objects.filter(pk=side.pk).update(created=started)

    executor = MigrationExecutor(connection)
    executor.migrate(after)
    new = executor.loader.project_state(after).apps
    rows = {
        (row.user_id, row.other_id): (row.conversations, row.positive_conversations, row.stage)
        for row in new.get_model("connections", "Bond").objects.all()
    }
    assert rows == {
        (ana.pk, ben.pk): (3, 2, "familiar_face"),
        (ben.pk, ana.pk): (3, 2, "familiar_face"),
    }

    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
