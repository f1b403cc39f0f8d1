"""Writes to notifications: send one, mark them read, and each member's preferences."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from chatspheres.common.events import ToMember, send_event_on_commit
from chatspheres.notifications.events import NotificationNew, NotificationUnread
from chatspheres.notifications.models import (
    ALWAYS_SENT_KINDS,
    Channel,
    Notification,
    NotificationPreference,
)
from chatspheres.notifications.selectors import (
    card_of,
    kind_enabled,
    notification_with_names,
    unread_count,
)

# The longest string a kind may keep in ``data`` (a stage's name, not a message).
DATA_VALUE_MAX = 80


@transaction.atomic
def notification_send(
    *,
    recipient_id: int,
    kind: str,
    actor_id: int | None = None,
    sphere_id: int | None = None,
    data: dict[str, str] | None = None,
) -> Notification | None:
    """Save a notification and tell the recipient's tabs on commit; None if the kind is off."""
    if kind not in Notification.Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    small = {str(key): str(value)[:DATA_VALUE_MAX] for key, value in (data or {}).items()}
    if kind not in ALWAYS_SENT_KINDS and not kind_enabled(
        user_id=recipient_id, kind=kind, channel=Channel.SITE
    ):
        return None
    notification = Notification.objects.create(
        recipient_id=recipient_id, kind=kind, actor_id=actor_id, sphere_id=sphere_id, data=small
    )
    send_event_on_commit(
        NotificationNew(
            notification=card_of(notification_with_names(notification_id=notification.pk)),
            unread=unread_count(user_id=recipient_id),
        ),
        to=ToMember(recipient_id),
    )
    return notification


def _announce_unread(user_id: int) -> int:
    unread = unread_count(user_id=user_id)
    send_event_on_commit(NotificationUnread(unread=unread), to=ToMember(user_id))
    return unread


@transaction.atomic
def notification_mark_read(*, user_id: int, notification: Notification) -> int:
    """Mark one of the member's notifications read; return their unread count."""
    changed = Notification.objects.filter(
        pk=notification.pk, recipient_id=user_id, read_at__isnull=True
    ).update(read_at=timezone.now(), updated=timezone.now())
    if not changed:
        return unread_count(user_id=user_id)
    return _announce_unread(user_id)


@transaction.atomic
def notifications_mark_all_read(*, user_id: int) -> int:
    """Mark every notification of the member read; return how many were unread."""
    now = timezone.now()
    changed = Notification.objects.for_member(user_id).unread().update(read_at=now, updated=now)
    if changed:
        send_event_on_commit(NotificationUnread(unread=0), to=ToMember(user_id))
    return changed


@transaction.atomic
def notification_preferences_set(
    *, user_id: int, enabled_kinds: Iterable[str], channel: str = Channel.SITE
) -> list[NotificationPreference]:
    """Save which kinds the member hears about on a channel (every kind gets a row)."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    wanted = set(enabled_kinds)
    unknown = wanted - set(Notification.Kind.values)
    if unknown:
        raise ValueError(f"unknown notification kinds {sorted(unknown)!r}")
    rows = [
        NotificationPreference(user_id=user_id, kind=kind, channel=channel, enabled=kind in wanted)
        for kind in Notification.Kind.values
    ]
    return NotificationPreference.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["user", "kind", "channel"],
        update_fields=["enabled", "updated"],
    )
