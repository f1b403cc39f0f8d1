"""Block: silent, immediate, both ways; what it ends and what it refuses afterwards."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from chatspheres.accounts.models import PresenceAudience, Profile, User
from chatspheres.calls.events import CallEnded
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_start
from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.common.events import Captured, ToTab
from chatspheres.common.ratelimit import RateLimited
from chatspheres.connections.models import Bond, Follow, Ring, TalkAgainWish
from chatspheres.connections.rings import RingStopped, ring_start
from chatspheres.connections.selectors import access_person, people_page, visible_presence
from chatspheres.connections.services import follow_create, talk_again_wish
from chatspheres.matching.selectors import queue_request_for, waiting_hint_for
from chatspheres.notifications.models import Notification
from chatspheres.safety.models import Block
from chatspheres.safety.selectors import blocked_ids_for, is_blocked_between
from chatspheres.safety.services import block_create, block_remove
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import handle_of, set_online, talk, text_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def ana(sphere: Sphere) -> User:
    return make_member("ana@example.com", name="Ana", spheres=(sphere,))


@pytest.fixture
def ben(sphere: Sphere, ana: User) -> User:
    """Ana's connection: they talked, follow each other, both wished, and Ben is online."""
    ben = make_member("ben@example.com", name="Ben", spheres=(sphere,))
    talk(sphere, ana, ben, a_rating="good", b_rating="good")
    for me, other in ((ana, ben), (ben, ana)):
        follow_create(follower_id=me.pk, followee_id=other.pk)
        talk_again_wish(wisher_id=me.pk, about_id=other.pk)
        Profile.objects.filter(user=me).update(presence_visible_to=PresenceAudience.CONNECTIONS)
    set_online(ana, sphere)
    set_online(ben, sphere)
    return ben


def in_call(sphere: Sphere, a: User, b: User) -> Conversation:
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab="ana-tab",
        b_user_id=b.pk,
        b_tab="ben-tab",
        shared_interests=[],
    )


def test_blocking_mid_call_ends_it_at_once_and_the_blocked_person_sees_an_ordinary_end(
    sphere: Sphere, ana: User, ben: User, sent_events: Captured
) -> None:
    conversation = in_call(sphere, ana, ben)
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ENDED
    assert conversation.end_reason == Conversation.EndReason.ENDED
    (to_ben,) = [e for e in sent_events.to(ToTab(ben.pk, "ben-tab")) if isinstance(e, CallEnded)]
    # Exactly what Ben sees when Ana presses End call: nothing says "blocked".
    assert (to_ben.reason, to_ben.by_me) == ("ended", False)
    (to_ana,) = [e for e in sent_events.to(ToTab(ana.pk, "ana-tab")) if isinstance(e, CallEnded)]
    assert to_ana.by_me is True
    assert (
        not Notification.objects.filter(recipient=ben)
        .exclude(kind__in=[Notification.Kind.NEW_FOLLOWER, Notification.Kind.CONNECTION_MADE])
        .exists()
    )


def test_a_block_ends_follows_wishes_and_the_connection_both_ways(ana: User, ben: User) -> None:
    block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    assert not Follow.objects.filter(follower__in=[ana, ben]).exists()
    assert not TalkAgainWish.objects.filter(wisher__in=[ana, ben]).exists()
    assert not Bond.objects.filter(user__in=[ana, ben], connected_at__isnull=False).exists()
    assert is_blocked_between(ana.pk, ben.pk) and is_blocked_between(ben.pk, ana.pk)
    assert blocked_ids_for(ana.pk) == {ben.pk} and blocked_ids_for(ben.pk) == {ana.pk}


@pytest.mark.parametrize("blocker", ["caller", "callee"])
def test_a_block_stops_a_ring_either_way_and_the_blocked_side_hears_only_an_ordinary_stop(
    ana: User, ben: User, sent_events: Captured, blocker: str
) -> None:
    ring = ring_start(caller_id=ana.pk, caller_tab="ana-ring", callee_handle=handle_of(ben))
    if blocker == "callee":
        block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    else:
        block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    ring.refresh_from_db()
    assert ring.state != Ring.State.PENDING
    stops = [e for e in sent_events.to(ToTab(ana.pk, "ana-ring")) if isinstance(e, RingStopped)]
    if blocker == "callee":
        # Ana, blocked, is told what a decline tells her.
        assert [(s.reason, s.message) for s in stops] == [("declined", "Ben can't talk right now.")]
    else:
        assert [(s.reason, s.message) for s in stops] == [("cancelled", "")]


