"""Making conversation history and presence for connections tests, through the services."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta

from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_reflect, conversation_start
from chatspheres.connections.services import bond_recount
from chatspheres.presence.models import Presence
from chatspheres.spheres.models import Sphere

_tabs = itertools.count()


def talk(
    sphere: Sphere,
    a: User,
    b: User,
    *,
    a_rating: str = "",
    b_rating: str = "",
    days_ago: float | None = None,
) -> Conversation:
    """A whole conversation between a and b: started, ended, rated as given."""
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab=f"tab-{next(_tabs)}",
        b_user_id=b.pk,
        b_tab=f"tab-{next(_tabs)}",
        shared_interests=[],
    )
    conversation_end(conversation=conversation, by_user_id=a.pk, reason="ended")
    if days_ago is not None:
        past = timezone.now() - timedelta(days=days_ago)
        Conversation.objects.filter(pk=conversation.pk).update(started_at=past)
        conversation.participants.update(created=past)
    conversation.refresh_from_db()
    for user, rating in ((a, a_rating), (b, b_rating)):
        if rating:
            conversation_reflect(conversation=conversation, user_id=user.pk, rating=rating)
    if days_ago is not None:
        # The pair was counted at the start with the real time; count again with the past one.
        bond_recount(user_id=a.pk, other_id=b.pk)
    return conversation


def set_online(user: User, sphere: Sphere | None = None) -> None:
    """The member has a tab open now (looking at ``sphere``)."""
    now = timezone.now()
    Presence.objects.update_or_create(
        user_id=user.pk,
        defaults={
            "online_until": now + timedelta(minutes=1),
            "sphere": sphere,
            "last_seen": now,
        },
    )


def set_last_seen(user: User, *, days_ago: float) -> None:
    """The member's tabs all closed ``days_ago`` days ago."""
    then = timezone.now() - timedelta(days=days_ago)
    Presence.objects.update_or_create(
        user_id=user.pk, defaults={"online_until": then, "sphere": None, "last_seen": then}
    )


def handle_of(user: User) -> str:
    user.profile.refresh_from_db()
    return user.profile.handle


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="[^"]+"')


def without_tokens(html: bytes) -> str:
    """A page with its CSRF tokens blanked, so two renderings can be compared."""
    return _CSRF.sub('name="csrfmiddlewaretoken" value=""', html.decode())


def text_of(html: bytes) -> str:
    """The words of a page, whitespace collapsed, entities for quotes undone."""
    words = re.sub(r"<[^>]+>", " ", html.decode())
    words = words.replace("&#x27;", "'").replace("&quot;", '"').replace("&amp;", "&")
    return " ".join(words.split())


def quick_member(email: str, name: str) -> User:
    """A member with just a profile (no interests, no spheres): cheap for property tests."""
    from chatspheres.accounts.services import profile_create

    user = User.objects.create_user(email=email, password="a-long-test-password")
    profile_create(user=user, display_name=name, adult_confirmed=True)
    return user


def direct_call(sphere: Sphere, a: User, b: User) -> Conversation:
    """A direct call ("Call now", or "Join" on a plan) between a and b, started now."""
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab=f"tab-{next(_tabs)}",
        b_user_id=b.pk,
        b_tab=f"tab-{next(_tabs)}",
        shared_interests=[],
        kind=Conversation.Kind.DIRECT,
    )


def connect(sphere: Sphere, first: User, second: User) -> None:
    """Make two people connections: a good call, and both want to talk again."""
    from chatspheres.connections.services import talk_again_wish

    talk(sphere, first, second, a_rating="good", b_rating="good")
    talk_again_wish(wisher_id=first.pk, about_id=second.pk)
    talk_again_wish(wisher_id=second.pk, about_id=first.pk)
