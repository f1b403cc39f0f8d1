"""Members: the account (email + password) and the public profile."""

from __future__ import annotations

import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models

from chatspheres.common.models import BaseModel

MAX_INTERESTS = 10
# What others see of a member who deleted their account.
DELETED_MEMBER_NAME = "Deleted member"
# The address a deleted account's row keeps: unique, and at a domain that can never receive mail.
DELETED_EMAIL_DOMAIN = "deleted.invalid"
BIO_MAX_LENGTH = 500
HANDLE_MIN_LENGTH = 3
HANDLE_MAX_LENGTH = 30
# Lower-case letters, digits and single hyphens inside: safe in any address.
HANDLE_PATTERN = r"^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9]))*$"


class UserManager(DjangoUserManager["User"]):
    """Members sign in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user_object(
        self, username: Any, email: str | None, password: str | None, **extra: Any
    ) -> User:
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password)
        return user

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        user = self._create_user_object(None, email, password, **extra)
        user.save(using=self._db)
        return user

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractUser):
    """An account. Everything others may see lives on :class:`Profile`."""

    username = None  # type: ignore[assignment]
    first_name = None  # type: ignore[assignment]
    last_name = None  # type: ignore[assignment]
    email = models.EmailField("email address", unique=True)
    # Set when the member deleted their account: the row stays as a tombstone
    # (no address, no password, inactive) so that conversations others had
    # with them, and what others wrote about them, keep their other side.
    deleted_at = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    objects: ClassVar[UserManager] = UserManager()

    def __str__(self) -> str:
        return self.email


class InterestQuerySet(models.QuerySet["Interest"]):
    def popular(self) -> InterestQuerySet:
        """Most chosen first: the suggestions shown on the profile form."""
        return self.annotate(chosen=models.Count("profiles")).order_by("-chosen", "name")

    def suggestable(self) -> InterestQuerySet:
        """The names every member may be offered: shipped ones and those a moderator approved."""
        return self.filter(approved=True)


class Interest(BaseModel):
    """A topic a member cares about; matching pairs people who share them."""

    name = models.CharField(max_length=40, unique=True)
    # A name a member typed stays private to them (it still matches people
    # who typed the same) until a moderator approves it as a suggestion for
    # everyone. Shipped names are approved.
    approved = models.BooleanField(default=False)
    suggested_by = models.ForeignKey(
        "accounts.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    objects = InterestQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def normalize(name: str) -> str:
        """One spelling per interest: trimmed, single spaces, lower case."""
        return " ".join(name.split()).lower()[:40]


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in sorted(zoneinfo.available_timezones())]


class PresenceAudience(models.TextChoices):
    """Who may see whether a member is online, and where."""

    CONNECTIONS = "connections", "My connections"
    FOLLOWING = "following", "People I follow"
    NOBODY = "nobody", "Nobody"


class Profile(BaseModel):
    """What other members see: name, handle, bio, interests. Never the email address."""

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(max_length=50)
    bio = models.TextField(max_length=BIO_MAX_LENGTH, blank=True)
    interests = models.ManyToManyField(Interest, related_name="profiles", blank=True)
    time_zone = models.CharField(max_length=64, default="UTC", choices=_time_zone_choices)
    # When the member confirmed being 18 or older (required at sign-up); empty
    # for an account made outside sign-up (createsuperuser, the admin).
    adult_confirmed_at = models.DateTimeField(null=True, blank=True)
    # The public name in addresses (/people/<handle>/), made from the display
    # name at sign-up; its owner may change it once a month.
    handle = models.CharField(max_length=HANDLE_MAX_LENGTH, unique=True)
    handle_changed_at = models.DateTimeField(null=True, blank=True)
    presence_visible_to = models.CharField(
        "Who can see when I'm online",
        max_length=12,
        choices=PresenceAudience.choices,
        default=PresenceAudience.CONNECTIONS,
    )
    announce_follows = models.BooleanField("Let people know when I follow them", default=True)
    # A first meeting in a sphere starts with the partner's video blurred until
    # both press "Reveal" (or a minute passes) when either person has this on.
    soft_start = models.BooleanField("Soft start with someone new", default=True)
    # Calls go through a TURN relay only, so the partner never learns the
    # member's IP address (iceTransportPolicy "relay").
    hide_ip = models.BooleanField("Hide my IP address", default=False)

    def __str__(self) -> str:
        return self.display_name
