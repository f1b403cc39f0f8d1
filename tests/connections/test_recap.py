"""The recap on the partner card, and the reflection screen's own answers."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.calls.events import MatchFound, Recap
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_start
from chatspheres.common.events import Captured, ToTab
from chatspheres.connections.models import Note
from chatspheres.connections.services import note_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import talk

pytestmark = pytest.mark.django_db


def match_found_for(sent_events: Captured, user: User, tab: str) -> MatchFound:
    return next(
        event for event in sent_events.to(ToTab(user.pk, tab)) if isinstance(event, MatchFound)
    )


def start(sphere: Sphere, a: User, b: User) -> Conversation:
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab="a-tab",
        b_user_id=b.pk,
        b_tab="b-tab",
        shared_interests=[],
    )


def test_a_first_meeting_has_no_recap_but_the_card_has_the_handle(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com", name="Ana"), make_member("ben@example.com")
    start(sphere, ana, ben)
    found = match_found_for(sent_events, ana, "a-tab")
    assert found.recap == Recap()
    assert found.partner["handle"] == "ben"


def test_the_recap_says_how_often_when_and_where_in_the_viewers_time_zone_with_own_notes(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana = make_member("ana@example.com", name="Ana")  # Europe/Paris
    ben = make_member("ben@example.com", name="Ben")
    talk(sphere, ana, ben, days_ago=30)
    talk(sphere, ana, ben, days_ago=20)
    last = talk(sphere, ben, ana)
    # 23:30 UTC is already the next day in Paris.
    late = datetime.now(tz=ZoneInfo("UTC")).replace(hour=23, minute=30) - timedelta(days=2)
    Conversation.objects.filter(pk=last.pk).update(started_at=late)
    last.participants.update(created=late)
    older = note_create(author_id=ana.pk, about_id=ben.pk, text="Training for a marathon")
    Note.objects.filter(pk=older.pk).update(created=timezone.now() - timedelta(days=5))
    note_create(author_id=ana.pk, about_id=ben.pk, text="Has a dog called Pixel")
    note_create(author_id=ben.pk, about_id=ana.pk, text="Ben's note about Ana")

    start(sphere, ana, ben)
    recap = match_found_for(sent_events, ana, "a-tab").recap
    assert recap.times == 3
    assert recap.last_at == (late + timedelta(days=1)).date().isoformat()
    assert recap.last_sphere == "Book Club"
    assert [note.text for note in recap.notes] == [
        "Has a dog called Pixel",
        "Training for a marathon",
    ]
    assert recap.notes[0].created.endswith("+01:00") or recap.notes[0].created.endswith("+02:00")
    other = match_found_for(sent_events, ben, "b-tab").recap
    assert [note.text for note in other.notes] == ["Ben's note about Ana"]


def test_the_reflection_screen_learns_what_is_already_chosen(
    client: Client, sphere: Sphere
) -> None:
    ana, ben = make_member("ana@example.com", name="Ana"), make_member("ben@example.com")
    conversation = talk(sphere, ana, ben)
    client.force_login(ana)
    after = f"/people/ben/after/{conversation.public_id}/"
    assert client.get(after).json() == {
        "following": False,
        "wished": False,
        "connected": False,
        "note": None,
    }
    client.post("/people/ben/follow/")
    client.post("/people/ben/talk-again/", {"conversation": conversation.public_id})
    saved = client.post(
        "/people/ben/notes/",
        {"text": "Loves Le Guin", "conversation": conversation.public_id},
        HTTP_ACCEPT="application/json",
    ).json()
    assert saved["message"] == "Note saved. Only you can see it."
    state = client.get(after).json()
    assert state == {
        "following": True,
        "wished": True,
        "connected": False,
        "note": {"id": saved["note"]["id"], "text": "Loves Le Guin"},
    }
    # Another conversation's screen starts with no note.
    other = talk(sphere, ana, ben)
    assert client.get(f"/people/ben/after/{other.public_id}/").json()["note"] is None
    # A conversation that was not theirs is no conversation at all.
    cleo = make_member("cleo@example.com")
    theirs = talk(sphere, ben, cleo)
    assert client.get(f"/people/ben/after/{theirs.public_id}/").status_code == 404


def test_the_call_page_has_the_reflection_choices_and_the_recap_area(
    client: Client, sphere: Sphere
) -> None:
    from chatspheres.spheres.services import sphere_join

    ana = make_member("ana@example.com", name="Ana")
    sphere_join(user=ana, sphere=sphere)
    client.force_login(ana)
    page = client.get(f"/spheres/{sphere.slug}/call/").content.decode()
    for words in (
        "How was it?",
        ">Follow</button>",
        "I'd like to talk again</button>",
        '<label for="note-text">Private note</label>',
        'placeholder="What did they share that you want to remember?"',
        ">Save note</button>",
        'id="recap"',
        'data-person-url="/people/__handle__/"',
    ):
        assert words in page
