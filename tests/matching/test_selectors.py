"""What a member brings to the queue, read from the database: never-again people, familiar faces,
the allowance for a familiar pairing, and the waiting screen's hint."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from chatspheres.accounts.models import PresenceAudience, User
from chatspheres.accounts.services import profile_privacy_update
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_reflect, conversation_start
from chatspheres.connections.services import talk_again_wish
from chatspheres.matching.selectors import (
    CallNow,
    WaitingHint,
    familiar_pairing_allowed,
    queue_request_for,
    waiting_hint_for,
)
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

_tabs = itertools.count()


def talk(
    sphere: Sphere,
    a: User,
    b: User,
    *,
    ratings: tuple[str, str] = ("good", "good"),
    kind: str = Conversation.Kind.MATCHED,
) -> Conversation:
    """A whole conversation between a and b, started, ended and rated through the services."""
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab=f"tab-{next(_tabs)}",
        b_user_id=b.pk,
        b_tab=f"tab-{next(_tabs)}",
        shared_interests=[],
        kind=kind,
    )
    conversation_end(conversation=conversation, by_user_id=a.pk, reason="ended")
    for user, rating in zip((a, b), ratings, strict=True):
        if rating:
            conversation_reflect(conversation=conversation, user_id=user.pk, rating=rating)
    return conversation


def connect(a: User, b: User) -> None:
    """Both say "I'd like to talk again"."""
    talk_again_wish(wisher_id=a.pk, about_id=b.pk)
    talk_again_wish(wisher_id=b.pk, about_id=a.pk)


@pytest.fixture
def people(sphere: Sphere) -> dict[str, User]:
    names = ["Ana", "Ben", "Cleo", "Dev", "Eve", "Finn"]
    return {
        name: make_member(f"{name.lower()}@example.com", name=name, spheres=(sphere,))
        for name in names
    }


# The allowance: no repeat among the last three matches.


def test_a_member_with_no_history_may_have_a_familiar_pairing(people: dict[str, User]) -> None:
    assert familiar_pairing_allowed(user_id=people["Ana"].pk)


def test_a_repeat_uses_up_the_allowance_for_the_next_three_matches(
    sphere: Sphere, people: dict[str, User]
) -> None:
    ana = people["Ana"]
    talk(sphere, ana, people["Ben"])
    assert familiar_pairing_allowed(user_id=ana.pk)

    talk(sphere, people["Ben"], ana)  # again: a repeat, whoever waited
    assert not familiar_pairing_allowed(user_id=ana.pk)
    assert not familiar_pairing_allowed(user_id=people["Ben"].pk)

    talk(sphere, ana, people["Cleo"])
    talk(sphere, ana, people["Dev"])
    assert not familiar_pairing_allowed(user_id=ana.pk)

    talk(sphere, ana, people["Eve"])  # the repeat is now four matches ago
    assert familiar_pairing_allowed(user_id=ana.pk)


def test_direct_calls_are_not_matches_but_a_match_after_one_is_a_repeat(
    sphere: Sphere, people: dict[str, User]
) -> None:
    ana, ben = people["Ana"], people["Ben"]
    talk(sphere, ana, ben, kind=Conversation.Kind.DIRECT)
    assert familiar_pairing_allowed(user_id=ana.pk)

    talk(sphere, ana, ben)
    for other in ("Cleo", "Dev"):
        talk(sphere, ana, people[other])
    # Direct calls do not push the repeat out of the last three matches.
    for _ in range(3):
        talk(sphere, ana, ben, kind=Conversation.Kind.DIRECT)
    assert not familiar_pairing_allowed(user_id=ana.pk)


def test_the_allowance_is_read_in_one_query(
    sphere: Sphere, people: dict[str, User], django_assert_num_queries: Any
) -> None:
    ana = people["Ana"]
    for other in ("Ben", "Cleo", "Dev", "Ben", "Eve"):
        talk(sphere, ana, people[other])

    with django_assert_num_queries(1):
        assert not familiar_pairing_allowed(user_id=ana.pk)


# What the queue is given.


def test_the_queue_request_excludes_a_bad_repeat_and_lists_familiar_faces(
    sphere: Sphere, people: dict[str, User], django_assert_max_num_queries: Any
) -> None:
    ana, ben, cleo, dev = people["Ana"], people["Ben"], people["Cleo"], people["Dev"]
    talk(sphere, ana, ben)
    connect(ana, ben)
    talk(sphere, ana, cleo, ratings=("good", "okay"))  # Cleo said okay
    talk(sphere, dev, ana, ratings=("not_for_me", "good"))  # Dev said not for me
    connect(ana, dev)  # a connection, but not a familiar face after that

    # Among them: is she suspended or banned, does she hide her IP, whom has she blocked.
    with django_assert_max_num_queries(10):
        request = queue_request_for(user_id=ana.pk, sphere_id=sphere.pk)

    assert request.excluded == {cleo.pk, dev.pk}
    assert request.familiar == {ben.pk}
    assert request.familiar_allowed  # three different people: no repeat yet
    assert queue_request_for(user_id=cleo.pk, sphere_id=sphere.pk).excluded == {ana.pk}


def test_the_queue_request_carries_the_allowance(sphere: Sphere, people: dict[str, User]) -> None:
    ana, ben = people["Ana"], people["Ben"]
    talk(sphere, ana, ben)
    connect(ana, ben)
    talk(sphere, ana, ben)

    request = queue_request_for(user_id=ana.pk, sphere_id=sphere.pk)

    assert request.familiar == {ben.pk}
    assert not request.familiar_allowed


# The waiting screen's hint.


def test_the_hint_counts_recent_partners_and_offers_call_now_for_a_connection(
    sphere: Sphere, people: dict[str, User]
) -> None:
    ana, ben, cleo = people["Ana"], people["Ben"], people["Cleo"]
    talk(sphere, ana, ben)
    connect(ana, ben)
    talk(sphere, ana, cleo)

    hint = waiting_hint_for(user_id=ana.pk, partner_ids=[ben.pk, cleo.pk])

    handle = ben.profile.handle
    assert hint == WaitingHint(
        recent_partners=2, call_now=[CallNow(name="Ben", url=f"/call/{handle}/")]
    )


def test_the_hint_never_counts_anyone_excluded(sphere: Sphere, people: dict[str, User]) -> None:
    ana, ben, cleo = people["Ana"], people["Ben"], people["Cleo"]
    talk(sphere, ana, ben)
    connect(ana, ben)
    talk(sphere, ana, ben, ratings=("good", "not_for_me"))
    talk(sphere, ana, cleo)

    hint = waiting_hint_for(user_id=ana.pk, partner_ids=[ben.pk, cleo.pk])

    assert hint == WaitingHint(recent_partners=1, call_now=[])


def test_call_now_is_not_offered_for_someone_who_hides_their_presence(
    sphere: Sphere, people: dict[str, User]
) -> None:
    ana, ben = people["Ana"], people["Ben"]
    talk(sphere, ana, ben)
    connect(ana, ben)
    profile_privacy_update(
        profile=ben.profile, presence_visible_to=PresenceAudience.NOBODY, announce_follows=True
    )

    hint = waiting_hint_for(user_id=ana.pk, partner_ids=[ben.pk])

    assert hint == WaitingHint(recent_partners=1, call_now=[])


def test_the_hint_takes_the_same_queries_for_one_partner_or_many(
    sphere: Sphere, people: dict[str, User], django_assert_num_queries: Any
) -> None:
    ana = people["Ana"]
    others = [people[name] for name in ("Ben", "Cleo", "Dev", "Eve", "Finn")]
    for other in others:
        talk(sphere, ana, other)
        connect(ana, other)

    # Never-again, blocks, familiar faces, presence settings, presence and names.
    with django_assert_num_queries(6) as one:
        assert waiting_hint_for(user_id=ana.pk, partner_ids=[others[0].pk]).recent_partners == 1
    with django_assert_num_queries(len(one.captured_queries)):
        hint = waiting_hint_for(user_id=ana.pk, partner_ids=[each.pk for each in others])

    assert [offer.name for offer in hint.call_now] == ["Ben", "Cleo", "Dev", "Eve", "Finn"]


def test_no_partners_need_no_query(people: dict[str, User], django_assert_num_queries: Any) -> None:
    with django_assert_num_queries(0):
        assert waiting_hint_for(user_id=people["Ana"].pk, partner_ids=[]) == WaitingHint()
