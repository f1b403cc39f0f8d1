"""Reporting someone: what the reporter gives, what the server attaches, what the reporter is told.

And the short-lived chat buffer behind the excerpt: lines go in, a report
within the window gets them (said by "reporter" or "subject", never ids),
after the window nothing, and nobody outside the conversation gets them.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from chatspheres.accounts.models import User
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.common.errors import ApplicationError
from chatspheres.common.ratelimit import RateLimited
from chatspheres.notifications.kinds import words_for
from chatspheres.notifications.models import Notification
from chatspheres.safety import chatbuffer
from chatspheres.safety.chatbuffer import MemoryChatBuffer, RedisChatBuffer, line_for
from chatspheres.safety.models import Block, Report
from chatspheres.safety.services import report_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import handle_of, talk, text_of

pytestmark = pytest.mark.django_db

ACK = "Thanks. A moderator will look at it; we'll tell you what they decide."
AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def buffer(clock: Clock, monkeypatch: pytest.MonkeyPatch) -> MemoryChatBuffer:
    """This process's buffer, on a clock the test moves."""
    fresh = MemoryChatBuffer(clock=clock)
    monkeypatch.setattr(chatbuffer, "_memory", fresh)
    return fresh


@pytest.fixture
def ana(sphere: Sphere) -> User:
    return make_member("ana@example.com", name="Ana", spheres=(sphere,))


@pytest.fixture
def ben(sphere: Sphere) -> User:
    return make_member("ben@example.com", name="Ben", spheres=(sphere,))


def call(sphere: Sphere, a: User, b: User) -> Conversation:
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab="a-tab",
        b_user_id=b.pk,
        b_tab="b-tab",
        shared_interests=[],
    )


def say(buffer: MemoryChatBuffer, conversation: Conversation, user: User, text: str) -> None:
    buffer.push_now(conversation.public_id, line_for(user_id=user.pk, text=text, at=AT))


def test_a_report_within_the_window_gets_the_last_20_lines_said_by_reporter_or_subject(
    sphere: Sphere, ana: User, ben: User, buffer: MemoryChatBuffer, clock: Clock
) -> None:
    conversation = call(sphere, ana, ben)
    for n in range(25):
        say(buffer, conversation, ben if n % 2 else ana, f"line {n}")
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    clock.now += 9 * 60  # within 10 minutes of the last line
    report = report_create(
        reporter_id=ana.pk, subject_id=ben.pk, reason="harassment", details="  He was rude.  "
    )
    assert report.conversation == conversation and report.sphere == sphere
    assert (report.reason, report.details, report.subject_label) == (
        "harassment",
        "He was rude.",
        "Ben",
    )
    assert report.state == Report.State.OPEN
    assert len(report.chat_excerpt) == 20
    assert report.chat_excerpt[0] == {"from": "subject", "text": "line 5", "at": AT.isoformat()}
    assert report.chat_excerpt[-1] == {"from": "reporter", "text": "line 24", "at": AT.isoformat()}
    assert {line["from"] for line in report.chat_excerpt} == {"reporter", "subject"}


def test_after_the_window_the_lines_are_gone_and_the_report_has_none(
    sphere: Sphere, ana: User, ben: User, buffer: MemoryChatBuffer, clock: Clock
) -> None:
    conversation = call(sphere, ana, ben)
    say(buffer, conversation, ben, "something awful")
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    clock.now += 10 * 60
    assert buffer.lines(conversation.public_id) == []
    report = report_create(reporter_id=ana.pk, subject_id=ben.pk, reason="hate")
    assert report.conversation == conversation and report.chat_excerpt == []


def test_the_conversation_named_is_used_only_if_it_was_theirs_else_their_latest(
    sphere: Sphere, ana: User, ben: User, buffer: MemoryChatBuffer
) -> None:
    cleo = make_member("cleo@example.com", name="Cleo", spheres=(sphere,))
    first = talk(sphere, ana, ben)
    latest = talk(sphere, ana, ben)
    theirs = call(sphere, ben, cleo)
    say(buffer, theirs, ben, "only for Cleo")
    say(buffer, theirs, cleo, "only for Ben")
    # Ana names a conversation she was not in: she gets her own latest with Ben instead.
    report = report_create(
        reporter_id=ana.pk,
        subject_id=ben.pk,
        reason="spam",
        conversation_public_id=theirs.public_id,
    )
    assert report.conversation == latest and report.chat_excerpt == []
    named = report_create(
        reporter_id=ana.pk, subject_id=ben.pk, reason="spam", conversation_public_id=first.public_id
    )
    assert named.conversation == first


def test_the_reporter_is_told_at_once_in_app(ana: User, ben: User, sphere: Sphere) -> None:
    talk(sphere, ana, ben)
    report_create(reporter_id=ana.pk, subject_id=ben.pk, reason="threat")
    (note,) = Notification.objects.filter(recipient=ana)
    assert note.kind == Notification.Kind.REPORT_RECEIVED
    assert words_for(note) == (
        "We received your report about Ben. A moderator will look at it;"
        " we'll tell you what they decide"
    )
    # The reported person hears nothing of it.
    assert not Notification.objects.filter(recipient=ben).exists()


