"""Each kind's words and link, rendered from the notification's actor, sphere and data."""

from __future__ import annotations

from collections.abc import Callable

from django.urls import NoReverseMatch, reverse

from chatspheres.moderation.tokens import notice_url
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


# Words for a moderation decision about the recipient, by its action.
_DECISION_WORDS: dict[str, str] = {
    "warn": "A moderator sent you a warning: see why, and how to appeal",
    "suspend": "A moderator suspended your account: see why, until when, and how to appeal",
    "ban": "A moderator banned your account: see why, and how to appeal",
}

_WORDS: dict[str, Callable[[Notification], str]] = {
    Kind.NEW_MESSAGE: lambda n: f"{actor_name(n)} wrote to you",
    Kind.NEW_FOLLOWER: lambda n: f"{actor_name(n)} followed you",
    Kind.CONNECTION_MADE: lambda n: f"You and {actor_name(n)} are now connected",
    Kind.MISSED_RING: lambda n: f"You missed a call from {actor_name(n)}",
    Kind.STAGE_REACHED: lambda n: (
        f"You and {actor_name(n)} are now {n.data.get('stage') or 'closer'}"
    ),
    Kind.SOMEONE_WAITING: lambda n: f"Someone is waiting in {_sphere_name(n)}",
    Kind.REPORT_RECEIVED: lambda n: (
        f"We received your report about {n.data.get('about') or 'someone'}."
        " A moderator will look at it; we'll tell you what they decide"
    ),
    Kind.REPORT_OUTCOME: lambda n: (
        f"A moderator looked at your report about {n.data.get('about') or 'someone'}: "
        + ("we took action" if n.data.get("outcome") == "action" else "we found no breach")
    ),
    Kind.MODERATION_DECISION: lambda n: _DECISION_WORDS.get(
        n.data.get("action", ""), "A moderator decided about your account"
    ),
    Kind.APPEAL_OUTCOME: lambda n: (
        "Your appeal succeeded: the decision is withdrawn"
        if n.data.get("outcome") == "overturned"
        else "A moderator looked at your appeal: the decision stands"
    ),
    Kind.PLAN_PROPOSED: lambda n: f"{actor_name(n)} offers times for a call",
    Kind.PLAN_CONFIRMED: lambda n: (
        f"Your call with {actor_name(n)} is planned for {n.data.get('when') or 'soon'}"
    ),
    Kind.PLAN_CANCELLED: lambda n: f"{actor_name(n)} cancelled your planned call",
    Kind.PLAN_REMINDER: lambda n: (
        f"Your call with {actor_name(n)} starts at {n.data.get('when') or 'soon'}"
    ),
}


# The kinds whose words name their actor: the list page offers Block and Report for them.
NAMES_A_PERSON = frozenset(
    {
        Kind.NEW_MESSAGE,
        Kind.NEW_FOLLOWER,
        Kind.CONNECTION_MADE,
        Kind.MISSED_RING,
        Kind.STAGE_REACHED,
        *(Kind.PLAN_PROPOSED, Kind.PLAN_CONFIRMED, Kind.PLAN_CANCELLED, Kind.PLAN_REMINDER),
    }
)


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


def _notice_url(notification: Notification) -> str:
    # The notice page is opened with a signed link, so it also works for
    # someone who can no longer sign in.
    decision = notification.data.get("decision", "")
    return notice_url(int(decision)) if decision.isdigit() else reverse("notifications:list")


_PLAN_KINDS = (Kind.PLAN_PROPOSED, Kind.PLAN_CONFIRMED, Kind.PLAN_CANCELLED, Kind.PLAN_REMINDER)


def _plan_url(notification: Notification) -> str:
    actor = notification.actor
    handle = getattr(getattr(actor, "profile", None), "handle", "") if actor else ""
    if not handle:
        return reverse("notifications:list")
    return reverse(
        "connections:plan", kwargs={"handle": handle, "public_id": notification.data["plan"]}
    )


def link_for(notification: Notification) -> str:
    """Where the notification leads: the person's page, the sphere's, or a moderation notice."""
    if notification.kind in (Kind.MODERATION_DECISION, Kind.APPEAL_OUTCOME):
        return _notice_url(notification)
    if notification.kind == Kind.REPORT_OUTCOME:
        return reverse("notifications:list")
    if notification.kind == Kind.SOMEONE_WAITING and notification.sphere is not None:
        return notification.sphere.get_absolute_url()
    if notification.kind in _PLAN_KINDS and notification.data.get("plan"):
        return _plan_url(notification)
    return _person_url(notification)


# The profile page's email switches, one per kind a member can turn off
# (the contract's names: "Email me about new messages").
_EMAIL_SWITCHES: dict[str, str] = {
    Kind.NEW_MESSAGE: "Email me about new messages",
    Kind.NEW_FOLLOWER: "Email me when someone follows me",
    Kind.CONNECTION_MADE: "Email me when someone and I both want to talk again",
    Kind.MISSED_RING: "Email me about calls I missed",
    Kind.STAGE_REACHED: "Email me when a friendship reaches a new stage",
    Kind.SOMEONE_WAITING: "Email me when someone is waiting in a sphere I watch",
    Kind.REPORT_RECEIVED: "Email me when my report is received",
    Kind.PLAN_PROPOSED: "Email me when someone proposes times for a call",
    Kind.PLAN_CONFIRMED: "Email me when a planned call is confirmed",
    Kind.PLAN_CANCELLED: "Email me when a planned call is cancelled",
    Kind.PLAN_REMINDER: "Email me reminders of planned calls",
}


def email_switch_label(kind: str) -> str:
    """The label of the switch that turns this kind's email on or off."""
    return _EMAIL_SWITCHES.get(kind, f"Email me: {Kind(kind).label}")
