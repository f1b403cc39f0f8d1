"""Chat relayed by the real gateway lands in the report buffer (memory or Redis), only there."""

from __future__ import annotations

import time

import pytest
from django.conf import settings

from chatspheres.calls.models import Conversation
from chatspheres.safety.chatbuffer import chat_lines
from chatspheres.safety.services import report_create
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab, match

pytestmark = pytest.mark.django_db(transaction=True)


def lines_when_kept(conversation: str, count: int) -> list[dict[str, object]]:
    """The buffered lines, once ``count`` arrived (the buffer is written just after the relay)."""
    for _ in range(200):  # bounds a hang; it does not time anything
        lines = chat_lines(conversation)
        if len(lines) >= count:
            return list(lines)  # type: ignore[arg-type]
        time.sleep(0.025)
    return list(chat_lines(conversation))  # type: ignore[arg-type]


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_relayed_chat_is_kept_briefly_and_only_a_report_copies_it(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana_user = make_member("ana@example.com", name="Ana", spheres=(sphere,))
    ben_user = make_member("ben@example.com", name="Ben", spheres=(sphere,))
    ana, ben = Tab(live_server, ana_user), Tab(live_server, ben_user)
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    ana.send({"type": "chat.send", "conversation": conversation, "text": "Hi Ben"})
    ben.receive_type("chat.message")
    ben.send({"type": "chat.send", "conversation": conversation, "text": "Go away"})
    ana.receive_type("chat.message")
    lines = lines_when_kept(conversation, 2)
    assert [(line["user"], line["text"]) for line in lines] == [
        (ana_user.pk, "Hi Ben"),
        (ben_user.pk, "Go away"),
    ]
    if settings.REDIS_URL:
        import redis

        client = redis.Redis.from_url(settings.REDIS_URL)
        try:
            ttl = client.ttl(f"{settings.REDIS_KEY_PREFIX}chat:{conversation}")
        finally:
            client.close()
        assert 0 < ttl <= 600
    ana.send({"type": "call.end", "conversation": conversation, "reason": "ended"})
    ana.receive_type("call.ended")
    report = report_create(reporter_id=ben_user.pk, subject_id=ana_user.pk, reason="other")
    assert report.conversation == Conversation.objects.get(public_id=conversation)
    assert [(line["from"], line["text"]) for line in report.chat_excerpt] == [
        ("subject", "Hi Ben"),
        ("reporter", "Go away"),
    ]
    ana.close()
    ben.close()