@pytest.mark.parametrize("direction", ["blocker", "blocked"])
def test_afterwards_neither_can_follow_wish_ring_or_see_the_others_page(
    ana: User, ben: User, direction: str
) -> None:
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    me, other = (ana, ben) if direction == "blocker" else (ben, ana)
    for attempt in (
        lambda: follow_create(follower_id=me.pk, followee_id=other.pk),
        lambda: talk_again_wish(wisher_id=me.pk, about_id=other.pk),
        lambda: ring_start(caller_id=me.pk, caller_tab="t", callee_handle=handle_of(other)),
        lambda: access_person(viewer_id=me.pk, handle=handle_of(other)),
    ):
        with pytest.raises(NotFound) as refused:
            attempt()
        assert refused.value.message == "There is no such person."
    client = Client()
    client.force_login(me)
    page = client.get(reverse("connections:person", kwargs={"handle": handle_of(other)}))
    assert page.status_code == 404


def test_each_ones_presence_is_hidden_from_the_other(ana: User, ben: User) -> None:
    assert visible_presence(viewer_id=ana.pk, user_ids=[ben.pk])[ben.pk] is not None
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    # Their settings would show it (follows, connection); the block wins, both ways.
    Profile.objects.update(presence_visible_to=PresenceAudience.FOLLOWING)
    Follow.objects.create(follower=ana, followee=ben)
    Follow.objects.create(follower=ben, followee=ana)
    assert visible_presence(viewer_id=ana.pk, user_ids=[ben.pk]) == {ben.pk: None}
    assert visible_presence(viewer_id=ben.pk, user_ids=[ana.pk]) == {ana.pk: None}


def test_the_queue_excludes_a_blocked_pair_both_ways_and_the_hint_never_counts_them(
    sphere: Sphere, ana: User, ben: User
) -> None:
    block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    assert ben.pk in queue_request_for(user_id=ana.pk, sphere_id=sphere.pk).excluded
    assert ana.pk in queue_request_for(user_id=ben.pk, sphere_id=sphere.pk).excluded
    hint = waiting_hint_for(user_id=ana.pk, partner_ids=[ben.pk])
    assert (hint.recent_partners, hint.call_now) == (0, [])


def test_people_keeps_the_history_row_without_a_link_or_presence(ana: User, ben: User) -> None:
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    page = people_page(viewer_id=ana.pk, pages={})
    sections = {section.key: section for section in page.sections}
    for key in ("connections", "following", "followers"):
        assert sections[key].rows == []
    (row,) = sections["history"].rows
    assert (row.person.name, row.person.url, row.person.presence) == ("Ben", "", None)  # type: ignore[union-attr]
    assert row.person.blocked  # type: ignore[union-attr]


def test_unblocking_lets_them_meet_again_but_brings_nothing_back(
    sphere: Sphere, ana: User, ben: User
) -> None:
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    # Only the blocker can lift a block.
    assert block_remove(blocker_id=ben.pk, blocked_id=ana.pk) is False
    assert is_blocked_between(ana.pk, ben.pk)
    assert block_remove(blocker_id=ana.pk, blocked_id=ben.pk) is True
    assert not is_blocked_between(ana.pk, ben.pk)
    assert ben.pk not in queue_request_for(user_id=ana.pk, sphere_id=sphere.pk).excluded
    access_person(viewer_id=ana.pk, handle=handle_of(ben))
    assert not Follow.objects.exists() and not TalkAgainWish.objects.exists()


def test_blocking_twice_is_one_block_and_oneself_is_refused(ana: User, ben: User) -> None:
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    assert Block.objects.count() == 1
    with pytest.raises(ApplicationError) as refused:
        block_create(blocker_id=ana.pk, blocked_id=ana.pk)
    assert refused.value.message == "That is you."


