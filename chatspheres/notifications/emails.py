"""Every email the site sends: saved as a row, sent once by a task, retried with backoff.

How another app sends an email (never ``django.core.mail`` directly, so that
no request waits on a mail server and nothing is sent twice)::

    from chatspheres.notifications.emails import email_send

    email_send(
        to=member.email,
        subject="Your call with Ana starts in 24 hours",   # "[SITE_NAME] " is prefixed
        template="email/plan_reminder.txt",                # plain text, never HTML-escaped
        context={"name": "Ben", "when": "Sun 22:00"},      # site_name and site_url are added
        key=f"plan:{plan.pk}:reminder:24h",                 # the same key never sends twice
        recipient_id=member.pk,
        kind=Notification.Kind.PLAN_REMINDER,               # adds the unsubscribe link and headers
    )

For a notification of a kind in ``Notification.Kind``, call
``notification_send`` (in-app and email, each by the member's preference)
or ``notification_email_send`` (email only, by the preference) in
``chatspheres.notifications.services`` instead: they check the member's
choice and use the kind's own words.

What happens:

- ``email_send`` renders the template once, as plain text, and makes the
  HTML part from that same text (paragraphs, links to the site). An email
  with a ``kind`` the member can turn off ends with a footer that says why it
  came and links to the one-click unsubscribe page; it carries
  ``List-Unsubscribe`` and ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
  (RFC 8058). Account emails and moderators' notices have neither.
- It saves an ``OutgoingEmail`` row under ``key`` (unique) and enqueues
  ``tasks.email_deliver`` in the caller's transaction: with the database
  backend both commit together, so the worker sends nothing the caller rolled
  back, and no saved email lacks its task. Asking again with the same key
  returns the same row and enqueues nothing.
- The task claims the row (``pending`` to ``sending``, one conditional
  update): a duplicate or retried task finds it claimed and does nothing.
  A failed send puts the row back to ``pending`` and enqueues the task again
  after ``RETRY_DELAYS`` (attempts counted on the row), in one transaction;
  after the last attempt the row is ``failed`` and one error is logged.
- ``email_sweep`` (the worker's upkeep, ``manage.py email_sweep``) puts back
  what a lost worker left: a claim older than ``TASK_STALE_SECONDS`` is sent
  again (at least once, for a worker lost between the mail server's
  acceptance and the mark), a pending row without a live task gets one.
  ``email_records_prune`` deletes old sent and given-up rows.
"""

from __future__ import annotations

import logging
import re
import smtplib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Q, QuerySet
from django.template import Context
from django.template.loader import get_template, render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from chatspheres.notifications.models import ALWAYS_SENT_KINDS, OutgoingEmail
from chatspheres.notifications.unsubscribe import unsubscribe_url

logger = logging.getLogger(__name__)

# Seconds to wait before each further attempt: the send is tried
# len(RETRY_DELAYS) + 1 times over about two and a half hours, then given up.
RETRY_DELAYS: tuple[int, ...] = (60, 300, 1800, 7200)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
# A worker keeps its SMTP connection between emails; one idle this long is
# closed and reopened rather than found dropped by the server.
CONNECTION_IDLE_SECONDS = 30.0
# Only links to the site itself become links in the HTML part.
_URL = re.compile(r"https?://[^\s<>\"']+")
_PARAGRAPHS = re.compile(r"\n[ \t]*\n")


def site_context() -> dict[str, str]:
    """What every email template may use: the site's name and address."""
    return {"site_name": settings.SITE_NAME, "site_url": settings.SITE_URL}


def from_address() -> str:
    """``DEFAULT_FROM_EMAIL``, named after the site when it names nobody."""
    name, address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    return formataddr((name or settings.SITE_NAME, address or settings.DEFAULT_FROM_EMAIL))


def render_text(template: str, context: Mapping[str, Any]) -> str:
    """A plain text template rendered without HTML escaping, with the site's name and address."""
    compiled = get_template(template).template  # type: ignore[attr-defined]
    return str(compiled.render(Context({**site_context(), **context}, autoescape=False))).strip()


def html_from_text(text: str) -> str:
    """The HTML part of an email made from its text: its paragraphs, and links to the site."""
    site = escape(settings.SITE_URL)

    def linked(match: re.Match[str]) -> str:
        url = match.group(0)
        # The site itself, not a look-alike ("https://site.example.evil.test/").
        ours = url == site or (url.startswith(site) and url[len(site)] in "/?#")
        return f'<a href="{url}">{url}</a>' if ours else url

    paragraphs = [part.strip() for part in _PARAGRAPHS.split(text.strip()) if part.strip()]
    body = "\n".join(
        "<p>" + "<br>\n".join(_URL.sub(linked, escape(line)) for line in part.splitlines()) + "</p>"
        for part in paragraphs
    )
    return render_to_string("email/layout.html", {**site_context(), "body": body})


