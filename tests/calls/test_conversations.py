"""Conversation records, the call page and the after-call reflection."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from django.db import transaction
from django.test import Client

from chatspheres.calls.events import CallEnded, MatchFound
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import (
    conversation_end,
    conversation_end_for_tab,
    conversation_start,
    conversations_end_orphaned,
)
from chatspheres.common.errors import ApplicationError, PairingRefused
from chatspheres.common.events import Captured, ToTab
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def start(sphere: Sphere, a: Any, b: Any, *, a_tab: str = "tab-a", b_tab: str = "tab-b"):
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab=a_tab,
        b_user_id=b.pk,
        b_tab=b_tab,
        shared_interests=["books"],
    )


def test_a_conversation_has_an_unguessable_public_id(sphere: Sphere) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    raw = base64.urlsafe_b64decode(
        conversation.public_id + "=" * (-len(conversation.public_id) % 4)
    )
    assert len(raw) * 8 >= 128
    assert conversation.state == Conversation.State.ACTIVE
    assert conversation.started_at is not None


def test_nobody_is_in_two_active_conversations(sphere: Sphere) -> None:
    ana, ben, cleo = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo"))
    start(sphere, ana, ben)
    with pytest.raises(ApplicationError) as refused:
        start(sphere, cleo, ben, a_tab="tab-c", b_tab="tab-b2")
    assert refused.value.code == "already_in_call"
    assert Conversation.objects.count() == 1


def test_ending_saves_reason_end_time_and_who_and_happens_once(sphere: Sphere) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    assert conversation_end(conversation=conversation, by_user_id=ben.pk, reason="next")
    assert not conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ENDED
    assert conversation.end_reason == "next"
    assert conversation.ended_by_id == ben.pk
    assert conversation.duration_seconds is not None and conversation.duration_seconds >= 0


def test_a_closed_tab_ends_only_the_conversation_it_was_in(sphere: Sphere) -> None:
    ana, ben, cleo, dev = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo", "dev"))
    first = start(sphere, ana, ben, a_tab="ana-tab", b_tab="ben-tab")
    second = start(sphere, cleo, dev, a_tab="cleo-tab", b_tab="dev-tab")
    ended = conversation_end_for_tab(tab="ben-tab", reason="disconnected")
    assert ended is not None and ended.pk == first.pk
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, first.end_reason, first.ended_by_id) == ("ended", "disconnected", ben.pk)
    assert second.state == "active"
    assert conversation_end_for_tab(tab="some-other-tab", reason="left") is None


def test_start_up_ends_conversations_a_previous_run_left_open(sphere: Sphere) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    assert conversations_end_orphaned() == 1
    conversation.refresh_from_db()
    assert conversation.end_reason == "disconnected"


def test_call_page_is_for_members_of_the_sphere(client: Client, sphere: Sphere) -> None:
    member = make_member("ana@example.com")
    client.force_login(member)
    response = client.get("/spheres/book-club/call/", follow=True)
    assert response.redirect_chain == [("/spheres/book-club/", 302)]
    assert "Join Book Club to start a conversation here." in response.content.decode()

    client.post("/spheres/book-club/join/")
    page = client.get("/spheres/book-club/call/").content.decode()
    assert 'id="call-config"' in page
    assert "<script>" not in page  # data only: the CSP forbids inline scripts


def ratings(conversation: Conversation, *people: Any) -> tuple[str, ...]:
    """Each person's own answer to "How was it?", in the order given."""
    sides = {side.user_id: side.rating for side in conversation.participants.all()}
    return tuple(sides[person.pk] for person in people)


def test_how_was_it_is_saved_for_each_side(client: Client, sphere: Sphere) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    url = f"/conversations/{conversation.public_id}/reflection/"

    client.force_login(ana)
    assert client.post(url, {"rating": "good"}, HTTP_X_CSRFTOKEN="x").status_code == 204
    client.force_login(ben)
    assert client.post(url, {"rating": "not_for_me"}).status_code == 302
    assert ratings(conversation, ana, ben) == ("good", "not_for_me")


