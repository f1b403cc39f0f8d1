"""The task worker's loop: batches claimed together, results saved, the unstarted handed back."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from django_tasks import task
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from chatspheres.notifications.emails import email_send
from chatspheres.notifications.models import OutgoingEmail
from chatspheres.taskworker import ClaimingWorker
from tests.mailsink import MailSink

# The worker checks its connection between batches, as db_worker does, which
# closes one found inside a test's transaction: these tests commit.
pytestmark = pytest.mark.django_db(transaction=True)


@task()
def explode(number: int) -> None:
    """A task that always fails."""
    raise RuntimeError(f"boom {number}")


@pytest.fixture(autouse=True)
def _database_queue(settings: Any) -> None:
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


def worker(*, claim: int, batch_seconds: float = 10.0, max_tasks: int | None = None) -> Any:
    return ClaimingWorker(
        claim=claim,
        batch_seconds=batch_seconds,
        queue_names=["default"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id="worker-1",
        excluded_queue_names=[],
    )


def emails(count: int) -> list[int]:
    return [
        email_send(
            to=f"member{number}@example.com",
            subject="Hello",
            template="email/notification.txt",
            context={"name": "Ben", "words": "Hello", "url": "https://chatspheres.example/"},
            key=f"worker:{number}",
        ).pk
        for number in range(count)
    ]


def test_batches_of_claimed_tasks_send_every_email_once_and_save_every_result(
    smtp_sink: MailSink,
) -> None:
    emails(7)
    explode.enqueue(1)
    worker(claim=3).run()
    arrived = smtp_sink.wait_for(7)
    assert sorted(mail["To"] for mail in arrived) == sorted(
        f"member{number}@example.com" for number in range(7)
    )
    assert set(OutgoingEmail.objects.values_list("state", flat=True)) == {"sent"}
    rows = {row.task_path.rsplit(".", 1)[-1]: row for row in DBTaskResult.objects.all()}
    sent = DBTaskResult.objects.filter(task_path__endswith="email_deliver")
    assert sent.count() == 7
    for row in sent:
        assert (row.status, row.return_value, row.worker_ids) == (
            TaskResultStatus.SUCCESSFUL,
            "sent",
            ["worker-1"],
        )
        assert row.started_at is not None and row.finished_at >= row.started_at
    failed = rows["explode"]
    assert failed.status == TaskResultStatus.FAILED
    assert failed.exception_class_path == "builtins.RuntimeError"
    assert "boom 1" in failed.traceback


def test_tasks_not_started_when_a_batch_ends_go_back_to_the_queue_as_they_were(
    smtp_sink: MailSink,
) -> None:
    emails(4)
    # A batch of four that ends after its first task.
    first = worker(claim=4, batch_seconds=0)
    claimed = first.claim_ready()
    assert claimed is not None and len(claimed) == 4
    assert DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING).count() == 4
    first.run_claimed(claimed)
    assert len(smtp_sink.wait_for(1)) == 1
    states = sorted(DBTaskResult.objects.values_list("status", "worker_ids", "started_at"))
    assert [status for status, _, _ in states].count(TaskResultStatus.READY) == 3
    for status, worker_ids, started_at in states:
        if status == TaskResultStatus.READY:
            assert (worker_ids, started_at) == ([], None)
    worker(claim=4).run()
    assert len(smtp_sink.wait_for(4)) == 4
    assert set(DBTaskResult.objects.values_list("status", flat=True)) == {
        TaskResultStatus.SUCCESSFUL
    }


def test_a_task_already_run_once_keeps_its_earlier_worker_ids(smtp_sink: MailSink) -> None:
    [email_id] = emails(1)
    row = DBTaskResult.objects.get()
    DBTaskResult.objects.filter(pk=row.pk).update(worker_ids=["worker-0"])
    worker(claim=5).run()
    row = DBTaskResult.objects.get(pk=UUID(str(row.pk)))
    assert (row.status, row.worker_ids) == (TaskResultStatus.SUCCESSFUL, ["worker-0", "worker-1"])
    assert OutgoingEmail.objects.get(pk=email_id).state == "sent"


def test_the_command_line_takes_db_workers_options_and_the_claim_from_settings(
    settings: Any,
) -> None:
    import logging

    from chatspheres.taskworker import worker_from_argv

    settings.TASK_WORKER_CLAIM = 7
    loggers = [logging.getLogger(name) for name in ("django_tasks", "django_tasks_db")]
    levels = [each.level for each in loggers]
    try:
        built, options = worker_from_argv(["--batch", "--max-tasks", "3", "--queue-name", "a,b"])
        # Each task's start and end are logged only with -v 2.
        assert loggers[0].level == logging.WARNING
    finally:
        for each, level in zip(loggers, levels, strict=True):
            each.setLevel(level)
    assert (built.claim, built.base.batch, built.base.max_tasks) == (7, True, 3)
    assert (built.base.queue_names, options["reload"]) == (["a", "b"], False)
