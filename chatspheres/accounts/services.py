"""Writes to members' accounts and profiles."""

from __future__ import annotations

import secrets
import zoneinfo
from collections.abc import Iterable
from datetime import timedelta

from allauth.account.models import EmailAddress
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from chatspheres.accounts.handles import (
    DELETED_HANDLE_PREFIX,
    handle_normalize,
    handle_problem,
    handle_suggest,
)
from chatspheres.accounts.models import (
    DELETED_EMAIL_DOMAIN,
    DELETED_MEMBER_NAME,
    MAX_INTERESTS,
    Interest,
    PresenceAudience,
    Profile,
    User,
)
from chatspheres.accounts.names import display_name_clean
from chatspheres.calls.ice import NO_RELAY_WORDS, relay_available
from chatspheres.calls.models import Participant
from chatspheres.common.errors import (
    BAD_HANDLE,
    HANDLE_TAKEN,
    HANDLE_TOO_SOON,
    NO_RELAY,
    NOT_ADULT,
    TOO_MANY_INTERESTS,
    WRONG_CONFIRMATION,
    ApplicationError,
)
from chatspheres.connections.models import Bond, Follow, Note, Ring, TalkAgainWish
from chatspheres.moderation.models import Appeal, Decision
from chatspheres.notifications.models import Notification, NotificationPreference
from chatspheres.presence.models import Presence
from chatspheres.prompts.models import ProfileAnswer
from chatspheres.safety.models import Block, Report
from chatspheres.spheres.models import Membership, SphereWatch

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


def age_assurance_check(*, request: HttpRequest | None, email: str, adult_confirmed: bool) -> None:
    """Decide whether this person may join on age grounds; the one place a verifier plugs in.

    Today it only checks the self-declared confirmation ("I am 18 or older"),
    which is not age assurance. A site that must verify ages calls its
    provider here (it has the sign-up request and the address given) and
    raises ``ApplicationError`` with the words to show when the answer is no.
    Sign-up runs it for every attempt, whether or not the address is taken.
    """
    if not adult_confirmed:
        raise ApplicationError("ChatSpheres is for people 18 or older.", code=NOT_ADULT)