def _message_id() -> str:
    return make_msgid(domain=urlsplit(settings.SITE_URL).hostname or "localhost")


def _may_unsubscribe(recipient_id: int | None, kind: str) -> bool:
    return recipient_id is not None and bool(kind) and kind not in ALWAYS_SENT_KINDS


def email_send(
    *,
    to: str,
    subject: str,
    template: str,
    key: str,
    context: Mapping[str, Any] | None = None,
    recipient_id: int | None = None,
    kind: str = "",
    reason: str = "",
) -> OutgoingEmail:
    """Render a text template as an email and send it once, when the caller commits (see above).

    ``reason`` finishes the footer's "You get this email because …" of an
    email a member can unsubscribe from (default: the kind's switch is on).
    """
    text = render_text(template, context or {})
    headers: dict[str, str] = {}
    if _may_unsubscribe(recipient_id, kind):
        assert recipient_id is not None
        link = unsubscribe_url(user_id=recipient_id, kind=kind)
        text += "\n\n" + render_text(
            "email/footer.txt",
            {
                "unsubscribe_url": link,
                "settings_url": settings.SITE_URL
                + reverse("accounts:profile")
                + "#email-preferences",
                "reason": reason or _default_reason(kind),
            },
        )
        headers["List-Unsubscribe"] = f"<{link}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return email_send_rendered(
        to=to,
        subject=f"[{settings.SITE_NAME}] {subject}",
        text=text,
        html=html_from_text(text),
        key=key,
        recipient_id=recipient_id,
        kind=kind,
        headers=headers,
    )


def _default_reason(kind: str) -> str:
    from chatspheres.notifications.kinds import email_switch_label

    return f'"{email_switch_label(kind)}" is on in your settings'


@transaction.atomic
def email_send_rendered(
    *,
    to: str,
    subject: str,
    text: str,
    key: str,
    html: str = "",
    recipient_id: int | None = None,
    kind: str = "",
    headers: Mapping[str, str] | None = None,
) -> OutgoingEmail:
    """Send an email already rendered (allauth's), once per ``key``, when the caller commits."""
    existing = OutgoingEmail.objects.filter(key=key).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            row = OutgoingEmail.objects.create(
                key=key,
                recipient_id=recipient_id,
                kind=kind,
                to=to,
                subject=" ".join(subject.splitlines())[:300],
                text=text,
                html=html,
                headers={"Message-ID": _message_id(), **(headers or {})},
            )
    except IntegrityError:
        # The same key, saved at the same moment by another request.
        return OutgoingEmail.objects.get(key=key)
    _enqueue_delivery(row.pk)
    return row


def _enqueue_delivery(email_id: int, *, delay: float = 0) -> None:
    # In the caller's transaction, not on commit: with the database backend
    # the task row commits with the email row or not at all, so no email is
    # left without its task, and the worker sees neither before the commit.
    # (The test backend runs it at once.)
    from chatspheres.notifications.tasks import email_deliver

    if delay:
        run_after = timezone.now() + timedelta(seconds=delay)
        email_deliver.using(run_after=run_after).enqueue(email_id)
    else:
        email_deliver.enqueue(email_id)


def email_deliver_once(*, email_id: int) -> str:
    """Send one saved email unless another run has claimed it; what happened, in a word.

    "sent", "retrying" (enqueued again for later), "failed" (given up, logged
    once), or "skipped" (already claimed, sent or given up).
    """
    row = _claim(email_id)
    if row is None:
        return "skipped"
    try:
        _deliver(row)
    except Exception as error:  # any failure of the mail server or the network
        return _after_failure(row, error)
    _mark_sent(email_id)
    return "sent"


# Pauses between tries at recording a sent email while SQLite stays locked.
SENT_RETRY_PAUSES: tuple[float, ...] = (0.1, 0.5, 1, 2, 5, 10)


def _mark_sent(email_id: int) -> None:
    # The mail server has the email now: a failure here would leave the row
    # "sending", and the sweep would send it again. A database locked past
    # its busy timeout (a long write elsewhere) is waited out.
    for pause in (*SENT_RETRY_PAUSES, None):
        now = timezone.now()
        try:
            OutgoingEmail.objects.filter(pk=email_id, state=OutgoingEmail.State.SENDING).update(
                state=OutgoingEmail.State.SENT, sent_at=now, last_error="", updated=now
            )
            return
        except OperationalError as error:
            if pause is None or "locked" not in str(error).lower():
                raise
            logger.warning("email %s sent; the database is locked, recording it again", email_id)
            time.sleep(pause)


