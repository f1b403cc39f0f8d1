"""The task backend tests run with: due tasks at once, later ones held until a test runs them.

``tests/conftest.py`` installs it for every test (``_tasks_run_at_once``). A
task enqueued without ``run_after`` (or with one already past) runs inside
the ``enqueue`` call, like django-tasks' ImmediateBackend. A task enqueued
for later, ``task.using(run_after=...).enqueue(...)`` (a retry's backoff,
an email batch at the end of its hour, a plan's reminder), is held; the
``later_tasks`` fixture shows them and runs them as if the clock had moved::

    def test_the_reminder_waits_for_its_time(later_tasks):
        plan_confirm(...)
        assert later_tasks.names() == ["plan_remind", "plan_remind"]
        later_tasks.run_due(until=starts_at - timedelta(minutes=10))

``run_due`` runs the held tasks whose ``run_after`` is at or before
``until`` (default: all of them), earliest first, including any they hold
in turn, and returns how many ran. It does not move ``timezone.now()``:
a task that compares against the clock must be given a time to compare
with, or the test freezes the clock itself.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar

from django.utils import timezone
from django_tasks.backends.immediate import ImmediateBackend
from django_tasks.base import Task, TaskResult, TaskResultStatus
from django_tasks.utils import get_random_id


@dataclass
class HeldTask:
    """A task enqueued for later, not run yet."""

    task: Task[Any, Any]
    args: Any
    kwargs: Any
    run_after: datetime

    @property
    def name(self) -> str:
        return str(self.task.name)


class ImmediateOrLaterBackend(ImmediateBackend):
    """ImmediateBackend that also accepts ``run_after``, holding such tasks for ``run_due``."""

    supports_defer = True
    held: ClassVar[list[HeldTask]] = []

    def enqueue(self, task: Task[Any, Any], args: Any, kwargs: Any) -> TaskResult[Any]:
        run_after = task.run_after
        if run_after is None or run_after <= timezone.now():
            return super().enqueue(replace(task, run_after=None), args, kwargs)
        self.validate_task(task)
        self.held.append(HeldTask(task=task, args=args, kwargs=kwargs, run_after=run_after))
        return TaskResult(
            task=task,
            id=get_random_id(),
            status=TaskResultStatus.READY,
            enqueued_at=timezone.now(),
            started_at=None,
            last_attempted_at=None,
            finished_at=None,
            args=args,
            kwargs=kwargs,
            backend=self.alias,
            errors=[],
            worker_ids=[],
        )


class LaterTasks:
    """The tasks held for later in this test (see the module's docstring)."""

    @property
    def held(self) -> list[HeldTask]:
        return sorted(ImmediateOrLaterBackend.held, key=lambda each: each.run_after)

    def names(self) -> list[str]:
        return [each.name for each in self.held]

    def clear(self) -> None:
        ImmediateOrLaterBackend.held.clear()

    def run_due(self, until: datetime | None = None) -> int:
        """Run the held tasks due by ``until`` (all if None), earliest first; how many ran."""
        ran = 0
        while True:
            due = [each for each in self.held if until is None or each.run_after <= until]
            if not due:
                return ran
            first = due[0]
            ImmediateOrLaterBackend.held.remove(first)
            # The way a worker runs it: a failure is logged and recorded, not raised.
            replace(first.task, run_after=None).enqueue(*first.args, **first.kwargs)
            ran += 1