@pytest.mark.parametrize(
    ("action", "limit"),
    [("block", "block"), ("follow", "follow"), ("wish", "talk_again"), ("ring", "ring")],
)
def test_our_rate_limits_cover_blocks_follows_wishes_and_rings(
    settings: Any, sphere: Sphere, ana: User, ben: User, action: str, limit: str
) -> None:
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, limit: "1/h"}
    cache.clear()  # the set-up's own follows and wishes do not count
    do = {
        "block": lambda: block_create(blocker_id=ana.pk, blocked_id=ben.pk),
        "follow": lambda: follow_create(follower_id=ana.pk, followee_id=ben.pk),
        "wish": lambda: talk_again_wish(wisher_id=ana.pk, about_id=ben.pk),
        "ring": lambda: ring_start(caller_id=ana.pk, caller_tab="t", callee_handle=handle_of(ben)),
    }[action]
    do()
    with pytest.raises(RateLimited) as limited:
        do()
    assert limited.value.code == "rate_limited"
    assert limited.value.message.startswith("You've done that too often. Please try again in")


# ---------------------------------------------------------------- the pages


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_block_asks_to_confirm_without_javascript_then_says_so_only_to_the_blocker(
    ana: User, ben: User
) -> None:
    client = signed_in(ana)
    url = reverse("safety:block", kwargs={"handle": handle_of(ben)})
    people = reverse("connections:people")
    confirm = client.get(url, {"next": people})
    assert "Block Ben?" in text_of(confirm.content)
    assert "Ben won't be told." in text_of(confirm.content)
    assert not Block.objects.exists()
    done = client.post(url, {"next": people}, follow=True)
    assert done.redirect_chain[-1][0] == people
    assert "You blocked Ben. They won't be told." in text_of(done.content)
    assert Block.objects.filter(blocker=ana, blocked=ben).exists()


def test_block_answers_the_call_pages_fetch_in_json(ana: User, ben: User) -> None:
    answer = signed_in(ana).post(
        reverse("safety:block", kwargs={"handle": handle_of(ben)}),
        HTTP_ACCEPT="application/json",
    )
    assert answer.json() == {"blocked": True, "message": "You blocked Ben. They won't be told."}


def test_only_people_one_has_met_can_be_blocked(sphere: Sphere, ana: User) -> None:
    stranger = make_member("cleo@example.com", name="Cleo")
    client = signed_in(ana)
    for handle in (handle_of(stranger), "nobody-has-this", handle_of(ana)):
        for name in ("safety:block", "safety:report"):
            page = client.get(reverse(name, kwargs={"handle": handle}))
            assert page.status_code == 404
    assert (
        client.post(reverse("safety:block", kwargs={"handle": handle_of(stranger)})).status_code
        == 404
    )
    assert not Block.objects.exists()


def test_the_profile_lists_blocked_people_with_unblock(ana: User, ben: User) -> None:
    client = signed_in(ana)
    profile = reverse("accounts:profile")
    assert "You haven't blocked anyone." in text_of(client.get(profile).content)
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    page = text_of(client.get(profile).content)
    assert "Blocked people" in page and "Ben Unblock Ben" in page
    # Ben's own profile does not say that Ana blocked him.
    assert "You haven't blocked anyone." in text_of(signed_in(ben).get(profile).content)
    done = client.post(
        reverse("safety:unblock", kwargs={"handle": handle_of(ben)}), {"next": profile}, follow=True
    )
    assert "You unblocked Ben." in text_of(done.content)
    assert not Block.objects.exists()


def test_block_and_report_are_on_a_persons_page_and_on_people(ana: User, ben: User) -> None:
    client = signed_in(ana)
    person = client.get(reverse("connections:person", kwargs={"handle": handle_of(ben)}))
    for words in ("Report Ben", "Block Ben", "Send report"):
        assert words in text_of(person.content)
    people = text_of(client.get(reverse("connections:people")).content)
    assert people.count("Block Ben") >= 3  # connections, following, followers, history rows


def test_after_the_call_the_blocked_persons_screen_looks_as_after_any_call(
    sphere: Sphere, ana: User, ben: User
) -> None:
    conversation = in_call(sphere, ana, ben)
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)

    def after(viewer: User, other: User) -> Any:
        return signed_in(viewer).get(
            reverse(
                "connections:after_conversation",
                kwargs={"handle": handle_of(other), "public_id": conversation.public_id},
            )
        )

    assert after(ben, ana).json() == {
        "following": False,
        "wished": False,
        "connected": False,
        "note": None,
    }
    # Ana, who blocked, has nothing to keep in touch with.
    assert after(ana, ben).status_code == 404
