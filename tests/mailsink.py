"""A real SMTP server for tests: what the site sends arrives here, parsed.

Use the ``smtp_sink`` fixture (declared in ``tests/conftest.py``)::

    def test_a_reminder_is_emailed(smtp_sink, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            plan_remind(...)                      # anything that emails
        [mail] = smtp_sink.wait_for(1)            # waits a few seconds at most
        assert mail["To"] == "ben@example.com"
        assert "Join" in mail.text and "<a href" in mail.html
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

The fixture starts ``aiosmtpd`` on a free loopback port in a thread and
points Django's SMTP backend at it (``EMAIL_BACKEND`` smtp, ``EMAIL_HOST``,
``EMAIL_PORT``) for the one test, so mail goes over a real SMTP conversation
exactly as it would to a mail server. Each arriving message is a
:class:`SunkMail`: its headers (``mail["Subject"]``), the envelope's sender
and recipients, and its plain text and HTML parts (``mail.text``,
``mail.html``). ``smtp_sink.messages`` is everything so far;
``smtp_sink.refuse_next(n)`` makes the server answer the next n messages
with a temporary failure (451), to test retries.

Tasks run at once in tests (``_tasks_run_at_once``), so a send queued on
commit has arrived by the time the commit returns; ``wait_for`` still waits
briefly, for mail sent from a server thread or a worker process.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

# How long wait_for waits for mail that has not arrived yet.
WAIT_SECONDS = 5.0


@dataclass
class SunkMail:
    """One message as the SMTP server received it."""

    sender: str
    recipients: list[str]
    message: EmailMessage
    raw: bytes

    def __getitem__(self, header: str) -> Any:
        """A header's value, unfolded (a long one arrives on a continuation line)."""
        value = self.message[header]
        return " ".join(str(value).split()) if value is not None else None

    def get(self, header: str, default: Any = None) -> Any:
        return self[header] if header in self.message else default

    @property
    def text(self) -> str:
        """The plain text part, with plain newlines ("" if there is none)."""
        part = self.message.get_body(preferencelist=("plain",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""

    @property
    def html(self) -> str:
        """The HTML part, with plain newlines ("" if there is none)."""
        part = self.message.get_body(preferencelist=("html",))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""


@dataclass
class _Handler:
    sink: MailSink

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return self.sink._receive(envelope)


@dataclass
class MailSink:
    """An SMTP server on ``host``:``port`` collecting what arrives (see the module's docstring)."""

    host: str = "127.0.0.1"
    port: int = 0
    messages: list[SunkMail] = field(default_factory=list)
    _refuse: int = 0
    _lock: threading.Condition = field(default_factory=threading.Condition)
    _controller: Controller | None = None

    def start(self) -> MailSink:
        if not self.port:
            self.port = _free_port()
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def refuse_next(self, count: int = 1) -> None:
        """Answer the next ``count`` messages with a temporary failure (451)."""
        with self._lock:
            self._refuse = count

    def clear(self) -> None:
        with self._lock:
            self.messages.clear()

    def wait_for(self, count: int, timeout: float = WAIT_SECONDS) -> list[SunkMail]:
        """The messages once ``count`` have arrived (or all there are after ``timeout``)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._lock.wait(left)
            return list(self.messages)

    def to(self, address: str) -> list[SunkMail]:
        """The messages sent to ``address`` so far."""
        with self._lock:
            return [mail for mail in self.messages if address in mail.recipients]

    def _receive(self, envelope: Any) -> str:
        with self._lock:
            if self._refuse:
                self._refuse -= 1
                return "451 Try again later"
            raw = bytes(envelope.original_content or envelope.content)
            parsed = message_from_bytes(raw, policy=policy.default)
            assert isinstance(parsed, EmailMessage)
            self.messages.append(
                SunkMail(
                    sender=envelope.mail_from,
                    recipients=list(envelope.rcpt_tos),
                    message=parsed,
                    raw=raw,
                )
            )
            self._lock.notify_all()
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
