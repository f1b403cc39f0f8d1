"""Writes to notifications: send one (in-app and by email), mark them read, and preferences."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatspheres.common.events import ToMember, send_event_on_commit
from chatspheres.notifications.emails import email_send
from chatspheres.notifications.events import NotificationNew, NotificationUnread
from chatspheres.notifications.kinds import link_for, words_for
from chatspheres.notifications.models import (
    ALWAYS_SENT_KINDS,
    EMAIL_ONLY_KINDS,
    Channel,
    Notification,
    NotificationPreference,
    OutgoingEmail,
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
    email: bool = True,
    email_key: str | None = None,
) -> Notification | None:
    """Save a notification, tell the recipient's tabs on commit, and email it if they want.

    Returns None if the member turned the kind off on the site (the email
    goes by its own preference). ``email=False`` never emails; ``email_key``
    is the email's idempotency key (default: one per notification saved).
    Moderators' decisions are emailed by the moderation app, not here.
    """
    if kind not in Notification.Kind.values:
        raise ValueError(f"unknown notification kind {kind!r}")
    small = {str(key): str(value)[:DATA_VALUE_MAX] for key, value in (data or {}).items()}
    notification: Notification | None = None
    if kind in ALWAYS_SENT_KINDS or (
        kind not in EMAIL_ONLY_KINDS
        and kind_enabled(user_id=recipient_id, kind=kind, channel=Channel.SITE)
    ):
        notification = _notification_save(
            recipient_id=recipient_id, kind=kind, actor_id=actor_id, sphere_id=sphere_id, data=small
        )
    if email and kind not in ALWAYS_SENT_KINDS:
        notification_email_send(
            recipient_id=recipient_id,
            kind=kind,
            actor_id=actor_id,
            sphere_id=sphere_id,
            data=small,
            key=email_key
            or (f"notification:{notification.pk}" if notification is not None else None),
        )
    return notification


def _notification_save(
    *,
    recipient_id: int,
    kind: str,
    actor_id: int | None,
    sphere_id: int | None,
    data: dict[str, str],
) -> Notification:
    notification = Notification.objects.create(
        recipient_id=recipient_id, kind=kind, actor_id=actor_id, sphere_id=sphere_id, data=data
    )
    send_event_on_commit(
        NotificationNew(
            notification=card_of(notification_with_names(notification_id=notification.pk)),
            unread=unread_count(user_id=recipient_id),
        ),
        to=ToMember(recipient_id),
    )
    return notification


@transaction.atomic
def notification_email_send(
    *,
    recipient_id: int,
    kind: str,
    actor_id: int | None = None,
    sphere_id: int | None = None,
    data: dict[str, str] | None = None,
    key: str | None = None,
) -> OutgoingEmail | None:
    """Email a notification (only by email: no in-app row) if the member wants this kind by email.

    Its words and link are the kind's own (``kinds.py``); ``key`` makes it
    idempotent (a plan's reminder: ``f"plan:{plan.pk}:reminder:24h"``).
    None when the kind's email is off or the member has no usable address.
    """
    from chatspheres.accounts.models import User

    if kind not in Notification.Kind.values or kind in ALWAYS_SENT_KINDS:
        raise ValueError(f"{kind!r} is not a kind members choose to get by email")
    if not kind_enabled(user_id=recipient_id, kind=kind, channel=Channel.EMAIL):
        return None
    recipient = User.objects.select_related("profile").filter(pk=recipient_id).first()
    if recipient is None or not recipient.is_active or not recipient.email:
        return None
    small = {str(k): str(value)[:DATA_VALUE_MAX] for k, value in (data or {}).items()}
    # Unsaved: the words and link come from the same code as the in-app ones.
    notification = Notification(
        recipient_id=recipient_id, kind=kind, actor_id=actor_id, sphere_id=sphere_id, data=small
    )
    words = words_for(notification)
    profile = getattr(recipient, "profile", None)
    return email_send(
        to=recipient.email,
        subject=words,
        template="email/notification.txt",
        context={
            "name": getattr(profile, "display_name", "") or "there",
            "words": words,
            "url": settings.SITE_URL + link_for(notification),
        },
        key=key or f"notification-email:{uuid.uuid4().hex}",
        recipient_id=recipient_id,
        kind=kind,
    )


@transaction.atomic
def notification_email_unsubscribe(*, user_id: int, kind: str) -> NotificationPreference:
    """Turn off one kind's email for a member (the unsubscribe link; no sign-in needed)."""
    preference, _ = NotificationPreference.objects.update_or_create(
        user_id=user_id, kind=kind, channel=Channel.EMAIL, defaults={"enabled": False}
    )
    return preference


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
