"""Call now: who may be rung, and how a ring ends (accepted, declined, missed, cancelled), once."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatspheres.accounts.models import User
from chatspheres.calls.events import MatchFound
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_start
from chatspheres.common.errors import ApplicationError, NotFound, PermissionDenied
from chatspheres.common.events import Captured, ToMember, ToTab
from chatspheres.connections.models import Ring
from chatspheres.connections.rings import (
    RING_SECONDS,
    RingIncoming,
    RingRinging,
    RingStopped,
    any_ring_due,
    ring_accept,
    ring_cancel,
    ring_decline,
    ring_start,
    rings_cancel_for_tab,
    rings_expire,
)
from chatspheres.notifications.models import Notification
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_upsert
from tests.conftest import make_member
from tests.connections.helpers import connect, handle_of, set_last_seen, set_online, talk

pytestmark = pytest.mark.django_db


@pytest.fixture
def garden() -> Sphere:
    return sphere_upsert(slug="garden", name="Garden", tagline="", description="")


@pytest.fixture
def ana(sphere: Sphere) -> User:
    return make_member("ana@example.com", name="Ana", interests=("books", "jazz"))


@pytest.fixture
def ben(sphere: Sphere, garden: Sphere, ana: User) -> User:
    ben = make_member("ben@example.com", name="Ben", interests=("jazz", "chess"))
    talk(garden, ana, ben)
    connect(sphere, ana, ben)  # they last met in Book Club
    set_online(ben)
    return ben


def stopped_for(sent: Captured, target: ToTab | ToMember) -> list[tuple[str, str]]:
    return [(e.reason, e.message) for e in sent.to(target) if isinstance(e, RingStopped)]


def test_a_ring_rings_every_tab_of_the_callee_for_30_seconds_from_where_they_last_met(
    ana: User, ben: User, sphere: Sphere, sent_events: Captured
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    assert ring.state == Ring.State.PENDING and ring.sphere_id == sphere.pk
    assert ring.expires_at - ring.created == pytest.approx(
        timedelta(seconds=RING_SECONDS), abs=timedelta(seconds=1)
    )
    (incoming,) = sent_events.to(ToMember(ben.pk))
    assert isinstance(incoming, RingIncoming)
    assert (incoming.caller.name, incoming.caller.handle) == ("Ana", handle_of(ana))
    assert (incoming.sphere, incoming.seconds) == ("Book Club", RING_SECONDS)
    (ringing,) = sent_events.to(ToTab(ana.pk, "ana-tab"))
    assert isinstance(ringing, RingRinging) and ringing.callee.name == "Ben"


def test_only_a_connection_can_be_rung(ana: User, ben: User, sphere: Sphere) -> None:
    cleo = make_member("cleo@example.com", name="Cleo")
    talk(sphere, ana, cleo, a_rating="good", b_rating="good")
    set_online(cleo)
    stranger = make_member("dev@example.com", name="Dev")
    set_online(stranger)
    with pytest.raises(PermissionDenied) as refused:
        ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle_of(cleo))
    assert refused.value.code == "not_connected"
    for handle in (handle_of(stranger), "nobody-has-this", handle_of(ana)):
        with pytest.raises(NotFound) as missing:
            ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle)
        assert missing.value.code == "no_such_person"
    assert not Ring.objects.exists()


def test_someone_offline_or_in_a_call_is_not_rung_and_the_caller_is_told_why(
    ana: User, ben: User, sphere: Sphere
) -> None:
    set_last_seen(ben, days_ago=1)
    with pytest.raises(ApplicationError) as offline:
        ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle_of(ben))
    assert (offline.value.code, offline.value.message) == (
        "callee_offline",
        "Ben isn't online right now.",
    )

    set_online(ben)
    cleo = make_member("cleo@example.com", name="Cleo")
    conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ben.pk,
        a_tab="b1",
        b_user_id=cleo.pk,
        b_tab="c1",
        shared_interests=[],
    )
    with pytest.raises(ApplicationError) as busy:
        ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle_of(ben))
    assert (busy.value.code, busy.value.message) == ("callee_busy", "Ben is in a call right now.")
    assert not Ring.objects.exists()


def test_someone_already_ringing_or_being_rung_is_busy(
    ana: User, ben: User, sphere: Sphere
) -> None:
    cleo = make_member("cleo@example.com", name="Cleo")
    connect(sphere, cleo, ben)
    set_online(cleo)
    ring_start(caller_id=cleo.pk, caller_tab="cleo-tab", callee_handle=handle_of(ben))
    with pytest.raises(ApplicationError) as busy:
        ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle_of(ben))
    assert busy.value.code == "callee_busy"


def test_a_caller_in_a_call_cannot_ring(ana: User, ben: User, sphere: Sphere) -> None:
    cleo = make_member("cleo@example.com")
    conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana.pk,
        a_tab="a1",
        b_user_id=cleo.pk,
        b_tab="c1",
        shared_interests=[],
    )
    with pytest.raises(ApplicationError) as refused:
        ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle_of(ben))
    assert refused.value.code == "already_in_call"


def test_ringing_again_stops_the_callers_earlier_ring(
    ana: User, ben: User, sent_events: Captured
) -> None:
    first = ring_start(caller_id=ana.pk, caller_tab="old-tab", callee_handle=handle_of(ben))
    second = ring_start(caller_id=ana.pk, caller_tab="new-tab", callee_handle=handle_of(ben))
    first.refresh_from_db()
    assert (first.state, second.state) == (Ring.State.CANCELLED, Ring.State.PENDING)
    assert stopped_for(sent_events, ToMember(ben.pk)) == [("cancelled", "")]


def test_accepting_starts_a_direct_conversation_between_the_two_tabs_in_the_sphere(
    ana: User, ben: User, sphere: Sphere, sent_events: Captured
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    # They talked moments ago: the no-repeat rule is for random matching only.
    conversation = ring_accept(callee_id=ben.pk, callee_tab="ben-answer", public_id=ring.public_id)
    assert conversation.kind == Conversation.Kind.DIRECT
    assert (conversation.user_a_id, conversation.user_b_id, conversation.sphere_id) == (
        ana.pk,
        ben.pk,
        sphere.pk,
    )
    for_ana = [e for e in sent_events.to(ToTab(ana.pk, "ana-tab")) if isinstance(e, MatchFound)]
    for_ben = [e for e in sent_events.to(ToTab(ben.pk, "ben-answer")) if isinstance(e, MatchFound)]
    assert (for_ana[0].polite, for_ben[0].polite) == (False, True)
    assert for_ana[0].shared_interests == ["jazz"]
    assert stopped_for(sent_events, ToMember(ben.pk)) == [("accepted", "")]
    ring.refresh_from_db()
    assert (ring.state, ring.conversation_id) == (Ring.State.ACCEPTED, conversation.pk)
    for late in (
        lambda: ring_accept(callee_id=ben.pk, callee_tab="other", public_id=ring.public_id),
        lambda: ring_decline(callee_id=ben.pk, public_id=ring.public_id),
        lambda: ring_cancel(caller_id=ana.pk, public_id=ring.public_id),
    ):
        with pytest.raises(ApplicationError) as over:
            late()
        assert over.value.code == "ring_over"


def test_declining_tells_the_caller_the_callee_cant_talk(
    ana: User, ben: User, sent_events: Captured
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    ring_decline(callee_id=ben.pk, public_id=ring.public_id)
    assert stopped_for(sent_events, ToTab(ana.pk, "ana-tab")) == [
        ("declined", "Ben can't talk right now.")
    ]
    assert stopped_for(sent_events, ToMember(ben.pk)) == [("declined", "")]
    assert not Notification.objects.filter(kind=Notification.Kind.MISSED_RING).exists()


def test_only_the_callee_answers_and_only_the_caller_cancels(ana: User, ben: User) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    with pytest.raises(NotFound):
        ring_accept(callee_id=ana.pk, callee_tab="x", public_id=ring.public_id)
    with pytest.raises(NotFound):
        ring_decline(callee_id=ana.pk, public_id=ring.public_id)
    with pytest.raises(ApplicationError):
        ring_cancel(caller_id=ben.pk, public_id=ring.public_id)
    ring.refresh_from_db()
    assert ring.state == Ring.State.PENDING


def test_a_cancelled_ring_and_a_closed_caller_page_stop_every_tab_ringing(
    ana: User, ben: User, sent_events: Captured
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    ring_cancel(caller_id=ana.pk, public_id=ring.public_id)
    assert stopped_for(sent_events, ToMember(ben.pk)) == [("cancelled", "Ana stopped calling.")]
    again = ring_start(caller_id=ana.pk, caller_tab="ana-tab-2", callee_handle=handle_of(ben))
    assert rings_cancel_for_tab(caller_tab="ana-tab-2") == 1
    again.refresh_from_db()
    assert again.state == Ring.State.CANCELLED
    assert rings_cancel_for_tab(caller_tab="ana-tab-2") == 0


def test_a_ring_nobody_answers_is_missed_once_and_the_callee_is_notified(
    ana: User, ben: User, sent_events: Captured
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    assert rings_expire() == 0
    later = timezone.now() + timedelta(seconds=RING_SECONDS)
    assert not any_ring_due() and any_ring_due(now=later)
    assert rings_expire(now=later) == 1
    assert rings_expire(now=later) == 0  # a second process finds nothing left to do
    ring.refresh_from_db()
    assert ring.state == Ring.State.MISSED
    assert stopped_for(sent_events, ToTab(ana.pk, "ana-tab")) == [("missed", "Ben didn't answer.")]
    assert stopped_for(sent_events, ToMember(ben.pk)) == [("missed", "You missed a call from Ana.")]
    (missed,) = Notification.objects.filter(recipient=ben, kind=Notification.Kind.MISSED_RING)
    assert (missed.kind, missed.actor_id) == (Notification.Kind.MISSED_RING, ana.pk)
    with pytest.raises(ApplicationError):
        ring_accept(callee_id=ben.pk, callee_tab="late", public_id=ring.public_id)


ACTIONS = st.lists(
    st.sampled_from(["accept", "decline", "cancel", "expire", "close"]), min_size=1, max_size=6
)


# Every example runs in a savepoint rolled back afterwards: the members stay, each ring goes.
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(actions=ACTIONS)
def test_a_ring_leaves_pending_exactly_once_whatever_happens_in_whatever_order(
    ana: User, ben: User, actions: list[str]
) -> None:
    savepoint = transaction.savepoint()
    cache.clear()  # each example is a first ring, never over the ring limit
    try:
        ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
        attempts = {
            "accept": lambda: ring_accept(
                callee_id=ben.pk, callee_tab="ben-tab", public_id=ring.public_id
            ),
            "decline": lambda: ring_decline(callee_id=ben.pk, public_id=ring.public_id),
            "cancel": lambda: ring_cancel(caller_id=ana.pk, public_id=ring.public_id),
            "expire": lambda: rings_expire(now=timezone.now() + timedelta(seconds=RING_SECONDS)),
            "close": lambda: rings_cancel_for_tab(caller_tab="ana-tab"),
        }
        final = {
            "accept": "accepted",
            "decline": "declined",
            "cancel": "cancelled",
            "expire": "missed",
            "close": "cancelled",
        }
        first_change: str | None = None
        for action in actions:
            before = Ring.objects.get(pk=ring.pk).state
            try:
                attempts[action]()
            except ApplicationError as refusal:
                assert refusal.code == "ring_over" and before != Ring.State.PENDING
            after = Ring.objects.get(pk=ring.pk).state
            if before == Ring.State.PENDING:
                assert after == final[action]
                first_change = first_change or final[action]
            else:
                assert after == before  # a ring that stopped never changes again
        assert Ring.objects.get(pk=ring.pk).state == first_change
        assert Conversation.objects.filter(kind=Conversation.Kind.DIRECT).count() == (
            first_change == "accepted"
        )
        missed = Notification.objects.filter(kind=Notification.Kind.MISSED_RING).count()
        assert missed == (first_change == "missed")
    finally:
        transaction.savepoint_rollback(savepoint)


# ---------------------------------------------------------------- the pages


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def call_config(html: str) -> dict[str, object]:
    found = re.search(r'<script id="call-config" type="application/json">(.*?)</script>', html)
    assert found is not None
    return dict(json.loads(found.group(1)))


def test_call_now_opens_the_call_page_calling_a_connection_in_the_sphere_they_last_met(
    ana: User, ben: User, sphere: Sphere
) -> None:
    page = signed_in(ana).get(reverse("calls:call_now", kwargs={"handle": handle_of(ben)}))
    text = page.content.decode()
    assert page.status_code == 200
    assert "Calling Ben…" in text and "where you last met" in text
    config = call_config(text)
    assert config["sphere"] == sphere.pk
    assert config["direct"] == {"mode": "call", "handle": handle_of(ben), "name": "Ben"}
    assert not Ring.objects.exists()  # the page's socket starts the ring


def test_call_now_is_404_for_strangers_and_says_why_for_a_non_connection(
    ana: User, ben: User, sphere: Sphere
) -> None:
    cleo = make_member("cleo@example.com", name="Cleo")
    stranger = make_member("dev@example.com", name="Dev")
    talk(sphere, ana, cleo)
    client = signed_in(ana)
    for handle in (handle_of(stranger), "nobody-has-this"):
        assert client.get(reverse("calls:call_now", kwargs={"handle": handle})).status_code == 404
    answer = client.get(reverse("calls:call_now", kwargs={"handle": handle_of(cleo)}), follow=True)
    assert "You can call only your connections" in answer.content.decode()
    assert (
        Client().get(reverse("calls:call_now", kwargs={"handle": handle_of(ben)})).status_code
        == 302
    )


def test_the_answering_page_answers_a_ring_that_still_rings_and_no_other(
    ana: User, ben: User, sphere: Sphere
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-tab", callee_handle=handle_of(ben))
    url = reverse("calls:call_answer", kwargs={"ring": ring.public_id})
    page = signed_in(ben).get(url)
    assert "Connecting you with Ana…" in page.content.decode()
    assert call_config(page.content.decode())["direct"] == {
        "mode": "answer",
        "ring": ring.public_id,
        "handle": handle_of(ana),
        "name": "Ana",
    }
    # Only the callee answers: the caller, or anyone else, finds nothing there.
    assert signed_in(ana).get(url).status_code == 404
    ring_decline(callee_id=ben.pk, public_id=ring.public_id)
    late = signed_in(ben).get(url, follow=True)
    assert "Ana's call has ended." in html.unescape(late.content.decode())
