"""The new-message email batch: what is still unread for a member, per person who wrote."""

from __future__ import annotations

from datetime import datetime

from django.urls import reverse

from chatspheres.messaging.selectors import unread_from
from chatspheres.notifications.batching import (
    BatchEntry,
    email_batch_provider_register,
    email_batch_schedule,
)
from chatspheres.notifications.models import Notification


def unread_for_email(recipient_id: int, since: datetime | None) -> list[BatchEntry]:
    """One line per person whose messages are still unread (after ``since``, the last email)."""
    return [
        BatchEntry(
            who=row.name,
            count=row.count,
            path=reverse("messaging:thread", kwargs={"handle": row.handle}),
        )
        for row in unread_from(user_id=recipient_id, since=since)
    ]


def schedule_email(recipient_id: int, _message_id: int) -> None:
    """A new message (saved) makes sure the recipient's batch will run."""
    email_batch_schedule(recipient_id=recipient_id, kind=Notification.Kind.NEW_MESSAGE)


def register() -> None:
    """Plug messages into the email batch (from the app's ready())."""
    from chatspheres.messaging.services import message_listener_register

    email_batch_provider_register(kind=Notification.Kind.NEW_MESSAGE, provider=unread_for_email)
    message_listener_register(schedule_email)