@transaction.atomic
def profile_create(
    *, user: User, display_name: str, adult_confirmed: bool, time_zone: str = "UTC"
) -> Profile:
    """Give a new member the profile others will see."""
    if not adult_confirmed:
        raise ApplicationError("ChatSpheres is for people 18 or older.", code=NOT_ADULT)
    display_name = display_name_clean(display_name)
    return Profile.objects.create(
        user=user,
        display_name=display_name,
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
    profile.display_name = display_name_clean(display_name)
    profile.bio = bio.strip()
    profile.time_zone = _valid_time_zone(time_zone)
    profile.save(update_fields=["display_name", "bio", "time_zone", "updated"])
    profile.interests.set(interests_ensure(names=names, suggested_by=profile.user))
    return profile


@transaction.atomic
def interests_ensure(
    *, names: Iterable[str], suggested_by: User | None = None, approved: bool = False
) -> list[Interest]:
    """The interests with these names, creating the ones nobody picked before.

    A name a member types first is created unapproved, remembered as theirs:
    it is offered to nobody else until a moderator approves it. Someone who
    types the same name later gets the same row (and is matched on it) but
    it stays off everyone else's suggestions. ``approved`` is for the names
    the site ships (``load_demo``), which are offered to everyone.
    """
    wanted = interests_normalize(names)
    Interest.objects.bulk_create(
        [Interest(name=name, approved=approved, suggested_by=suggested_by) for name in wanted],
        ignore_conflicts=True,
    )
    if approved:
        Interest.objects.filter(name__in=wanted, approved=False).update(approved=True)
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


def _deleted_email(user: User) -> str:
    # Unique (the id) and unguessable (the token), at a domain that never receives mail.
    return f"deleted-{user.pk}-{secrets.token_hex(6)}@{DELETED_EMAIL_DOMAIN}"


@transaction.atomic
def account_delete(*, user: User, email: str, password: str) -> None:
    """Delete a member's account at their request, keeping only what others and moderators need.

    The ``User`` row stays as an inactive tombstone ("Deleted member") because
    conversations, and what other members wrote about the person (their notes,
    their ratings, their stage with them), point at it; everything that was the
    member's own goes. Decision 0007 lists what is kept and why.
    """
    if email.strip().lower() != user.email.lower() or not user.check_password(password):
        raise ApplicationError(
            "That is not your email address and password, so nothing was deleted. "
            "Type both exactly as you log in.",
            code=WRONG_CONFIRMATION,
        )
    account_erase(user=user)


@transaction.atomic
def account_erase(*, user: User) -> None:
    """Delete an account without asking for its password: for an operator acting on a request.

    Everything ``account_delete`` describes; the caller has made sure the
    request is the member's own (``manage.py delete_account``).
    """
    if user.deleted_at is not None:
        return
    # What was the member's own.
    Note.objects.filter(author=user).delete()
    Follow.objects.filter(Q(follower=user) | Q(followee=user)).delete()
    TalkAgainWish.objects.filter(Q(wisher=user) | Q(about=user)).delete()
    Bond.objects.filter(user=user).delete()
    # Nobody stays connected to (or can "Call now") someone who left.
    Bond.objects.filter(other=user).update(connected_at=None)
    Ring.objects.filter(Q(caller=user) | Q(callee=user), state=Ring.State.PENDING).delete()
    Block.objects.filter(blocker=user).delete()
    Membership.objects.filter(user=user).delete()
    SphereWatch.objects.filter(user=user).delete()
    Presence.objects.filter(user=user).delete()
    Notification.objects.filter(recipient=user).delete()
    NotificationPreference.objects.filter(user=user).delete()
    # Their side of each conversation: the rating and counts were theirs; the
    # record that the conversation happened belongs to the partner too.
    Participant.objects.filter(user=user).update(rating="", talk_seconds=None, revealed_at=None)
    # The moderation record keeps reports and decisions, unlinked from the account.
    Report.objects.filter(subject=user).update(subject=None)
    Report.objects.filter(reporter=user).update(reporter=None)
    Decision.objects.filter(subject=user).update(subject=None)
    Appeal.objects.filter(appellant=user).update(appellant=None)
    # Interest names they typed stay with whoever else chose them; unshared ones go.
    Interest.objects.filter(suggested_by=user).update(suggested_by=None)
    profile = Profile.objects.filter(user=user).first()
    if profile is not None:
        typed = list(profile.interests.filter(approved=False).values_list("pk", flat=True))
        profile.interests.clear()
        Interest.objects.filter(pk__in=typed, approved=False, profiles__isnull=True).delete()
        ProfileAnswer.objects.filter(profile=profile).delete()
        # The profile stays as a blank "Deleted member": every page that shows
        # a past partner still finds a name, and no one sees anything of theirs.
        profile.display_name = DELETED_MEMBER_NAME
        profile.bio = ""
        profile.handle = f"{DELETED_HANDLE_PREFIX}{secrets.token_hex(8)}"
        profile.presence_visible_to = PresenceAudience.NOBODY
        profile.announce_follows = False
        profile.adult_confirmed_at = None
        profile.save()
    EmailAddress.objects.filter(user=user).delete()
    user.groups.clear()
    user.user_permissions.clear()
    user.email = _deleted_email(user)
    user.set_unusable_password()
    user.is_active = False
    user.is_staff = False
    user.is_superuser = False
    user.deleted_at = timezone.now()
    # Saving the password and is_active ends every session (each is checked
    # against both on its next request), and its sockets on every process
    # (accounts/signals.py).
    user.save(
        update_fields=[
            "email", "password", "is_active", "is_staff", "is_superuser", "deleted_at"
        ]
    )  # fmt: skip
