"""New-message emails in batches: at most one an hour per member, listing who wrote, or none."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.notifications import batching
from chatspheres.notifications.batching import (
    BatchEntry,
    email_batch_provider_register,
    email_batch_run,
    email_batch_schedule,
)
from chatspheres.notifications.models import Channel, EmailBatch, Notification
from chatspheres.notifications.services import notification_preferences_set
from tests.conftest import make_member
from tests.mailsink import MailSink
from tests.taskqueue import LaterTasks

pytestmark = pytest.mark.django_db

Kind = Notification.Kind
DELAY = timedelta(minutes=15)
WINDOW = timedelta(hours=1)


class Clock:
    """timezone.now() for the test, moved by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def move(self, by: timedelta) -> datetime:
        self.now += by
        return self.now


class FakeUnread:
    """A provider: what the test says is unread, and the ``since`` it was asked with."""

    def __init__(self) -> None:
        self.unread: list[BatchEntry] = []
        self.asked: list[datetime | None] = []

    def __call__(self, recipient_id: int, since: datetime | None) -> list[BatchEntry]:
        self.asked.append(since)
        return list(self.unread)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Clock:
    settings.EMAIL_BATCH_DELAY_SECONDS = DELAY.total_seconds()
    settings.EMAIL_BATCH_WINDOW_SECONDS = WINDOW.total_seconds()
    settings.SITE_URL = "https://spheres.example"
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock)
    return clock


@pytest.fixture
def unread() -> Iterator[FakeUnread]:
    saved = dict(batching._registry)
    provider = FakeUnread()
    email_batch_provider_register(kind=Kind.NEW_MESSAGE, provider=provider)
    yield provider
    batching._registry.clear()
    batching._registry.update(saved)


@pytest.fixture
def ben() -> User:
    return make_member("ben@example.com", name="Ben")


ANA = BatchEntry(who="Ana", count=2, path="/messages/ana/")
CAI = BatchEntry(who="Cai", count=1, path="/messages/cai/")


def test_the_first_message_schedules_one_email_after_the_delay_listing_who_wrote(
    clock: Clock, unread: FakeUnread, ben: User, later_tasks: LaterTasks, smtp_sink: MailSink
) -> None:
    first = email_batch_schedule(recipient_id=ben.pk)
    assert first == clock.now + DELAY
    clock.move(timedelta(minutes=5))
    assert email_batch_schedule(recipient_id=ben.pk) == first  # more messages add nothing
    assert later_tasks.names() == ["email_batch_send"]
    unread.unread = [ANA, CAI]
    clock.move(timedelta(minutes=10))
    assert later_tasks.run_due(until=clock.now) == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail["Subject"] == "[ChatSpheres] Ana and Cai wrote to you"
    assert mail["To"] == "ben@example.com"
    assert "Ana: 2 new messages\nhttps://spheres.example/messages/ana/" in mail.text
    assert "Cai: 1 new message\nhttps://spheres.example/messages/cai/" in mail.text
    assert '"Email me about new messages" is on' in mail.text
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert '<a href="https://spheres.example/messages/ana/">' in mail.html
    assert unread.asked == [None]


def test_nothing_is_sent_when_the_messages_were_read_in_the_meantime(
    clock: Clock, unread: FakeUnread, ben: User, later_tasks: LaterTasks, smtp_sink: MailSink
) -> None:
    email_batch_schedule(recipient_id=ben.pk)
    unread.unread = []  # read before the batch ran
    clock.move(DELAY)
    later_tasks.run_due(until=clock.now)
    assert smtp_sink.wait_for(1, timeout=0.5) == []
    batch = EmailBatch.objects.get()
    assert (batch.due_at, batch.last_sent_at) == (None, None)
    # Nothing was sent, so the next message waits only the delay.
    assert email_batch_schedule(recipient_id=ben.pk) == clock.now + DELAY


def test_at_most_one_email_an_hour_and_the_next_lists_only_what_came_since(
    clock: Clock, unread: FakeUnread, ben: User, later_tasks: LaterTasks, smtp_sink: MailSink
) -> None:
    unread.unread = [ANA]
    email_batch_schedule(recipient_id=ben.pk)
    sent_at = clock.move(DELAY)
    later_tasks.run_due(until=clock.now)
    assert len(smtp_sink.wait_for(1)) == 1
    clock.move(timedelta(minutes=1))
    unread.unread = [CAI]
    # A message a minute after the email: its batch waits for the hour to end.
    assert email_batch_schedule(recipient_id=ben.pk) == sent_at + WINDOW
    clock.move(DELAY)
    assert later_tasks.run_due(until=clock.now) == 0
    clock.now = sent_at + WINDOW
    assert later_tasks.run_due(until=clock.now) == 1
    mails = smtp_sink.wait_for(2)
    assert [mail["Subject"] for mail in mails] == [
        "[ChatSpheres] Ana wrote to you",
        "[ChatSpheres] Cai wrote to you",
    ]
    assert unread.asked == [None, sent_at]


def test_a_duplicated_or_early_run_sends_nothing_more(
    clock: Clock, unread: FakeUnread, ben: User, later_tasks: LaterTasks, smtp_sink: MailSink
) -> None:
    unread.unread = [ANA]
    due = email_batch_schedule(recipient_id=ben.pk)
    assert due is not None
    batch = EmailBatch.objects.get()
    clock.move(DELAY)
    assert email_batch_run(batch_id=batch.pk, due=due.isoformat()) == "sent"
    assert email_batch_run(batch_id=batch.pk, due=due.isoformat()) == "stale"
    later_tasks.run_due(until=clock.now)  # the queued copy of the same run
    assert len(smtp_sink.wait_for(2, timeout=1)) == 1
    # A batch somehow due inside the window is moved to the window's end.
    EmailBatch.objects.filter(pk=batch.pk).update(due_at=clock.now)
    assert email_batch_run(batch_id=batch.pk, due=clock.now.isoformat()) == "later"
    batch.refresh_from_db()
    assert batch.due_at == clock.now + WINDOW


def test_a_member_who_turned_message_emails_off_is_not_scheduled_nor_emailed(
    clock: Clock, unread: FakeUnread, ben: User, later_tasks: LaterTasks, smtp_sink: MailSink
) -> None:
    unread.unread = [ANA]
    email_batch_schedule(recipient_id=ben.pk)
    notification_preferences_set(user_id=ben.pk, enabled_kinds=[], channel=Channel.EMAIL)
    clock.move(DELAY)
    later_tasks.run_due(until=clock.now)  # turned off after it was scheduled
    assert email_batch_schedule(recipient_id=ben.pk) is None
    assert later_tasks.held == []
    assert smtp_sink.wait_for(1, timeout=0.5) == []
