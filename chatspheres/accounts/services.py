"""Writes to members' accounts and profiles."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from chatspheres.accounts.models import MAX_INTERESTS, Interest, Profile, User
from chatspheres.common.errors import NOT_ADULT, TOO_MANY_INTERESTS, ApplicationError


def _valid_time_zone(name: str) -> str:
    return name if name in zoneinfo.available_timezones() else "UTC"


@transaction.atomic
def profile_create(
    *, user: User, display_name: str, adult_confirmed: bool, time_zone: str = "UTC"
) -> Profile:
    """Give a new member the profile others will see."""
    if not adult_confirmed:
        raise ApplicationError("ChatSpheres is for people 18 or older.", code=NOT_ADULT)
    return Profile.objects.create(
        user=user,
        display_name=display_name.strip(),
        time_zone=_valid_time_zone(time_zone),
        adult_confirmed_at=timezone.now(),
    )


@transaction.atomic
def profiles_ensure(*, user_ids: Iterable[int]) -> dict[int, Profile]:
    """The profiles of these members, made for accounts that have none.

    An account made outside sign-up (``createsuperuser``, the admin) has no
    profile yet; it still works as a member, named after its email address
    until its owner picks a name.
    """
    wanted = set(user_ids)
    profiles = {profile.user_id: profile for profile in Profile.objects.filter(user_id__in=wanted)}
    for user in User.objects.filter(pk__in=wanted - profiles.keys()):
        profiles[user.pk], _created = Profile.objects.get_or_create(
            user=user,
            defaults={"display_name": (user.email.split("@")[0] or "Member")[:50]},
        )
    return profiles


def interests_normalize(names: Iterable[str]) -> list[str]:
    """Distinct normalized interest names, in the order given."""
    seen: dict[str, None] = {}
    for name in names:
        normalized = Interest.normalize(name)
        if normalized:
            seen.setdefault(normalized, None)
    return list(seen)


@transaction.atomic
def profile_update(
    *, profile: Profile, display_name: str, bio: str, interests: Iterable[str], time_zone: str
) -> Profile:
    """Change what others see of a member, and their time zone."""
    names = interests_normalize(interests)
    if len(names) > MAX_INTERESTS:
        raise ApplicationError(f"Pick at most {MAX_INTERESTS} interests.", code=TOO_MANY_INTERESTS)
    profile.display_name = display_name.strip()
    profile.bio = bio.strip()
    profile.time_zone = _valid_time_zone(time_zone)
    profile.save(update_fields=["display_name", "bio", "time_zone", "updated"])
    profile.interests.set(interests_ensure(names=names))
    return profile


@transaction.atomic
def interests_ensure(*, names: Iterable[str]) -> list[Interest]:
    """The interests with these names, creating the ones nobody picked before."""
    wanted = interests_normalize(names)
    Interest.objects.bulk_create([Interest(name=name) for name in wanted], ignore_conflicts=True)
    return list(Interest.objects.filter(name__in=wanted))
