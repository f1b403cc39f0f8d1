"""Writes to members' accounts and profiles."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from chatspheres.accounts.handles import handle_normalize, handle_problem, handle_suggest
from chatspheres.accounts.models import (
    MAX_INTERESTS,
    Interest,
    PresenceAudience,
    Profile,
    User,
)
from chatspheres.calls.ice import NO_RELAY_WORDS, relay_available
from chatspheres.common.errors import (
    BAD_HANDLE,
    HANDLE_TAKEN,
    HANDLE_TOO_SOON,
    NO_RELAY,
    NOT_ADULT,
    TOO_MANY_INTERESTS,
    ApplicationError,
)

# How long a member keeps a handle before changing it again: links others
# saved keep working for a while, and nobody can cycle through names.
HANDLE_CHANGE_INTERVAL = timedelta(days=30)


def _valid_time_zone(name: str) -> str:
    return name if name in zoneinfo.available_timezones() else "UTC"


def _handle_taken(handle: str) -> bool:
    return Profile.objects.filter(handle=handle).exists()


def handle_for_new_profile(display_name: str) -> str:
    """A free handle made from a display name (with a short random suffix when taken)."""
    return handle_suggest(display_name, taken=_handle_taken)


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
        handle=handle_for_new_profile(display_name),
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
        display_name = (user.email.split("@")[0] or "Member")[:50]
        profiles[user.pk], _created = Profile.objects.get_or_create(
            user=user,
            defaults={"display_name": display_name, "handle": handle_for_new_profile(display_name)},
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


@transaction.atomic
def profile_handle_change(*, profile: Profile, handle: str) -> Profile:
    """Give a member the handle they chose: valid, free, not reserved, once a month."""
    handle = handle_normalize(handle)
    if handle == profile.handle:
        return profile
    problem = handle_problem(handle)
    if problem is not None:
        raise ApplicationError(problem, code=BAD_HANDLE)
    now = timezone.now()
    if profile.handle_changed_at and now < profile.handle_changed_at + HANDLE_CHANGE_INTERVAL:
        next_change = timezone.localtime(profile.handle_changed_at + HANDLE_CHANGE_INTERVAL)
        raise ApplicationError(
            "You can change your handle once a month. You can change it again on "
            f"{next_change.day} {next_change:%B %Y}.",
            code=HANDLE_TOO_SOON,
        )
    if Profile.objects.filter(handle=handle).exclude(pk=profile.pk).exists():
        raise ApplicationError(f"The handle “{handle}” is taken.", code=HANDLE_TAKEN)
    profile.handle = handle
    profile.handle_changed_at = now
    try:
        with transaction.atomic():
            profile.save(update_fields=["handle", "handle_changed_at", "updated"])
    except IntegrityError as race:
        # Someone took it between the check and the save.
        raise ApplicationError(f"The handle “{handle}” is taken.", code=HANDLE_TAKEN) from race
    return profile


@transaction.atomic
def profile_privacy_update(
    *, profile: Profile, presence_visible_to: str, announce_follows: bool
) -> Profile:
    """Choose who sees when the member is online, and whether follows are announced."""
    profile.presence_visible_to = PresenceAudience(presence_visible_to)
    profile.announce_follows = announce_follows
    profile.save(update_fields=["presence_visible_to", "announce_follows", "updated"])
    return profile


@transaction.atomic
def profile_call_choices_update(
    *, profile: Profile, soft_start: bool, hide_ip: bool | None = None
) -> Profile:
    """Choose whether a first meeting starts softly, and whether calls hide the IP address."""
    profile.soft_start = soft_start
    if hide_ip is not None:
        # Only a relay hides an address: without one, the switch cannot be turned on.
        if hide_ip and not profile.hide_ip and not relay_available():
            raise ApplicationError(NO_RELAY_WORDS, code=NO_RELAY)
        profile.hide_ip = hide_ip
    profile.save(update_fields=["soft_start", "hide_ip", "updated"])
    return profile
