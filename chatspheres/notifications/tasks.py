"""The notifications app's background tasks, run by the task worker (chatspheres/taskworker.py)."""

from __future__ import annotations

from django_tasks import task

from chatspheres.notifications.emails import email_deliver_once


@task()
def email_deliver(email_id: int) -> str:
    """Send one saved email, at most once (``emails.email_deliver_once``)."""
    return email_deliver_once(email_id=email_id)


@task()
def email_batch_send(batch_id: int, due: str) -> str:
    """Send a member's batch email if anything is still unread (``batching.email_batch_run``)."""
    from chatspheres.notifications.batching import email_batch_run

    return email_batch_run(batch_id=batch_id, due=due)
