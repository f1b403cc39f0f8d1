"""The SMTP sink the email tests use receives what Django's SMTP backend sends."""

from __future__ import annotations

from django.core.mail import EmailMultiAlternatives

from tests.mailsink import MailSink


def test_a_message_sent_over_smtp_arrives_parsed(smtp_sink: MailSink) -> None:
    message = EmailMultiAlternatives(
        "Hello", "Plain words", "Site <site@example.com>", ["ana@example.com"]
    )
    message.attach_alternative("<p>Rich words</p>", "text/html")
    message.send()
    [mail] = smtp_sink.wait_for(1)
    assert mail["Subject"] == "Hello"
    assert mail.recipients == ["ana@example.com"]
    assert mail.text.strip() == "Plain words"
    assert mail.html.strip() == "<p>Rich words</p>"


def test_a_refused_message_does_not_arrive(smtp_sink: MailSink) -> None:
    import smtplib

    import pytest

    smtp_sink.refuse_next(1)
    with pytest.raises(smtplib.SMTPDataError):
        EmailMultiAlternatives("Hi", "x", "s@example.com", ["b@example.com"]).send()
    EmailMultiAlternatives("Again", "x", "s@example.com", ["b@example.com"]).send()
    assert [mail["Subject"] for mail in smtp_sink.wait_for(1)] == ["Again"]
