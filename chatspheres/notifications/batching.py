"""Batched emails: at most one per member per window, listing what is still unread, or nothing.

New messages are not emailed one by one. The first unread message schedules
the member's batch; when it runs, it asks the app that owns the messages
what is still unread, and sends one email listing who wrote, or nothing at
all if everything was read in the meantime.

How an app plugs in (the messaging app does, for ``Notification.Kind.NEW_MESSAGE``)::

    from chatspheres.notifications.batching import (
        BatchEntry, email_batch_provider_register, email_batch_schedule,
    )

    def unread_for_email(recipient_id: int, since: datetime | None) -> list[BatchEntry]:
        # What is still unread now, from messages that came after ``since``
        # (the last batch email; None: never), one entry per person who wrote.
        return [BatchEntry(who="Ana", count=2, path="/messages/ana/")]

    email_batch_provider_register(kind="new_message", provider=unread_for_email)  # in ready()

    email_batch_schedule(recipient_id=ben.pk)   # on each new message (after it is saved)

The timing (``settings.EMAIL_BATCH_DELAY_SECONDS`` and
``EMAIL_BATCH_WINDOW_SECONDS``): a batch runs ``DELAY`` after the first
unread message (time to read it live), but never sooner than ``WINDOW``
after the member's last batch email. While one is scheduled, further
messages add nothing. The run claims the batch under a row lock, so a
duplicated task sends nothing, and no two emails of a kind go to one member
within a window. A member who turned the kind's email off gets nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from chatspheres.common.prepared import PreparedQuery
from chatspheres.notifications.emails import email_send
from chatspheres.notifications.models import Channel, EmailBatch, Notification
from chatspheres.notifications.selectors import kind_enabled

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class BatchEntry:
    """One line of a batch email: who, how many of theirs are unread, and where to read them."""

    who: str
    count: int
    # A path on the site ("/messages/ana/"); the email links to SITE_URL + path.
    path: str


BatchProvider = Callable[[int, "datetime | None"], Sequence[BatchEntry]]


@dataclass(frozen=True, slots=True)
class _Batched:
    provider: BatchProvider
    template: str
    subject: Callable[[Sequence[BatchEntry]], str]
    list_url_name: str


_registry: dict[str, _Batched] = {}


def _names(entries: Sequence[BatchEntry]) -> str:
    names = [entry.who for entry in entries]
    if len(names) == 1:
        return names[0]
    if len(names) <= 3:
        return ", ".join(names[:-1]) + " and " + names[-1]
    return f"{', '.join(names[:2])} and {len(names) - 2} others"


# Each batched kind's email: its template, its subject, its "see them all" page.
_EMAILS: dict[str, tuple[str, Callable[[Sequence[BatchEntry]], str], str]] = {
    Notification.Kind.NEW_MESSAGE: (
        "email/new_messages.txt",
        lambda entries: f"{_names(entries)} wrote to you",
        "messaging:inbox",
    ),
}


def email_batch_provider_register(*, kind: str, provider: BatchProvider) -> None:
    """Say where a batch of this kind finds what is still unread (call it from AppConfig.ready)."""
    if kind not in _EMAILS:
        raise ValueError(f"{kind!r} has no batch email (add it to batching._EMAILS)")
    template, subject, list_url_name = _EMAILS[kind]
    _registry[kind] = _Batched(
        provider=provider, template=template, subject=subject, list_url_name=list_url_name
    )


def _window() -> timedelta:
    return timedelta(seconds=settings.EMAIL_BATCH_WINDOW_SECONDS)


def _enqueue(batch: EmailBatch) -> None:
    from chatspheres.notifications.tasks import email_batch_send

    assert batch.due_at is not None
    email_batch_send.using(run_after=batch.due_at).enqueue(batch.pk, batch.due_at.isoformat())


# Asked on every new message: compiled to SQL once per process.
_SCHEDULED = PreparedQuery(
    lambda recipient_id, kind: EmailBatch.objects.filter(
        recipient_id=recipient_id, kind=kind, due_at__isnull=False
    ).values("due_at"),
    variables={"recipient_id": int, "kind": str},
)


@transaction.atomic
def email_batch_schedule(
    *, recipient_id: int, kind: str = Notification.Kind.NEW_MESSAGE
) -> datetime | None:
    """Make sure the member's batch of this kind will run; when it will (None: not emailed)."""
    if kind not in _EMAILS:
        raise ValueError(f"{kind!r} has no batch email")
    # Nearly always the batch is scheduled already (every message after the first
    # one of a window): one read and nothing to write. The run checks the
    # member's email switch again when it is due.
    scheduled = _SCHEDULED.rows(recipient_id=recipient_id, kind=kind)
    if scheduled:
        return scheduled[0]["due_at"]
    if not kind_enabled(user_id=recipient_id, kind=kind, channel=Channel.EMAIL):
        return None
    batch, _ = EmailBatch.objects.select_for_update().get_or_create(
        recipient_id=recipient_id, kind=kind
    )
    if batch.due_at is not None:
        return batch.due_at
    due = timezone.now() + timedelta(seconds=settings.EMAIL_BATCH_DELAY_SECONDS)
    if batch.last_sent_at is not None:
        due = max(due, batch.last_sent_at + _window())
    batch.due_at = due
    batch.save(update_fields=["due_at", "updated"])
    _enqueue(batch)
    return due


@transaction.atomic
def email_batch_run(*, batch_id: int, due: str) -> str:
    """Run a batch that is due: one email of what is still unread, or none; what happened.

    "sent", "nothing" (all read, email off, no address), "later" (the window
    since the last email is not over: moved to its end), or "stale" (another
    run took it, or it was scheduled again).
    """
    batch = EmailBatch.objects.select_for_update().filter(pk=batch_id).first()
    if batch is None or batch.due_at is None or batch.due_at.isoformat() != due:
        return "stale"
    now = timezone.now()
    if batch.last_sent_at is not None and now < batch.last_sent_at + _window():
        batch.due_at = batch.last_sent_at + _window()
        batch.save(update_fields=["due_at", "updated"])
        _enqueue(batch)
        return "later"
    batch.due_at = None
    since = batch.last_sent_at
    entries = _entries(batch, since)
    recipient = batch.recipient
    if (
        not entries
        or not recipient.is_active
        or not recipient.email
        or not kind_enabled(user_id=recipient.pk, kind=batch.kind, channel=Channel.EMAIL)
    ):
        batch.save(update_fields=["due_at", "updated"])
        return "nothing"
    batch.last_sent_at = now
    batch.save(update_fields=["due_at", "last_sent_at", "updated"])
    batched = _registry[batch.kind]
    profile = getattr(recipient, "profile", None)
    email_send(
        to=recipient.email,
        subject=batched.subject(entries),
        template=batched.template,
        context={
            "name": getattr(profile, "display_name", "") or "there",
            "entries": [
                {"who": e.who, "count": e.count, "url": settings.SITE_URL + e.path} for e in entries
            ],
            "list_url": settings.SITE_URL + _path(batched.list_url_name),
        },
        key=f"batch:{batch.kind}:{recipient.pk}:{due}",
        recipient_id=recipient.pk,
        kind=batch.kind,
    )
    return "sent"


def _entries(batch: EmailBatch, since: datetime | None) -> list[BatchEntry]:
    batched = _registry.get(batch.kind)
    if batched is None:
        logger.error("no provider for %s batches: nothing emailed", batch.kind)
        return []
    return [entry for entry in batched.provider(batch.recipient_id, since) if entry.count > 0]


def _path(url_name: str) -> str:
    try:
        return reverse(url_name)
    except NoReverseMatch:
        return "/"
