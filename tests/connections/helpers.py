"""Making conversation history for connections tests, through the calls services."""

from __future__ import annotations

import itertools
from datetime import datetime

from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_reflect, conversation_start
from chatspheres.spheres.models import Sphere

_tabs = itertools.count()


def talk(
    sphere: Sphere,
    a: User,
    b: User,
    *,
    a_rating: str = "",
    b_rating: str = "",
    started_at: datetime | None = None,
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
    if started_at is not None:
        Conversation.objects.filter(pk=conversation.pk).update(started_at=started_at)
        conversation.participants.update(created=started_at)
    conversation.refresh_from_db()
    for user, rating in ((a, a_rating), (b, b_rating)):
        if rating:
            conversation_reflect(conversation=conversation, user_id=user.pk, rating=rating)
    if started_at is not None:
        # The recount ran at start with the real time; count again with the past one.
        from chatspheres.connections.services import bond_recount

        bond_recount(user_id=a.pk, other_id=b.pk)
    return conversation


def handle_of(user: User) -> str:
    return user.profile.handle


def now() -> datetime:
    return timezone.now()
