"""Email through the worker: what arrives at a real SMTP server, sent once, retried, stopped."""

from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatspheres.accounts.models import User
from chatspheres.notifications.emails import MAX_ATTEMPTS, RETRY_DELAYS, email_send
from chatspheres.notifications.models import Channel, Notification, OutgoingEmail
from chatspheres.notifications.selectors import kind_enabled
from chatspheres.notifications.services import (
    notification_email_send,
    notification_preferences_set,
    notification_send,
)
from chatspheres.notifications.tasks import email_deliver
from chatspheres.notifications.unsubscribe import unsubscribe_token
from tests.conftest import make_member
from tests.mailsink import MailSink
from tests.taskqueue import LaterTasks

pytestmark = pytest.mark.django_db

Kind = Notification.Kind


@pytest.fixture(autouse=True)
def _site(settings: Any) -> None:
    settings.SITE_NAME = "Spheres Test"
    settings.SITE_URL = "https://spheres.example"
    settings.DEFAULT_FROM_EMAIL = "no-reply@spheres.example"


@pytest.fixture
def ana() -> User:
    return make_member("ana@example.com", name="Ana")


@pytest.fixture
def ben() -> User:
    return make_member("ben@example.com", name="Ben")


def link_in(text: str, start: str) -> str:
    found = re.search(re.escape(start) + r"\S+", text)
    assert found, f"no link starting {start!r} in {text!r}"
    return found.group(0)


def test_a_notification_email_arrives_with_its_headers_both_bodies_and_the_site_by_name(
    smtp_sink: MailSink, ana: User, ben: User
) -> None:
    notification_send(recipient_id=ben.pk, kind=Kind.PLAN_PROPOSED, actor_id=ana.pk)
    [mail] = smtp_sink.wait_for(1)
    assert mail["From"] == "Spheres Test <no-reply@spheres.example>"
    assert mail["To"] == "ben@example.com"
    assert mail["Subject"] == "[Spheres Test] Ana offers times for a call"
    assert re.fullmatch(r"<[^@>]+@spheres\.example>", mail["Message-ID"])
    unsubscribe = link_in(mail.text, "https://spheres.example/notifications/unsubscribe/")
    assert mail["List-Unsubscribe"] == f"<{unsubscribe}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.text.startswith("Hello Ben,\n\nAna offers times for a call.")
    assert "Stop these emails (one click, no sign-in)" in mail.text
    assert '"Email me when someone proposes times for a call" is on' in mail.text
    assert f'<a href="{unsubscribe}">' in mail.html
    assert "<p>Hello Ben,</p>" in mail.html and "Spheres Test" in mail.html
    # The site by its name and public address, never the host and port it runs on.
    for body in (mail.text, mail.html):
        assert "127.0.0.1" not in body and "localhost" not in body and "testserver" not in body
    assert OutgoingEmail.objects.get().state == OutgoingEmail.State.SENT


def test_names_from_members_are_escaped_in_the_html_and_never_become_links(
    smtp_sink: MailSink, ben: User
) -> None:
    mallory = make_member("m@example.com", name="<b>Mal</b> https://spheres.example.evil.test/")
    notification_send(recipient_id=ben.pk, kind=Kind.PLAN_PROPOSED, actor_id=mallory.pk)
    [mail] = smtp_sink.wait_for(1)
    assert "<b>Mal</b>" in mail.text
    assert "&lt;b&gt;Mal&lt;/b&gt;" in mail.html and "<b>Mal" not in mail.html
    assert "https://spheres.example.evil.test/" in mail.html
    assert 'href="https://spheres.example.evil' not in mail.html


def test_one_key_sends_one_email_however_often_it_is_asked_for_or_its_task_run(
    smtp_sink: MailSink, ben: User
) -> None:
    for _ in range(3):
        row = email_send(
            to=ben.email,
            subject="Once",
            template="email/notification.txt",
            context={"name": "Ben", "words": "Hello", "url": "https://spheres.example/"},
            key="test:once",
        )
    for _ in range(5):  # a duplicated or retried task
        email_deliver.enqueue(row.pk)
    assert len(smtp_sink.wait_for(2, timeout=1)) == 1
    row.refresh_from_db()
    assert (OutgoingEmail.objects.count(), row.state, row.attempts) == (
        1,
        OutgoingEmail.State.SENT,
        1,
    )


