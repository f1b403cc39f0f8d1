"""Reads of a member's notifications and their preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatspheres.common.errors import NotFound
from chatspheres.notifications.events import NotificationCard
from chatspheres.notifications.kinds import (
    NAMES_A_PERSON,
    email_switch_label,
    link_for,
    words_for,
)
from chatspheres.notifications.models import (
    ALWAYS_SENT_KINDS,
    EMAIL_ON_BY_DEFAULT,
    EMAIL_ONLY_KINDS,
    Channel,
    Notification,
    NotificationPreference,
)

PER_PAGE = 20
# How many the header's panel shows; the page has them all.
PANEL_SIZE = 8


def default_enabled(*, kind: str, channel: str) -> bool:
    """A kind with no saved choice: on for the site; by email, on for EMAIL_ON_BY_DEFAULT."""
    return True if channel == Channel.SITE else kind in EMAIL_ON_BY_DEFAULT


@dataclass(frozen=True, slots=True)
class NotificationView:
    """One notification as a page shows it."""

    id: int
    kind: str
    text: str
    url: str
    created: datetime
    read: bool
    # The person the words name, if they name one (for Block and Report on the list page).
    person_id: int | None = None
    person_handle: str = ""
    person_name: str = ""


@dataclass(frozen=True, slots=True)
class PreferenceView:
    """Whether the member hears about one kind on one channel, and the switch's label."""

    kind: str
    label: str
    enabled: bool


def view_of(notification: Notification) -> NotificationView:
    """The words and link of a notification, for a page."""
    profile = getattr(notification.actor, "profile", None) if notification.actor_id else None
    named = profile is not None and profile.handle and notification.kind in NAMES_A_PERSON
    return NotificationView(
        id=notification.pk,
        kind=notification.kind,
        text=words_for(notification),
        url=link_for(notification),
        created=notification.created,
        read=notification.read_at is not None,
        person_id=notification.actor_id if named else None,
        person_handle=profile.handle if named and profile else "",
        person_name=(profile.display_name or "Someone") if named and profile else "",
    )


def card_of(notification: Notification) -> NotificationCard:
    """The words and link of a notification, for a tab."""
    view = view_of(notification)
    return NotificationCard(
        id=view.id,
        kind=view.kind,
        text=view.text,
        url=view.url,
        created=view.created,
        read=view.read,
    )


def notification_with_names(*, notification_id: int) -> Notification:
    """A notification with what its words need (actor's profile, sphere), in one query."""
    return Notification.objects.select_related("actor__profile", "sphere").get(pk=notification_id)


@dataclass(frozen=True, slots=True)
class NotificationPage:
    """One page of a member's notifications, newest first."""

    items: list[NotificationView]
    number: int
    has_previous: bool
    has_next: bool


def page_number(value: str | None) -> int:
    """A page number from a query string; anything odd is the first page."""
    return int(value) if value and value.isdigit() and 0 < len(value) <= 6 and int(value) else 1


def notifications_page(*, user_id: int, number: int = 1) -> NotificationPage:
    """One page of the member's notifications (one query: a page and one more row)."""
    start = (max(1, number) - 1) * PER_PAGE
    rows = list(
        Notification.objects.for_member(user_id)
        .select_related("actor__profile", "sphere")
        .order_by("-created", "-id")[start : start + PER_PAGE + 1]
    )
    return NotificationPage(
        items=[view_of(each) for each in rows[:PER_PAGE]],
        number=max(1, number),
        has_previous=number > 1,
        has_next=len(rows) > PER_PAGE,
    )


def latest_notifications(*, user_id: int, limit: int = PANEL_SIZE) -> list[NotificationView]:
    """The member's newest notifications, for the header's panel (one query)."""
    rows = (
        Notification.objects.for_member(user_id)
        .select_related("actor__profile", "sphere")
        .order_by("-created", "-id")[:limit]
    )
    return [view_of(each) for each in rows]


def unread_count(*, user_id: int) -> int:
    """How many of the member's notifications are unread."""
    return Notification.objects.for_member(user_id).unread().count()


def access_notification(*, user_id: int, notification_id: int) -> Notification:
    """One of the member's own notifications; anyone else's does not exist for them."""
    found = Notification.objects.for_member(user_id).filter(pk=notification_id).first()
    if found is None:
        raise NotFound("There is no such notification.")
    return found


def kind_enabled(*, user_id: int, kind: str, channel: str = Channel.SITE) -> bool:
    """Whether the member wants to hear about this kind on this channel."""
    saved = (
        NotificationPreference.objects.filter(user_id=user_id, kind=kind, channel=channel)
        .values_list("enabled", flat=True)
        .first()
    )
    return default_enabled(kind=kind, channel=channel) if saved is None else saved


def preferences_for(*, user_id: int, channel: str = Channel.SITE) -> list[PreferenceView]:
    """Every kind with the member's choice for it on a channel (one query)."""
    order = switchable_kinds(channel=channel)
    saved = dict(
        NotificationPreference.objects.filter(user_id=user_id, channel=channel).values_list(
            "kind", "enabled"
        )
    )
    return [
        PreferenceView(
            kind=kind,
            label=email_switch_label(kind) if channel == Channel.EMAIL else label,
            enabled=saved.get(kind, default_enabled(kind=kind, channel=channel)),
        )
        for kind, label in sorted(
            ((kind, label) for kind, label in Notification.Kind.choices if kind in order),
            key=lambda pair: order.index(pair[0]),
        )
    ]


def switchable_kinds(*, channel: str) -> list[str]:
    """The kinds a member may turn on or off on a channel, in the order the page lists them."""
    kinds = [
        kind
        for kind in Notification.Kind.values
        if kind not in ALWAYS_SENT_KINDS
        and not (channel == Channel.SITE and kind in EMAIL_ONLY_KINDS)
    ]
    if channel == Channel.EMAIL:
        # What most people want by email (messages, plans) comes first.
        kinds.sort(key=lambda kind: kind not in EMAIL_ON_BY_DEFAULT)
    return kinds
