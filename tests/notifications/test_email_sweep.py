"""The sweep: emails a lost worker left behind are sent again once; old records are pruned."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from django.core.management import call_command
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from chatspheres.notifications.emails import (
    MAX_ATTEMPTS,
    Swept,
    email_records_prune,
    email_send,
    email_sweep,
)
from chatspheres.notifications.models import OutgoingEmail
from chatspheres.notifications.tasks import email_deliver
from chatspheres.taskworker import WorkerLost, task_results_prune, tasks_lost_fail
from tests.mailsink import MailSink

pytestmark = pytest.mark.django_db

State = OutgoingEmail.State
STALE = 600
DATABASE_TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture(autouse=True)
def _limits(settings: Any) -> None:
    settings.TASK_STALE_SECONDS = STALE
    settings.TASK_RESULTS_KEEP_DAYS = 7
    settings.TASK_FAILED_RESULTS_KEEP_DAYS = 30
    settings.EMAIL_RECORDS_KEEP_DAYS = 30


def saved_email(key: str, *, state: str, attempts: int, age: timedelta) -> OutgoingEmail:
    """An email row as a worker left it, last changed ``age`` ago."""
    row = OutgoingEmail.objects.create(
        key=key,
        to="ben@example.com",
        subject="[ChatSpheres] Your call starts soon",
        text="Hello Ben,\n\nYour call with Ana starts at 10:00.",
        headers={"Message-ID": f"<{key}@chatspheres.example>"},
        state=state,
        attempts=attempts,
    )
    OutgoingEmail.objects.filter(pk=row.pk).update(updated=timezone.now() - age)
    row.refresh_from_db()
    return row


def queued_email(key: str) -> OutgoingEmail:
    """An email saved as the site saves one (its row and its delivery task), ``stale()`` old."""
    row = email_send(
        to="ben@example.com",
        subject="Hello",
        template="email/notification.txt",
        context={"name": "Ben", "words": "Hello", "url": "https://chatspheres.example/"},
        key=key,
    )
    OutgoingEmail.objects.filter(pk=row.pk).update(updated=timezone.now() - stale())
    return row


def stale() -> timedelta:
    return timedelta(seconds=STALE + 60)


def test_a_stale_claim_goes_back_and_is_then_sent_exactly_once(
    smtp_sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    row = saved_email("stale", state=State.SENDING, attempts=1, age=stale())
    with caplog.at_level(logging.WARNING, logger="chatspheres.notifications.emails"):
        swept = email_sweep()
    assert (swept.retried, swept.given_up, swept.orphans) == (1, 0, 0)
    [mail] = smtp_sink.wait_for(1)
    assert mail["Message-ID"] == "<stale@chatspheres.example>"
    row.refresh_from_db()
    # The lost attempt counts: this send was the second.
    assert (row.state, row.attempts, row.last_error) == (State.SENT, 2, "")
    assert any("lost while sending (attempt 1)" in r.getMessage() for r in caplog.records)
    # Nothing sends it again: a second sweep, or its task run twice more.
    assert email_sweep() == Swept()
    email_deliver.enqueue(row.pk)
    email_deliver.enqueue(row.pk)
    assert len(smtp_sink.wait_for(2, timeout=0.5)) == 1


def test_a_fresh_claim_is_left_to_its_worker(smtp_sink: MailSink) -> None:
    row = saved_email("fresh", state=State.SENDING, attempts=1, age=timedelta(seconds=STALE - 60))
    assert email_sweep() == Swept()
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.SENDING, 1)
    assert smtp_sink.wait_for(1, timeout=0.3) == []


def test_a_stale_claim_on_its_last_attempt_is_given_up_and_logged_once(
    smtp_sink: MailSink, caplog: pytest.LogCaptureFixture
) -> None:
    row = saved_email("last", state=State.SENDING, attempts=MAX_ATTEMPTS, age=stale())
    with caplog.at_level(logging.WARNING, logger="chatspheres.notifications.emails"):
        swept = email_sweep()
        email_sweep()
    assert (swept.retried, swept.given_up) == (0, 1)
    row.refresh_from_db()
    assert row.state == State.FAILED
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"email {row.pk} (account) not sent after {MAX_ATTEMPTS} attempts, given up: "
        f"the worker was lost while sending (attempt {MAX_ATTEMPTS})"
    ]
    assert smtp_sink.wait_for(1, timeout=0.3) == []


def test_a_pending_email_left_without_a_task_gets_one_and_is_sent_once(
    smtp_sink: MailSink,
) -> None:
    row = saved_email("orphan", state=State.PENDING, attempts=0, age=stale())
    swept = email_sweep()
    assert swept.orphans == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail["To"] == "ben@example.com"
    row.refresh_from_db()
    assert (row.state, row.attempts) == (State.SENT, 1)
    assert email_sweep().orphans == 0


def test_a_pending_email_whose_task_waits_is_not_queued_again(settings: Any) -> None:
    settings.TASKS = DATABASE_TASKS
    row = queued_email("waits")
    [task] = DBTaskResult.objects.all()
    assert (task.status, task.args_kwargs["args"]) == (TaskResultStatus.READY, [row.pk])
    assert email_sweep().orphans == 0
    # Running, but for longer than the stale limit: its worker is gone.
    DBTaskResult.objects.filter(pk=task.pk).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - stale()
    )
    assert email_sweep().orphans == 1
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1


def test_a_retry_waiting_for_its_time_is_not_queued_again(
    smtp_sink: MailSink, settings: Any
) -> None:
    from chatspheres.notifications.emails import email_deliver_once

    smtp_sink.refuse_next(1)
    settings.TASKS = DATABASE_TASKS
    row = queued_email("retry")
    [first] = DBTaskResult.objects.all()
    # The worker runs the first task: the server refuses, and a retry is queued for later.
    assert email_deliver_once(email_id=row.pk) == "retrying"
    DBTaskResult.objects.filter(pk=first.pk).update(
        status=TaskResultStatus.SUCCESSFUL, finished_at=timezone.now()
    )
    OutgoingEmail.objects.filter(pk=row.pk).update(updated=timezone.now() - stale())
    # Only the retry waits, for its time: that is a live task, so nothing more is queued.
    [retry] = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert retry.run_after is not None and retry.run_after > timezone.now()
    assert email_sweep().orphans == 0
    assert DBTaskResult.objects.filter(status=TaskResultStatus.READY).count() == 1


def test_tasks_running_past_the_stale_limit_are_recorded_as_lost(settings: Any) -> None:
    settings.TASKS = DATABASE_TASKS
    lost, busy = (email_deliver.enqueue(number) for number in (1, 2))
    now = timezone.now()
    DBTaskResult.objects.filter(pk=lost.id).update(
        status=TaskResultStatus.RUNNING, started_at=now - stale()
    )
    DBTaskResult.objects.filter(pk=busy.id).update(
        status=TaskResultStatus.RUNNING, started_at=now - timedelta(seconds=30)
    )
    assert tasks_lost_fail() == 1
    row = DBTaskResult.objects.get(pk=lost.id)
    assert row.status == TaskResultStatus.FAILED
    assert row.exception_class_path == "chatspheres.taskworker.WorkerLost"
    assert WorkerLost.__name__ in row.traceback
    assert DBTaskResult.objects.get(pk=busy.id).status == TaskResultStatus.RUNNING


def test_pruning_removes_only_finished_records_past_their_keeping_time(settings: Any) -> None:
    settings.TASKS = DATABASE_TASKS
    now = timezone.now()
    tasks = {}
    for name, status, age_days in (
        ("old success", TaskResultStatus.SUCCESSFUL, 8),
        ("recent success", TaskResultStatus.SUCCESSFUL, 6),
        ("old failure", TaskResultStatus.FAILED, 31),
        ("recent failure", TaskResultStatus.FAILED, 8),
        ("old ready", TaskResultStatus.READY, None),
        ("old running", TaskResultStatus.RUNNING, None),
    ):
        result = email_deliver.enqueue(len(tasks) + 1)
        DBTaskResult.objects.filter(pk=result.id).update(
            status=status,
            finished_at=None if age_days is None else now - timedelta(days=age_days),
            enqueued_at=now - timedelta(days=60),
        )
        tasks[name] = UUID(result.id)
    emails = {
        name: saved_email(name, state=state, attempts=1, age=timedelta(days=age_days)).pk
        for name, state, age_days in (
            ("old sent", State.SENT, 31),
            ("recent sent", State.SENT, 29),
            ("old failed", State.FAILED, 31),
            ("old pending", State.PENDING, 31),
            ("old sending", State.SENDING, 31),
        )
    }
    assert task_results_prune(now=now) == 2
    assert set(DBTaskResult.objects.values_list("pk", flat=True)) == {
        tasks[name] for name in ("recent success", "recent failure", "old ready", "old running")
    }
    assert email_records_prune(now=now) == 2
    assert set(OutgoingEmail.objects.values_list("pk", flat=True)) == {
        emails[name] for name in ("recent sent", "old pending", "old sending")
    }


def test_the_command_sweeps_and_with_prune_does_the_whole_upkeep(smtp_sink: MailSink) -> None:
    saved_email("command", state=State.SENDING, attempts=1, age=stale())
    saved_email("old", state=State.SENT, attempts=1, age=timedelta(days=31))
    call_command("email_sweep", stdout=(out := _Lines()))
    assert "emails sent again: 1" in out.lines
    assert len(smtp_sink.wait_for(1)) == 1
    call_command("email_sweep", "--prune", stdout=(out := _Lines()))
    assert "emails sent again: 0" in out.lines and "email records pruned: 1" in out.lines


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, text: str) -> None:
        self.lines.extend(line for line in text.splitlines() if line)

    def flush(self) -> None:
        pass