def _claim(email_id: int) -> OutgoingEmail | None:
    """Move the row from pending to sending and read it, in one statement; None if not pending.

    One conditional UPDATE … RETURNING (SQLite 3.35+, PostgreSQL) instead of
    an update and a read (bench/worker/profile.py counts a send's statements).
    """
    table = connection.ops.quote_name(OutgoingEmail._meta.db_table)
    columns = ", ".join(
        connection.ops.quote_name(str(field.column))
        for field in OutgoingEmail._meta.concrete_fields
    )
    claimed = list(
        OutgoingEmail.objects.raw(
            f"UPDATE {table} SET state = %s, attempts = attempts + 1, updated = %s"  # noqa: S608
            f" WHERE id = %s AND state = %s RETURNING {columns}",
            [
                OutgoingEmail.State.SENDING,
                connection.ops.adapt_datetimefield_value(timezone.now()),
                email_id,
                OutgoingEmail.State.PENDING,
            ],
        )
    )
    return claimed[0] if claimed else None


@transaction.atomic
def _after_failure(row: OutgoingEmail, error: Exception) -> str:
    # One transaction: the row goes back to pending with its next task, or
    # neither does (a worker killed in between leaves it to the sweep).
    words = f"{type(error).__name__}: {error}"[:500]
    if row.attempts >= MAX_ATTEMPTS:
        _give_up(row, words)
        return "failed"
    OutgoingEmail.objects.filter(pk=row.pk).update(
        state=OutgoingEmail.State.PENDING, last_error=words, updated=timezone.now()
    )
    delay = RETRY_DELAYS[row.attempts - 1]
    logger.warning(
        "email %s not sent (attempt %d of %d), trying again in %d s: %s",
        row.pk,
        row.attempts,
        MAX_ATTEMPTS,
        delay,
        words,
    )
    _enqueue_delivery(row.pk, delay=delay)
    return "retrying"


def _give_up(row: OutgoingEmail, words: str) -> None:
    OutgoingEmail.objects.filter(pk=row.pk).update(
        state=OutgoingEmail.State.FAILED, last_error=words, updated=timezone.now()
    )
    _log_given_up(row, words)


def _log_given_up(row: OutgoingEmail, words: str) -> None:
    logger.error(
        "email %s (%s) not sent after %d attempts, given up: %s",
        row.pk,
        row.kind or "account",
        row.attempts,
        words,
    )


class _Connections(threading.local):
    """Each worker thread's open connection to the mail server, reused between emails."""

    backend: BaseEmailBackend | None = None
    signature: tuple[Any, ...] = ()
    used_at: float = 0.0


_connections = _Connections()


def _signature() -> tuple[Any, ...]:
    return (settings.EMAIL_BACKEND, settings.EMAIL_HOST, settings.EMAIL_PORT)


def close_connection() -> None:
    """Close this thread's connection to the mail server, if it has one."""
    backend = _connections.backend
    _connections.backend = None
    if backend is not None:
        try:
            backend.close()
        except Exception:  # closing a connection the server already dropped
            logger.debug("closing the mail connection failed", exc_info=True)


def _connection() -> BaseEmailBackend:
    idle = time.monotonic() - _connections.used_at
    if _connections.backend is not None and (
        _connections.signature != _signature() or idle > CONNECTION_IDLE_SECONDS
    ):
        close_connection()
    if _connections.backend is None:
        backend = get_connection(fail_silently=False, timeout=settings.EMAIL_TIMEOUT)
        backend.open()
        _connections.backend = backend
        _connections.signature = _signature()
    return _connections.backend


def _deliver(row: OutgoingEmail) -> None:
    for attempt in (1, 2):
        connection = _connection()
        message = EmailMultiAlternatives(
            subject=row.subject,
            body=row.text,
            from_email=from_address(),
            to=[row.to],
            headers=row.headers,
            connection=connection,
        )
        if row.html:
            message.attach_alternative(row.html, "text/html")
        try:
            message.send()
        except (smtplib.SMTPServerDisconnected, ConnectionError):
            # A kept connection the server closed: once more on a new one.
            close_connection()
            if attempt == 2:
                raise
            continue
        except Exception:
            close_connection()
            raise
        _connections.used_at = time.monotonic()
        return


