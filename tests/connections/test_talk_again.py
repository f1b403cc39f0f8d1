"""The blind wish to talk again, follows, and what each side is told (services and pages)."""

from __future__ import annotations

import itertools

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatspheres.accounts.models import User
from chatspheres.common.events import Captured
from chatspheres.connections.models import TalkAgainWish
from chatspheres.connections.selectors import are_connected, reflection_state
from chatspheres.connections.services import talk_again_wish, talk_again_withdraw
from chatspheres.notifications.models import Notification
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import quick_member, talk, text_of, without_tokens

pytestmark = pytest.mark.django_db

_emails = itertools.count()


def pair(sphere: Sphere) -> tuple[User, User]:
    """Two members who have talked once."""
    n = next(_emails)
    ana = quick_member(f"ana{n}@example.com", "Ana")
    ben = quick_member(f"ben{n}@example.com", "Ben")
    talk(sphere, ana, ben)
    return ana, ben


# Each step: (who: 0 Ana / 1 Ben, wish: True / take back: False)
steps = st.lists(st.tuples(st.integers(0, 1), st.booleans()), max_size=8)


@given(steps=steps)
@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_two_are_connected_exactly_when_both_wish_and_it_is_symmetric(
    sphere: Sphere, steps: list[tuple[int, bool]]
) -> None:
    people = pair(sphere)
    wishes = [False, False]
    for who, wish in steps:
        me, other = people[who], people[1 - who]
        if wish:
            outcome = talk_again_wish(wisher_id=me.pk, about_id=other.pk)
            # The wisher learns "connected" only when the other wished too.
            assert outcome.connected == wishes[1 - who]
        else:
            talk_again_withdraw(wisher_id=me.pk, about_id=other.pk)
        wishes[who] = wish
        both = wishes[0] and wishes[1]
        assert are_connected(user_id=people[0].pk, other_id=people[1].pk) is both
        assert are_connected(user_id=people[1].pk, other_id=people[0].pk) is both


@given(steps=steps)
@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_wish_is_blind_until_mutual(sphere: Sphere, steps: list[tuple[int, bool]]) -> None:
    """Ben's view of Ana depends on Ana's wish only once both wished."""
    ana, ben = pair(sphere)
    for who, wish in steps:
        if who == 1:
            continue  # only Ana acts; Ben has not wished
        if wish:
            talk_again_wish(wisher_id=ana.pk, about_id=ben.pk)
        else:
            talk_again_withdraw(wisher_id=ana.pk, about_id=ben.pk)
        assert reflection_state(viewer_id=ben.pk, other_id=ana.pk, conversation_id=None) == {
            "following": False,
            "wished": False,
            "connected": False,
            "note": None,
        }
    assert not Notification.objects.filter(recipient=ben).exists()


def ben_sees(client: Client, ana: User) -> list[str]:
    """Everything Ben's pages and responses say about Ana, CSRF tokens aside."""
    handle = ana.profile.handle
    conversation = ana.conversation_sides.get().conversation.public_id
    return [
        without_tokens(client.get("/people/").content),
        without_tokens(client.get(f"/people/{handle}/").content),
        client.get(
            f"/people/{handle}/after/{conversation}/", HTTP_ACCEPT="application/json"
        ).content.decode(),
        client.post(f"/people/{handle}/follow/", HTTP_ACCEPT="application/json").content.decode(),
        client.post(f"/people/{handle}/unfollow/", HTTP_ACCEPT="application/json").content.decode(),
    ]