def test_a_failed_send_is_retried_later_with_the_same_message_id(
    smtp_sink: MailSink, ben: User, later_tasks: LaterTasks
) -> None:
    smtp_sink.refuse_next(2)
    notification_send(recipient_id=ben.pk, kind=Kind.PLAN_CONFIRMED, actor_id=None)
    row = OutgoingEmail.objects.get()
    assert (row.state, row.attempts) == (OutgoingEmail.State.PENDING, 1)
    assert "451" in row.last_error
    [held] = later_tasks.held
    assert held.name == "email_deliver"
    assert (held.run_after - row.updated).total_seconds() == pytest.approx(RETRY_DELAYS[0], abs=2)
    assert smtp_sink.messages == []
    later_tasks.run_due()
    [mail] = smtp_sink.wait_for(1)
    row.refresh_from_db()
    assert (row.state, row.attempts) == (OutgoingEmail.State.SENT, 3)
    assert mail["Message-ID"] == row.headers["Message-ID"]


def test_after_the_last_attempt_the_email_is_given_up_and_logged_once(
    smtp_sink: MailSink, ben: User, later_tasks: LaterTasks, caplog: pytest.LogCaptureFixture
) -> None:
    smtp_sink.refuse_next(MAX_ATTEMPTS)
    with caplog.at_level(logging.WARNING, logger="chatspheres.notifications.emails"):
        notification_send(recipient_id=ben.pk, kind=Kind.PLAN_CONFIRMED)
        assert later_tasks.run_due() == MAX_ATTEMPTS - 1
    row = OutgoingEmail.objects.get()
    assert (row.state, row.attempts) == (OutgoingEmail.State.FAILED, MAX_ATTEMPTS)
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"email {row.pk} (plan_confirmed) not sent after {MAX_ATTEMPTS} attempts, given up: "
        "SMTPDataError: (451, b'Try again later')"
    ]
    assert later_tasks.held == []
    assert smtp_sink.messages == []


def test_a_kind_turned_off_by_email_is_not_emailed_but_still_shown_in_the_app(
    smtp_sink: MailSink, ben: User
) -> None:
    notification_preferences_set(user_id=ben.pk, enabled_kinds=[], channel=Channel.EMAIL)
    assert notification_send(recipient_id=ben.pk, kind=Kind.PLAN_PROPOSED) is not None
    assert notification_email_send(recipient_id=ben.pk, kind=Kind.PLAN_REMINDER) is None
    assert OutgoingEmail.objects.count() == 0
    assert smtp_sink.wait_for(1, timeout=0.5) == []


def test_defaults_email_messages_and_plans_but_not_the_rest(ben: User) -> None:
    for kind in (Kind.NEW_MESSAGE, Kind.PLAN_PROPOSED, Kind.PLAN_CONFIRMED, Kind.PLAN_REMINDER):
        assert kind_enabled(user_id=ben.pk, kind=kind, channel=Channel.EMAIL)
    for kind in (Kind.NEW_FOLLOWER, Kind.MISSED_RING, Kind.SOMEONE_WAITING):
        assert not kind_enabled(user_id=ben.pk, kind=kind, channel=Channel.EMAIL)
        assert kind_enabled(user_id=ben.pk, kind=kind, channel=Channel.SITE)


def test_the_profile_page_has_a_labelled_email_switch_per_kind_and_saves_them(ben: User) -> None:
    client = Client()
    client.force_login(ben)
    html = client.get(reverse("accounts:profile")).content.decode()
    assert (
        '<input type="checkbox" name="email_kinds" value="new_message" checked>'
        " Email me about new messages</label>"
    ) in html
    assert 'value="new_follower"> Email me when someone follows me</label>' in html
    assert 'name="email_kinds" value="moderation_decision"' not in html
    client.post(
        reverse("notifications:preferences"),
        {"kinds": [Kind.NEW_FOLLOWER], "email_kinds": [Kind.NEW_FOLLOWER]},
    )
    assert kind_enabled(user_id=ben.pk, kind=Kind.NEW_FOLLOWER, channel=Channel.EMAIL)
    assert not kind_enabled(user_id=ben.pk, kind=Kind.NEW_MESSAGE, channel=Channel.EMAIL)
    assert not kind_enabled(user_id=ben.pk, kind=Kind.MISSED_RING, channel=Channel.SITE)


