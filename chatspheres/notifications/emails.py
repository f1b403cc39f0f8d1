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
  after ``RETRY_DELAYS`` (attempts counted on the row); after the last
  attempt the row is ``failed`` and one error is logged.
"""

from __future__ import annotations

import logging
import re
import smtplib
import threading
import time
from collections.abc import Mapping
from datetime import timedelta
from email.utils import formataddr, make_msgid, parseaddr
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import IntegrityError, transaction
from django.db.models import F
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
    claimed = OutgoingEmail.objects.filter(pk=email_id, state=OutgoingEmail.State.PENDING).update(
        state=OutgoingEmail.State.SENDING, attempts=F("attempts") + 1, updated=timezone.now()
    )
    if not claimed:
        return "skipped"
    row = OutgoingEmail.objects.get(pk=email_id)
    try:
        _deliver(row)
    except Exception as error:  # any failure of the mail server or the network
        return _after_failure(row, error)
    OutgoingEmail.objects.filter(pk=email_id, state=OutgoingEmail.State.SENDING).update(
        state=OutgoingEmail.State.SENT,
        sent_at=timezone.now(),
        last_error="",
        updated=timezone.now(),
    )
    return "sent"


def _after_failure(row: OutgoingEmail, error: Exception) -> str:
    words = f"{type(error).__name__}: {error}"[:500]
    if row.attempts >= MAX_ATTEMPTS:
        OutgoingEmail.objects.filter(pk=row.pk).update(
            state=OutgoingEmail.State.FAILED, last_error=words, updated=timezone.now()
        )
        logger.error(
            "email %s (%s) not sent after %d attempts, given up: %s",
            row.pk,
            row.kind or "account",
            row.attempts,
            words,
        )
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
