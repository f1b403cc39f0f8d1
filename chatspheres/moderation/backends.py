"""Sign-in backends that keep suspended and banned people out, as Django keeps out inactive ones.

Django asks the backend twice: when a password is checked (``authenticate``)
and on every request and socket handshake that comes with a session
(``get_user``). Refusing a restricted member in ``user_can_authenticate``
covers both, so a decision ends every session of theirs at once, on every
process, and a suspension that is over lets them back in by itself.

At sign-in allauth still learns whose password it was (it keeps the user its
backend refused), so ``AccountAdapter.pre_login`` can say until when and how to
appeal, instead of "wrong password".
"""

from __future__ import annotations

from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db.models import Exists, OuterRef

from chatspheres.moderation.selectors import (
    MODERATORS_GROUP,
    is_restricted,
    restrictions_in_force,
)

# The annotations get_user adds, so a request costs no query more than before:
# whether a decision keeps the member out, and whether they are in the
# "Moderators" group (the header's "Moderation" link, can_moderate).
RESTRICTED = "moderation_restricted"
MODERATOR = "moderation_moderator"


class _RefusesRestricted:
    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):  # type: ignore[misc]
            return False
        restricted = getattr(user, RESTRICTED, None)
        if restricted is None:
            restricted = is_restricted(user_id=user.pk)
        return not restricted

    def get_user(self, user_id: Any) -> Any:
        user_model = get_user_model()
        user = (
            user_model._default_manager.annotate(
                **{
                    RESTRICTED: Exists(restrictions_in_force().filter(subject_id=OuterRef("pk"))),
                    MODERATOR: Exists(
                        Group.objects.filter(name=MODERATORS_GROUP, user=OuterRef("pk"))
                    ),
                }
            )
            .filter(pk=user_id)
            .first()
        )
        return user if user is not None and self.user_can_authenticate(user) else None


class ModerationAwareModelBackend(_RefusesRestricted, ModelBackend):
    """Django's backend (the admin, tests' force_login), refusing suspended and banned people."""


class ModerationAwareAllauthBackend(_RefusesRestricted, AuthenticationBackend):
    """allauth's backend (sign-in by email), refusing suspended and banned people."""