def test_the_other_side_sees_nothing_of_a_wish_on_any_page(sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    client = Client()
    client.force_login(ben)
    before = ben_sees(client, ana)
    talk_again_wish(wisher_id=ana.pk, about_id=ben.pk)
    assert ben_sees(client, ana) == before
    assert Notification.objects.filter(recipient=ben).count() == 0
    talk_again_withdraw(wisher_id=ana.pk, about_id=ben.pk)
    assert ben_sees(client, ana) == before


def test_both_are_told_when_both_want_to_talk_again(
    client: Client, sphere: Sphere, sent_events: Captured
) -> None:
    ana, ben = pair(sphere)
    conversation = ana.conversation_sides.get().conversation.public_id
    client.force_login(ana)
    first = client.post(
        f"/people/{ben.profile.handle}/talk-again/",
        {"conversation": conversation},
        HTTP_ACCEPT="application/json",
    )
    assert first.json()["connected"] is False
    wish = TalkAgainWish.objects.get(wisher=ana)
    assert wish.conversation is not None and wish.conversation.public_id == conversation

    client.force_login(ben)
    second = client.post(f"/people/{ana.profile.handle}/talk-again/", follow=True)
    assert "You and Ana both want to talk again." in text_of(second.content)
    kinds = sorted(
        Notification.objects.filter(kind="connection_made").values_list("recipient", "actor")
    )
    assert kinds == sorted([(ana.pk, ben.pk), (ben.pk, ana.pk)])
    page = text_of(client.get(f"/people/{ana.profile.handle}/").content)
    assert "You and Ana both want to talk again." in page

    # Saying it again tells nobody twice.
    client.post(f"/people/{ana.profile.handle}/talk-again/")
    assert Notification.objects.filter(kind="connection_made").count() == 2


def test_taking_a_wish_back_ends_the_connection(client: Client, sphere: Sphere) -> None:
    ana, ben = pair(sphere)
    talk_again_wish(wisher_id=ana.pk, about_id=ben.pk)
    talk_again_wish(wisher_id=ben.pk, about_id=ana.pk)
    client.force_login(ana)
    response = client.post(f"/people/{ben.profile.handle}/talk-again/withdraw/", follow=True)
    assert "Taken back." in text_of(response.content)
    assert not are_connected(user_id=ben.pk, other_id=ana.pk)


def test_follow_and_unfollow_tell_the_followee_only_if_the_follower_allows(
    client: Client, sphere: Sphere
) -> None:
    ana, ben = pair(sphere)
    client.force_login(ana)
    response = client.post(f"/people/{ben.profile.handle}/follow/", HTTP_ACCEPT="application/json")
    assert response.json() == {"following": True, "message": "You follow Ben."}
    assert Notification.objects.get(recipient=ben).kind == "new_follower"
    page = text_of(client.get(f"/people/{ben.profile.handle}/").content)
    assert "Unfollow" in page and "You follow Ben." in page

    response = client.post(f"/people/{ben.profile.handle}/unfollow/", follow=True)
    assert "You no longer follow Ben." in text_of(response.content)

    ana.profile.announce_follows = False
    ana.profile.save()
    client.post(f"/people/{ben.profile.handle}/follow/")
    assert Notification.objects.filter(recipient=ben).count() == 1


def test_following_again_after_unfollowing_is_announced_only_once(
    client: Client, sphere: Sphere
) -> None:
    ana, ben = pair(sphere)
    client.force_login(ana)
    for _ in range(3):
        client.post(f"/people/{ben.profile.handle}/follow/")
        client.post(f"/people/{ben.profile.handle}/unfollow/")
    client.post(f"/people/{ben.profile.handle}/follow/")
    assert list(Notification.objects.filter(recipient=ben).values_list("kind", flat=True)) == [
        "new_follower"
    ]


def test_nobody_follows_or_wishes_about_a_stranger_or_themselves(
    client: Client, sphere: Sphere
) -> None:
    ana, _ben = pair(sphere)
    stranger = make_member("zoe@example.com", name="Zoe")
    client.force_login(ana)
    for path in ("follow/", "talk-again/", "notes/"):
        response = client.post(f"/people/{stranger.profile.handle}/{path}", {"text": "hi"})
        assert response.status_code == 404
        response = client.post(
            f"/people/{ana.profile.handle}/{path}", {"text": "hi"}, HTTP_ACCEPT="application/json"
        )
        assert response.status_code == 400
        assert response.json()["error"] == "not_yourself"