def test_a_report_can_block_them_too(ana: User, ben: User, sphere: Sphere) -> None:
    conversation = call(sphere, ana, ben)
    report_create(reporter_id=ana.pk, subject_id=ben.pk, reason="sexual", also_block=True)
    assert Block.objects.filter(blocker=ana, blocked=ben).exists()
    conversation.refresh_from_db()
    assert conversation.state == Conversation.State.ENDED


def test_bad_reports_are_refused_in_words(
    settings: Any, ana: User, ben: User, sphere: Sphere
) -> None:
    talk(sphere, ana, ben)
    for kwargs, words in (
        ({"reason": "rude"}, "Choose what the report is about."),
        (
            {"reason": "other", "details": "x" * 2001},
            "Say what happened in at most 2,000 characters.",
        ),
        ({"reason": "other", "subject_id": ana.pk}, "That is you."),
    ):
        with pytest.raises(ApplicationError) as refused:
            report_create(**{"reporter_id": ana.pk, "subject_id": ben.pk, **kwargs})
        assert refused.value.message == words
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report": "1/h"}
    report_create(reporter_id=ana.pk, subject_id=ben.pk, reason="other")
    with pytest.raises(RateLimited):
        report_create(reporter_id=ana.pk, subject_id=ben.pk, reason="other")
    assert Report.objects.count() == 1


# ---------------------------------------------------------------- the buffer in Redis


def test_the_redis_buffer_keeps_20_lines_with_an_expiry_and_drops_them_after() -> None:
    import redis
    import redis.asyncio

    from tests.redis_support import delete_prefix, shared_redis_url, unique_prefix

    url, prefix = shared_redis_url(), unique_prefix()
    reader = redis.Redis.from_url(url)

    async def push_all(seconds: int, count: int) -> None:
        writer = redis.asyncio.Redis.from_url(url)
        try:
            buffer = RedisChatBuffer(writer=writer, reader=None, key_prefix=prefix, seconds=seconds)
            for n in range(count):
                await buffer.push("conv", line_for(user_id=n % 2, text=f"line {n}", at=AT))
        finally:
            await writer.aclose()

    try:
        asyncio.run(push_all(600, 25))
        buffer = RedisChatBuffer(writer=None, reader=reader, key_prefix=prefix)
        lines = buffer.lines("conv")
        assert [line["text"] for line in lines] == [f"line {n}" for n in range(5, 25)]
        assert 0 < reader.ttl(buffer.key("conv")) <= 600
        asyncio.run(push_all(1, 1))
        for _ in range(100):  # bounded: Redis drops the key once its second is up
            if not reader.exists(buffer.key("conv")):
                break
            time.sleep(0.05)
        assert buffer.lines("conv") == []
    finally:
        reader.close()
        delete_prefix(url, prefix)


# ---------------------------------------------------------------- the pages


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_report_page_works_without_javascript(
    ana: User, ben: User, sphere: Sphere, buffer: MemoryChatBuffer
) -> None:
    conversation = talk(sphere, ana, ben)
    client = signed_in(ana)
    url = reverse("safety:report", kwargs={"handle": handle_of(ben)})
    form = text_of(client.get(url, {"conversation": conversation.public_id}).content)
    for words in (
        "Report Ben",
        "Reason",
        "Harassment or bullying",
        "What happened?",
        "Send report",
    ):
        assert words in form
    missing = client.post(url, {"details": "x"})
    assert missing.status_code == 400
    assert "Choose what the report is about." in text_of(missing.content)
    sent = client.post(
        url, {"reason": "spam", "details": "Links.", "conversation": conversation.public_id}
    )
    assert ACK in text_of(sent.content)
    (report,) = Report.objects.all()
    assert (report.reason, report.details, report.conversation) == ("spam", "Links.", conversation)


def test_the_report_dialog_gets_the_acknowledgement_in_json(
    ana: User, ben: User, sphere: Sphere
) -> None:
    talk(sphere, ana, ben)
    answer = signed_in(ana).post(
        reverse("safety:report", kwargs={"handle": handle_of(ben)}),
        {"reason": "minor", "also_block": "on"},
        HTTP_ACCEPT="application/json",
    )
    assert answer.json() == {
        "reported": True,
        "blocked": True,
        "message": ACK,
        "blocked_message": "You blocked Ben. They won't be told.",
    }
    refused = signed_in(ana).post(
        reverse("safety:report", kwargs={"handle": handle_of(ben)}),
        {},
        HTTP_ACCEPT="application/json",
    )
    assert refused.status_code == 400
    assert refused.json() == {"error": "bad_reason", "message": "Choose what the report is about."}


def test_over_the_report_limit_the_dialog_gets_429_with_the_wait(
    settings: Any, ana: User, ben: User, sphere: Sphere
) -> None:
    talk(sphere, ana, ben)
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "report": "1/h"}
    client = signed_in(ana)
    url = reverse("safety:report", kwargs={"handle": handle_of(ben)})
    assert client.post(url, {"reason": "spam"}, HTTP_ACCEPT="application/json").status_code == 200
    limited = client.post(url, {"reason": "spam"}, HTTP_ACCEPT="application/json")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["error"] == "rate_limited"
    assert limited.json()["message"].startswith("You've done that too often.")
