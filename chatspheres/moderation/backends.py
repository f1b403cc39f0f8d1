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

from datetime import datetime
from typing import Any

from allauth.account.auth_backends import AuthenticationBackend
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group
from django.db import router
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from chatspheres.accounts.models import Profile
from chatspheres.common.prepared import PreparedQuery
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

# get_user reads the member's profile in the same query: every page needs it
# (the time zone middleware, the views' ``request.user.profile``).
_PROFILE = "profile__"


def _user_columns() -> list[str]:
    return [field.attname for field in get_user_model()._meta.concrete_fields]


def _profile_columns() -> list[str]:
    return [field.attname for field in Profile._meta.concrete_fields]


def _signed_in(*, user_id: int, now: datetime) -> QuerySet[Any, Any]:
    # Whether a decision is in force is asked of the database at ``now``, the
    # request's own moment: never remembered between requests.
    return (
        get_user_model()
        ._default_manager.filter(pk=user_id)
        .annotate(
            **{
                RESTRICTED: Exists(restrictions_in_force(now).filter(subject_id=OuterRef("pk"))),
                MODERATOR: Exists(Group.objects.filter(name=MODERATORS_GROUP, user=OuterRef("pk"))),
            }
        )
        .values(
            *_user_columns(),
            *(_PROFILE + name for name in _profile_columns()),
            RESTRICTED,
            MODERATOR,
        )
    )


# Compiled once per process and database, run with each request's id and moment.
_SIGNED_IN = PreparedQuery(_signed_in, variables={"user_id": int, "now": datetime})


def _user_from(row: dict[str, Any], *, using: str) -> Any:
    """The user, with their profile (or the lack of one) and both annotations, from one row."""
    user_model = get_user_model()
    user_names = _user_columns()
    user = user_model.from_db(using, user_names, [row[name] for name in user_names])
    setattr(user, RESTRICTED, bool(row[RESTRICTED]))
    setattr(user, MODERATOR, bool(row[MODERATOR]))
    profile = None
    profile_names = _profile_columns()
    if row[_PROFILE + "id"] is not None:
        profile = Profile.from_db(
            using, profile_names, [row[_PROFILE + name] for name in profile_names]
        )
        Profile.user.field.set_cached_value(profile, user)
    # As select_related would: a member without a profile raises on ``user.profile``
    # without another query.
    user_model.profile.related.set_cached_value(user, profile)
    return user


class _RefusesRestricted:
    def user_can_authenticate(self, user: Any) -> bool:
        if not super().user_can_authenticate(user):  # type: ignore[misc]
            return False
        restricted = getattr(user, RESTRICTED, None)
        if restricted is None:
            restricted = is_restricted(user_id=user.pk)
        return not restricted

    def get_user(self, user_id: Any) -> Any:
        try:
            wanted = int(user_id)
        except (TypeError, ValueError):
            return None
        using = router.db_for_read(get_user_model())
        rows = _SIGNED_IN.rows(using=using, user_id=wanted, now=timezone.now())
        if not rows:
            return None
        user = _user_from(rows[0], using=using)
        return user if self.user_can_authenticate(user) else None


class ModerationAwareModelBackend(_RefusesRestricted, ModelBackend):
    """Django's backend (the admin, tests' force_login), refusing suspended and banned people."""


class ModerationAwareAllauthBackend(_RefusesRestricted, AuthenticationBackend):
    """allauth's backend (sign-in by email), refusing suspended and banned people."""