def test_how_was_it_refuses_strangers_bad_answers_and_live_calls(
    client: Client, sphere: Sphere
) -> None:
    ana, ben, cleo = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo"))
    conversation = start(sphere, ana, ben)
    url = f"/conversations/{conversation.public_id}/reflection/"

    client.force_login(ana)
    response = client.post(url, {"rating": "good"})
    assert response.status_code == 400
    assert response.content.decode() == "You can say how it was once the conversation has ended."

    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    response = client.post(url, {"rating": "amazing"})
    assert response.status_code == 400
    assert response.content.decode() == "Choose good, okay or not for me."

    client.force_login(cleo)
    assert client.post(url, {"rating": "good"}).status_code == 404
    assert ratings(conversation, ana, ben) == ("", "")


# What the services announce, captured without a server -----------------------------


def test_starting_a_conversation_tells_each_tab_its_partner_and_role(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana = make_member("ana@example.com", name="Ana", interests=("books",))
    ben = make_member("ben@example.com", name="Ben", interests=("books", "chess"))
    conversation = start(sphere, ana, ben)
    to_ana, to_ben = sent_events.to(ToTab(ana.pk, "tab-a")), sent_events.to(ToTab(ben.pk, "tab-b"))
    assert len(to_ana) == len(to_ben) == 1
    assert isinstance(to_ana[0], MatchFound) and isinstance(to_ben[0], MatchFound)
    assert (to_ana[0].polite, to_ben[0].polite) == (False, True)  # the one who waited offers
    assert to_ana[0].partner == {
        "name": "Ben",
        "handle": "ben",
        "bio": "",
        "interests": ["books", "chess"],
        "prompts": [],
    }
    assert to_ana[0].conversation == conversation.public_id
    # The server alone learns where to relay: the partner's tab, never shown to the browser.
    meta = {sent.targets[0]: sent.meta for sent in sent_events.of_type(MatchFound)}
    assert meta[ToTab(ana.pk, "tab-a")] == (conversation.public_id, "tab-b", str(ben.pk), "offer")
    assert meta[ToTab(ben.pk, "tab-b")] == (conversation.public_id, "tab-a", str(ana.pk), "answer")


def test_ending_announces_to_both_tabs_once(sphere: Sphere, sent_events: Captured) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    conversation_end(conversation=conversation, by_user_id=ben.pk, reason="next")
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    ended = sent_events.of_type(CallEnded)
    assert [(sent.targets, sent.event.by_me) for sent in ended] == [  # type: ignore[attr-defined]
        ((ToTab(ana.pk, "tab-a"),), False),
        ((ToTab(ben.pk, "tab-b"),), True),
    ]
    assert {sent.event.reason for sent in ended} == {"next"}  # type: ignore[attr-defined]


def test_nothing_is_announced_when_the_transaction_rolls_back(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    with pytest.raises(RuntimeError), transaction.atomic():
        start(sphere, ana, ben)
        raise RuntimeError("something later in the same transaction failed")
    assert sent_events.sent == []
    assert not Conversation.objects.exists()


def test_a_member_already_in_a_call_is_named_when_a_pairing_is_refused(sphere: Sphere) -> None:
    ana, ben, cleo = (make_member(f"{n}@example.com") for n in ("ana", "ben", "cleo"))
    start(sphere, ana, ben)
    with pytest.raises(PairingRefused) as refused:
        start(sphere, ben, cleo, a_tab="tab-b2", b_tab="tab-c")
    assert refused.value.user_id == ben.pk
    assert refused.value.code == "already_in_call"


def test_an_account_without_a_profile_gets_one_when_it_is_matched(sphere: Sphere) -> None:
    from chatspheres.accounts.models import Profile, User

    admin = User.objects.create_superuser(email="root@example.com", password="a-long-password")
    start(sphere, admin, make_member("ben@example.com"))
    profile = Profile.objects.get(user=admin)
    assert profile.display_name == "root"
    assert profile.adult_confirmed_at is None  # never claimed at sign-up
