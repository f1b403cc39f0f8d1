"""People and reports for the moderation tests, made the way the site makes them."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.test import Client

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.moderation.selectors import MODERATORS_GROUP
from chatspheres.safety.models import Report
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member

PASSWORD = "a-long-test-password"


def make_moderator(email: str, *, name: str | None = None) -> User:
    """A member of the "Moderators" group (the data migration made the group)."""
    user = make_member(email, name=name)
    # get_or_create: a transactional test empties the tables the data migration filled.
    user.groups.add(Group.objects.get_or_create(name=MODERATORS_GROUP)[0])
    return user


def talk(sphere: Sphere, first: User, second: User, *, end: bool = True) -> Conversation:
    """A conversation between the two in the sphere, ended unless ``end`` is False."""
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=first.pk,
        a_tab=f"tab-{first.pk}",
        b_user_id=second.pk,
        b_tab=f"tab-{second.pk}",
        shared_interests=[],
    )
    if end:
        conversation_end(conversation=conversation, by_user_id=first.pk, reason="ended")
    return conversation


def make_report(
    reporter: User,
    subject: User,
    *,
    reason: str = Report.Reason.HARASSMENT,
    details: str = "He kept insulting me after I asked him to stop.",
    conversation: Conversation | None = None,
    chat: list[dict[str, str]] | None = None,
) -> Report:
    """A report as the safety app files it (the row; filing itself is safety's to test)."""
    return Report.objects.create(
        reporter=reporter,
        subject=subject,
        subject_label=subject.profile.display_name,
        reason=reason,
        details=details,
        conversation=conversation,
        sphere=conversation.sphere if conversation else None,
        chat_excerpt=chat or [],
    )


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client
