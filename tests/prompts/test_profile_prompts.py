"""Profile prompts: answered on the profile page, shown on the partner card."""

from __future__ import annotations

import pytest
from django.test import Client

from chatspheres.calls.events import MatchFound
from chatspheres.calls.services import conversation_start
from chatspheres.common.events import Captured
from chatspheres.prompts.models import ProfileAnswer
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def signed_in(email: str, name: str) -> tuple[Client, int]:
    user = make_member(email, name=name)
    client = Client()
    client.force_login(user)
    return client, user.pk


def test_the_profile_page_offers_the_fixed_prompts_and_saves_answers() -> None:
    client, user_id = signed_in("ana@example.com", "Ana")
    page = client.get("/profile/")
    assert page.status_code == 200
    for words in (
        "Profile prompts",
        "Answer up to 3",
        "Ask me about…",
        "Lately I&#x27;ve been learning…",
        "A question I love being asked…",
        "Save profile prompts",
    ):
        assert words in page.content.decode()

    saved = client.post(
        "/prompts/profile/",
        {"ask_me_about": "  sourdough   starters ", "learning": "to juggle", "small_joy": ""},
        follow=True,
    )
    assert saved.status_code == 200
    assert "Your profile prompts are saved." in saved.content.decode()
    assert dict(
        ProfileAnswer.objects.filter(profile__user_id=user_id).values_list("question", "answer")
    ) == {"ask_me_about": "sourdough starters", "learning": "to juggle"}
    assert 'value="sourdough starters"' in saved.content.decode()

    # A blank answer removes it.
    client.post("/prompts/profile/", {"ask_me_about": "sourdough starters", "learning": ""})
    assert list(
        ProfileAnswer.objects.filter(profile__user_id=user_id).values_list("question", flat=True)
    ) == ["ask_me_about"]


def test_more_than_three_answers_are_refused_in_words_and_nothing_changes() -> None:
    client, user_id = signed_in("ana@example.com", "Ana")
    client.post("/prompts/profile/", {"ask_me_about": "maps"})
    refused = client.post(
        "/prompts/profile/",
        {
            "ask_me_about": "a",
            "learning": "b",
            "love_being_asked": "c",
            "changed_mind": "d",
        },
        follow=True,
    )
    assert "Answer at most 3 profile prompts." in refused.content.decode()
    assert list(
        ProfileAnswer.objects.filter(profile__user_id=user_id).values_list("answer", flat=True)
    ) == ["maps"]
    too_long = client.post("/prompts/profile/", {"learning": "x" * 121}, follow=True)
    assert "An answer is 1 to 120 characters" in too_long.content.decode()


def test_saving_needs_a_signed_in_member_and_a_post() -> None:
    assert Client().post("/prompts/profile/", {"learning": "x"}).status_code == 302
    client, _ = signed_in("ana@example.com", "Ana")
    assert client.get("/prompts/profile/").status_code == 405


def test_the_partner_card_carries_the_answers(sphere: Sphere, sent_events: Captured) -> None:
    client, ana_id = signed_in("ana@example.com", "Ana")
    client.post("/prompts/profile/", {"ask_me_about": "sourdough", "learning": "Portuguese"})
    ben = make_member("ben@example.com", name="Ben")
    conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana_id,
        a_tab="tab-a",
        b_user_id=ben.pk,
        b_tab="tab-b",
        shared_interests=[],
    )
    cards = {e.targets[0].user: e.event.partner for e in sent_events.of_type(MatchFound)}
    assert cards[ben.pk]["prompts"] == [
        {"prompt": "Ask me about…", "answer": "sourdough"},
        {"prompt": "Lately I've been learning…", "answer": "Portuguese"},
    ]
    assert cards[ana_id]["prompts"] == []
