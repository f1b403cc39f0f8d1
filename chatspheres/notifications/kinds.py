"""Each kind's words and link, rendered from the notification's actor, sphere and data."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import NoReverseMatch, reverse

from chatspheres.notifications.models import Notification

Kind = Notification.Kind


def actor_name(notification: Notification) -> str:
    """The actor's name as others see it (select_related("actor__profile") beforehand)."""
    actor = notification.actor
    if actor is None:
        return "Someone"
    profile = getattr(actor, "profile", None)
    return profile.display_name if profile is not None and profile.display_name else "Someone"


def _sphere_name(notification: Notification) -> str:
    return notification.sphere.name if notification.sphere is not None else "a sphere"


_WORDS: dict[str, Callable[[Notification], str]] = {
    Kind.NEW_FOLLOWER: lambda n: f"{actor_name(n)} followed you",
    Kind.CONNECTION_MADE: lambda n: f"You and {actor_name(n)} are now connected",
    Kind.MISSED_RING: lambda n: f"You missed a call from {actor_name(n)}",
    Kind.STAGE_REACHED: lambda n: (
        f"You and {actor_name(n)} are now {n.data.get('stage') or 'closer'}"
    ),
    Kind.SOMEONE_WAITING: lambda n: f"Someone is waiting in {_sphere_name(n)}",
}


def words_for(notification: Notification) -> str:
    """What the notification says, in a sentence without a full stop."""
    return _WORDS[notification.kind](notification)


def _person_url(notification: Notification) -> str:
    actor = notification.actor
    handle = getattr(getattr(actor, "profile", None), "handle", "") if actor else ""
    if not handle:
        return reverse("notifications:list")
    try:
        return reverse("connections:person", kwargs={"handle": handle})
    except NoReverseMatch:
        return reverse("notifications:list")


def link_for(notification: Notification) -> str:
    """Where the notification leads: the person's page, or the sphere's."""
    if notification.kind == Kind.SOMEONE_WAITING and notification.sphere is not None:
        return notification.sphere.get_absolute_url()
    return _person_url(notification)