@dataclass(frozen=True, slots=True)
class Swept:
    """What one sweep did: emails put back to send again, given up, and given a missing task."""

    retried: int = 0
    given_up: int = 0
    orphans: int = 0

    def counts(self) -> dict[str, int]:
        """What it did, in words an operator reads (``manage.py email_sweep``, the upkeep's log)."""
        return {
            "emails sent again": self.retried,
            "emails given up": self.given_up,
            "emails given a missing task": self.orphans,
        }


# Rows looked at per statement by the sweep and the pruning: each short
# transaction leaves SQLite's write lock to the site between them.
SWEEP_CHUNK = 500


def email_sweep(*, now: datetime | None = None) -> Swept:
    """Put back the emails a lost worker left behind (``settings.TASK_STALE_SECONDS``).

    - A row ``sending`` for longer than the stale limit was claimed by a
      worker that died before it could mark the outcome: it goes back to
      ``pending`` with a new task, that attempt counted, or is given up (and
      logged once) if it was the last. Its email may already have reached
      the mail server: docs/operator-guide.md ("Emails a worker left behind:
      why they are sent again") says why that is the right side to err on.
    - A row ``pending`` unchanged for longer than the stale limit with no
      live task (ready, or running since less than the stale limit) gets one.

    Each row changes in a transaction of its own with its task, under a
    conditional update, so two sweeps at once put an email back once.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.TASK_STALE_SECONDS)
    retried = given_up = orphans = 0
    stale = OutgoingEmail.objects.filter(state=OutgoingEmail.State.SENDING, updated__lt=cutoff)
    for row in stale.only("id", "kind", "attempts").order_by("id")[:SWEEP_CHUNK]:
        with transaction.atomic():
            words = f"the worker was lost while sending (attempt {row.attempts})"
            last = row.attempts >= MAX_ATTEMPTS
            if not stale.filter(pk=row.pk).update(
                state=OutgoingEmail.State.FAILED if last else OutgoingEmail.State.PENDING,
                last_error=words,
                updated=now,
            ):
                continue  # sent, or put back by another sweep, since it was read
            if last:
                _log_given_up(row, words)  # the update above gave it up
                given_up += 1
            else:
                logger.warning("email %s: %s; sending it again", row.pk, words)
                _enqueue_delivery(row.pk)
                retried += 1
    waiting = OutgoingEmail.objects.filter(state=OutgoingEmail.State.PENDING, updated__lt=cutoff)
    candidates = list(waiting.order_by("id").values_list("id", flat=True)[:SWEEP_CHUNK])
    tasked = _emails_with_live_tasks(candidates, cutoff=cutoff)
    for email_id in candidates:
        if email_id in tasked:
            continue
        with transaction.atomic():
            if waiting.filter(pk=email_id).update(updated=now):
                logger.warning("email %s was waiting without a task; queued it again", email_id)
                _enqueue_delivery(email_id)
                orphans += 1
    return Swept(retried=retried, given_up=given_up, orphans=orphans)


def _emails_with_live_tasks(email_ids: list[int], *, cutoff: datetime) -> set[int]:
    """Which of these emails have a delivery task in the database queue still to run or running."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from chatspheres.notifications.tasks import email_deliver

    if not email_ids:
        return set()
    live = DBTaskResult.objects.filter(task_path=email_deliver.module_path).filter(
        Q(status=TaskResultStatus.READY)
        | Q(status=TaskResultStatus.RUNNING, started_at__gte=cutoff)
    )
    # email_deliver is only ever queued with the email's id as its one argument.
    tasked = live.filter(args_kwargs__args__0__in=email_ids)
    return {int(args["args"][0]) for args in tasked.values_list("args_kwargs", flat=True)}


def email_records_prune(*, now: datetime | None = None) -> int:
    """Delete sent and given-up emails after ``settings.EMAIL_RECORDS_KEEP_DAYS``; how many.

    A row is the record that its key was sent: once it is gone, the same key
    would send again. Every way a key comes back (a retried task, a swept
    claim, a duplicated reminder) does so within hours, and the limit is in
    days (docs/operator-guide.md, "Pruning and the idempotency key").
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.EMAIL_RECORDS_KEEP_DAYS)
    finished = OutgoingEmail.objects.filter(
        state__in=(OutgoingEmail.State.SENT, OutgoingEmail.State.FAILED), updated__lt=cutoff
    )
    return delete_in_chunks(finished)


def delete_in_chunks(rows: QuerySet[Any]) -> int:
    """Delete these rows ``SWEEP_CHUNK`` per transaction; how many went."""
    deleted = 0
    while True:
        chunk = list(rows.order_by("pk").values_list("pk", flat=True)[:SWEEP_CHUNK])
        if not chunk:
            return deleted
        count, _ = rows.model.objects.filter(pk__in=chunk).delete()
        deleted += count
