"""New messages are emailed in a batch listing who wrote, and never once they were read."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from chatspheres.messaging.services import thread_mark_read
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import talk
from tests.mailsink import MailSink
from tests.messaging.helpers import handle_of, pair, send
from tests.taskqueue import LaterTasks

pytestmark = pytest.mark.django_db


def test_one_email_lists_who_wrote_and_leaves_out_what_was_read(
    sphere: Sphere,
    settings: Any,
    later_tasks: LaterTasks,
    smtp_sink: MailSink,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.SITE_URL = "https://spheres.example"
    ana, ben = pair(sphere)
    cai = make_member("cai@example.com", name="Cai")
    dee = make_member("dee@example.com", name="Dee")
    talk(sphere, cai, ben)
    talk(sphere, dee, ben)
    with django_capture_on_commit_callbacks(execute=True):
        send(ana, ben, "One")
        send(ana, ben, "Two")
        send(cai, ben, "Hi from Cai")
        send(dee, ben, "Hi from Dee")
    assert later_tasks.names() == ["email_batch_send"]  # one batch, however many messages
    thread_mark_read(user_id=ben.pk, other=dee.profile)  # read on the site meanwhile
    assert later_tasks.run_due(until=timezone.now() + timedelta(hours=1)) == 1
    [mail] = smtp_sink.wait_for(1)
    assert mail["Subject"] == "[ChatSpheres] Ana and Cai wrote to you"
    assert f"Ana: 2 new messages\nhttps://spheres.example/messages/{handle_of(ana)}/" in mail.text
    assert f"Cai: 1 new message\nhttps://spheres.example/messages/{handle_of(cai)}/" in mail.text
    assert "Dee" not in mail.text


def test_no_email_when_everything_was_read(
    sphere: Sphere,
    later_tasks: LaterTasks,
    smtp_sink: MailSink,
    django_capture_on_commit_callbacks: Any,
) -> None:
    ana, ben = pair(sphere)
    with django_capture_on_commit_callbacks(execute=True):
        send(ana, ben, "Read me on the site")
    assert later_tasks.names() == ["email_batch_send"]
    thread_mark_read(user_id=ben.pk, other=ana.profile)
    later_tasks.run_due(until=timezone.now() + timedelta(hours=1))
    assert smtp_sink.wait_for(1, timeout=0.5) == []
