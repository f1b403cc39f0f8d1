"""The notifications app's background tasks, run by the worker (``manage.py db_worker``)."""

from __future__ import annotations

from django_tasks import task

from chatspheres.notifications.emails import email_deliver_once


@task()
def email_deliver(email_id: int) -> str:
    """Send one saved email, at most once (``emails.email_deliver_once``)."""
    return email_deliver_once(email_id=email_id)
