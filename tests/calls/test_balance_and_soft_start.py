"""Talk balance and soft start: what the server relays, decides and keeps."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from chatspheres.accounts.models import Profile, User
from chatspheres.accounts.services import profile_call_choices_update
from chatspheres.calls.events import MatchFound, PartnerRevealed
from chatspheres.calls.models import Conversation, Participant
from chatspheres.calls.services import (
    conversation_end,
    conversation_start,
    participant_reveal,
    participant_talk_record,
)
from chatspheres.common.errors import ApplicationError
from chatspheres.common.events import Captured, ToTab
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab, match

# Bounds a wait for a write the server makes after answering; never a timing.
SAVE_LIMIT_SECONDS = 10


def start(sphere: Sphere, a: User, b: User, kind: str = Conversation.Kind.MATCHED) -> Conversation:
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab="tab-a",
        b_user_id=b.pk,
        b_tab="tab-b",
        shared_interests=[],
        kind=kind,
    )


def match_found(sent_events: Captured, user: User, tab: str) -> MatchFound:
    [found] = [e for e in sent_events.to(ToTab(user.pk, tab)) if isinstance(e, MatchFound)]
    return found


def talk_seconds(public_id: str) -> dict[int, float | None]:
    sides = Participant.objects.filter(conversation__public_id=public_id)
    return {side.user_id: side.talk_seconds for side in sides}


def wait_for(read: Any, expected: Any) -> Any:
    """Poll ``read()`` until it equals ``expected`` (bounded); return its last value."""
    deadline = time.monotonic() + SAVE_LIMIT_SECONDS
    value = read()
    while value != expected and time.monotonic() < deadline:
        time.sleep(0.05)
        value = read()
    return value


# Soft start: decided at match time ------------------------------------------------


@pytest.mark.django_db
def test_a_first_meeting_starts_softly_with_the_timeout_on_match_found(
    sphere: Sphere, sent_events: Captured, settings: Any
) -> None:
    settings.SOFT_START_SECONDS = 45
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    start(sphere, ana, ben)
    for user, tab in ((ana, "tab-a"), (ben, "tab-b")):
        found = match_found(sent_events, user, tab)
        assert (found.soft_start, found.reveal_after_seconds) == (True, 45)


@pytest.mark.django_db
def test_soft_start_applies_when_either_person_wants_it(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    profile_call_choices_update(profile=Profile.objects.get(user=ana), soft_start=False)
    start(sphere, ana, ben)
    assert match_found(sent_events, ana, "tab-a").soft_start is True


@pytest.mark.django_db
def test_no_soft_start_when_neither_wants_it(sphere: Sphere, sent_events: Captured) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    for user in (ana, ben):
        profile_call_choices_update(profile=Profile.objects.get(user=user), soft_start=False)
    start(sphere, ana, ben)
    found = match_found(sent_events, ben, "tab-b")
    assert (found.soft_start, found.reveal_after_seconds) == (False, 0)


@pytest.mark.django_db
def test_no_soft_start_for_people_who_met_before_or_a_direct_call(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    first = start(sphere, ana, ben)
    conversation_end(conversation=first, by_user_id=ana.pk, reason="ended")
    start(sphere, ana, ben)
    again = [e for e in sent_events.to(ToTab(ana.pk, "tab-a")) if isinstance(e, MatchFound)]
    assert [found.soft_start for found in again] == [True, False]

    cleo, dev = make_member("cleo@example.com"), make_member("dev@example.com")
    start(sphere, cleo, dev, kind=Conversation.Kind.DIRECT)
    assert match_found(sent_events, cleo, "tab-a").soft_start is False


@pytest.mark.django_db
def test_revealing_is_saved_once_and_told_to_the_partner_only(
    sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    assert participant_reveal(public_id=conversation.public_id, user_id=ana.pk) is True
    assert participant_reveal(public_id=conversation.public_id, user_id=ana.pk) is False
    revealed = sent_events.of_type(PartnerRevealed)
    assert [sent.targets for sent in revealed] == [(ToTab(ben.pk, "tab-b"),)]
    sides = {side.user_id: side.revealed_at for side in conversation.participants.all()}
    assert sides[ana.pk] is not None and sides[ben.pk] is None


@pytest.mark.django_db
def test_nobody_reveals_in_a_call_that_is_not_theirs_or_is_over(sphere: Sphere) -> None:
    ana, ben, eve = (make_member(f"{n}@example.com") for n in ("ana", "ben", "eve"))
    conversation = start(sphere, ana, ben)
    with pytest.raises(ApplicationError) as refused:
        participant_reveal(public_id=conversation.public_id, user_id=eve.pk)
    assert refused.value.code == "not_in_conversation"
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    with pytest.raises(ApplicationError):
        participant_reveal(public_id=conversation.public_id, user_id=ben.pk)


# Talk balance: what is kept ------------------------------------------------------


@pytest.mark.django_db
def test_a_talk_count_is_kept_but_never_longer_than_the_call(sphere: Sphere) -> None:
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = start(sphere, ana, ben)
    Conversation.objects.filter(pk=conversation.pk).update(
        started_at=timezone.now() - timedelta(seconds=90)
    )
    participant_talk_record(public_id=conversation.public_id, user_id=ana.pk, seconds=42.34)
    participant_talk_record(public_id=conversation.public_id, user_id=ben.pk, seconds=5000)
    saved = talk_seconds(conversation.public_id)
    assert saved[ana.pk] == 42.3
    assert saved[ben.pk] is not None and 90 <= saved[ben.pk] < 100


# Over the socket -----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_talk_counts_reach_the_partner_and_the_last_ones_are_saved_at_the_end(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    Conversation.objects.filter(public_id=conversation).update(
        started_at=timezone.now() - timedelta(minutes=5)
    )
    for seconds in (4, 12.5):
        ana.send({"type": "talk.time", "conversation": conversation, "seconds": seconds})
        assert ben.receive_type("talk.time") == {
            "type": "talk.time",
            "conversation": conversation,
            "seconds": seconds,
        }
    ben.send({"type": "talk.time", "conversation": conversation, "seconds": 3})
    assert ana.receive_type("talk.time")["seconds"] == 3
    # Nothing is written while the call goes on.
    assert talk_seconds(conversation) == {ana.user.pk: None, ben.user.pk: None}

    ana.send({"type": "call.end", "conversation": conversation, "reason": "ended"})
    ana.receive_type("call.ended")
    ben.receive_type("call.ended")
    expected = {ana.user.pk: 12.5, ben.user.pk: 3.0}
    assert wait_for(lambda: talk_seconds(conversation), expected) == expected


@pytest.mark.django_db(transaction=True)
def test_a_tab_that_closes_keeps_its_last_count(live_server: LiveServer, sphere: Sphere) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    Conversation.objects.filter(public_id=conversation).update(
        started_at=timezone.now() - timedelta(minutes=1)
    )
    ben.send({"type": "talk.time", "conversation": conversation, "seconds": 0.0})
    ben.send({"type": "talk.time", "conversation": conversation, "seconds": 1.5})
    ana.receive_type("talk.time")
    assert ana.receive_type("talk.time")["seconds"] == 1.5
    ben.close()
    assert ana.receive_type("call.ended")["reason"] == "left"
    expected = {ana.user.pk: None, ben.user.pk: 1.5}
    assert wait_for(lambda: talk_seconds(conversation), expected) == expected


@pytest.mark.django_db(transaction=True)
def test_talk_counts_go_nowhere_but_the_senders_own_call(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    eve = Tab(live_server, make_member("eve@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    # Eve knows the conversation's id but is not in it.
    eve.send({"type": "talk.time", "conversation": conversation, "seconds": 99})
    assert eve.receive_type("error")["code"] == "not_in_conversation"
    eve.send({"type": "reveal", "conversation": conversation})
    assert eve.receive_type("error")["code"] == "not_in_conversation"
    # A count that cannot be a count is refused.
    for seconds in (-1, 100_000, "12"):
        ana.send({"type": "talk.time", "conversation": conversation, "seconds": seconds})
        assert ana.receive_type("error")["code"] == "bad_frame"
    # Ben heard none of it: the next frame he gets is Ana's real count.
    ana.send({"type": "talk.time", "conversation": conversation, "seconds": 2})
    assert ben.receive_type("talk.time")["seconds"] == 2


@pytest.mark.django_db(transaction=True)
def test_reveal_reaches_the_partner_and_is_saved(live_server: LiveServer, sphere: Sphere) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, for_ben = match(ana, ben, sphere.pk)
    assert found["soft_start"] is True and for_ben["soft_start"] is True
    conversation = found["conversation"]
    ana.send({"type": "reveal", "conversation": conversation})
    assert ben.receive_type("call.revealed") == {
        "type": "call.revealed",
        "conversation": conversation,
    }
    side = Participant.objects.get(conversation__public_id=conversation, user=ana.user)
    assert side.revealed_at is not None


# The profile setting ---------------------------------------------------------------


@pytest.mark.django_db
def test_soft_start_is_on_by_default_and_can_be_turned_off_on_the_profile_page() -> None:
    ana = make_member("ana@example.com")
    client = Client()
    client.force_login(ana)
    page = client.get(reverse("accounts:profile"))
    assert page.status_code == 200
    assert "Soft start with someone new" in page.content.decode()
    assert 'name="soft_start"' in page.content.decode()
    assert Profile.objects.get(user=ana).soft_start is True

    saved = client.post(reverse("accounts:profile"), {"form": "calls"}, follow=True)
    assert "Your call choices are saved." in saved.content.decode()
    assert Profile.objects.get(user=ana).soft_start is False
    client.post(reverse("accounts:profile"), {"form": "calls", "soft_start": "on"})
    assert Profile.objects.get(user=ana).soft_start is True