def test_the_unsubscribe_link_asks_first_then_turns_that_kind_off_without_signing_in(
    smtp_sink: MailSink, ana: User, ben: User
) -> None:
    notification_send(recipient_id=ben.pk, kind=Kind.PLAN_PROPOSED, actor_id=ana.pk)
    [mail] = smtp_sink.wait_for(1)
    path = link_in(mail.text, "https://spheres.example/notifications/unsubscribe/").removeprefix(
        "https://spheres.example"
    )
    browser = Client(enforce_csrf_checks=True)
    page = browser.get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert 'Turn off "Email me when someone proposes times for a call"?' in html
    assert '<button type="submit" class="button">Unsubscribe</button>' in html
    assert kind_enabled(user_id=ben.pk, kind=Kind.PLAN_PROPOSED, channel=Channel.EMAIL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    assert token
    done = browser.post(path, {"csrfmiddlewaretoken": token.group(1)})
    assert "You will no longer get these emails" in done.content.decode()
    assert not kind_enabled(user_id=ben.pk, kind=Kind.PLAN_PROPOSED, channel=Channel.EMAIL)
    assert kind_enabled(user_id=ben.pk, kind=Kind.PLAN_REMINDER, channel=Channel.EMAIL)


def test_a_mail_programs_one_click_post_unsubscribes(ben: User) -> None:
    path = reverse(
        "notifications:unsubscribe",
        kwargs={"token": unsubscribe_token(user_id=ben.pk, kind=Kind.NEW_MESSAGE)},
    )
    # RFC 8058: a POST with this body, no cookies, no CSRF token.
    answer = Client(enforce_csrf_checks=True).post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert answer.status_code == 200
    assert not kind_enabled(user_id=ben.pk, kind=Kind.NEW_MESSAGE, channel=Channel.EMAIL)


@pytest.mark.parametrize(
    "change",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: token.replace("[", "[9", 1) if "[" in token else "9" + token,  # value changed
        lambda token: token.split(":")[0],  # signature cut off
    ],
    ids=["signature", "value", "truncated"],
)
def test_a_tampered_token_is_refused_and_changes_nothing(ben: User, change: Any) -> None:
    token = change(unsubscribe_token(user_id=ben.pk, kind=Kind.NEW_MESSAGE))
    path = reverse("notifications:unsubscribe", kwargs={"token": token})
    for answer in (Client().get(path), Client().post(path, {"List-Unsubscribe": "One-Click"})):
        assert answer.status_code == 400
        assert "This link does not work" in answer.content.decode()
    assert kind_enabled(user_id=ben.pk, kind=Kind.NEW_MESSAGE, channel=Channel.EMAIL)


def test_a_token_cannot_unsubscribe_from_what_moderators_decide(ben: User) -> None:
    token = unsubscribe_token(user_id=ben.pk, kind=Kind.MODERATION_DECISION)
    answer = Client().post(reverse("notifications:unsubscribe", kwargs={"token": token}))
    assert answer.status_code == 400


def test_a_password_reset_email_arrives_through_the_task_without_an_unsubscribe_link(
    smtp_sink: MailSink, ben: User
) -> None:
    answer = Client().post("/accounts/password/reset/", {"email": "ben@example.com"})
    assert answer.status_code == 302
    [mail] = smtp_sink.wait_for(1)
    row = OutgoingEmail.objects.get()
    assert row.state == OutgoingEmail.State.SENT and row.key.startswith("account:")
    assert mail["To"] == "ben@example.com"
    assert mail["Subject"].startswith("[Spheres Test] ")
    assert "https://spheres.example/accounts/password/reset/key/" in mail.text
    assert mail["Message-ID"] == row.headers["Message-ID"]
    assert mail.get("List-Unsubscribe") is None and "unsubscribe" not in mail.text.lower()
