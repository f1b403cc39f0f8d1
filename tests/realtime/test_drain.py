"""SIGTERM drains a server process: its sockets close with 1012, and no conversation stays active.

With Redis, a tab whose process stops reconnects to another process and
resumes there, call and all; a tab that does not come back has its call ended
as `disconnected` by another process's sweep after the grace period. A lone
process (no Redis) ends its calls itself as it stops, since nobody can resume
them.
"""

from __future__ import annotations

import signal as signals
import time

import pytest
from websockets.exceptions import ConnectionClosed

from chatspheres.calls.models import Conversation
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.realtime.procs import ServerProcesses, server_processes  # noqa: F401
from tests.realtime.wsclient import RECEIVE_LIMIT_SECONDS, Tab, match, signal
from tests.redis_support import OwnRedis, own_redis  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)

# Short, so that the test waits little for a tab that does not come back.
GRACE_SECONDS = 2

CLOSE_SERVICE_RESTART = 1012
# After its graceful shutdown uvicorn raises the signal again, so the process
# ends "killed by SIGTERM" as its supervisor expects; 0 is as good.
STOPPED_BY_SIGTERM = (0, -signals.SIGTERM)


def closed_with(tab: Tab) -> int:
    """Read until the server closes the socket; the close code it gave."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            tab.receive()
    assert closed.value.rcvd is not None, "the server closed the socket with a close frame"
    return closed.value.rcvd.code


def relays_both_ways(first: Tab, second: Tab, conversation: str, note: str) -> None:
    first.send(signal(conversation, f"{note}-there"))
    assert f"{note}-there" in second.receive_type("signal")["data"]["candidate"]["candidate"]
    second.send(signal(conversation, f"{note}-back"))
    assert f"{note}-back" in first.receive_type("signal")["data"]["candidate"]["candidate"]


def conversation_state(public_id: str) -> tuple[str, str]:
    saved = Conversation.objects.get(public_id=public_id)
    return saved.state, saved.end_reason


def test_sigterm_hands_the_tab_to_another_process_and_the_call_goes_on(
    own_redis: OwnRedis,  # noqa: F811
    server_processes: ServerProcesses,  # noqa: F811
    sphere: Sphere,
) -> None:
    env = {"REDIS_URL": own_redis.url, "REALTIME_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS)}
    one, two = server_processes.start(2, env=env)
    ana = Tab(one.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(two.live, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)
    conversation = for_ana["conversation"]
    relays_both_ways(ana, ben, conversation, "before")

    assert two.stop() in STOPPED_BY_SIGTERM  # SIGTERM, and the process ends by itself
    assert closed_with(ben) == CLOSE_SERVICE_RESTART

    # Ana hears Ben dropped, then that he is back, on another process.
    assert ana.receive_type("call.partner_away")["grace_seconds"] == GRACE_SECONDS
    # Behind a proxy the page's origin is the same whichever process serves
    # it; here each process has a port, and so an origin, of its own.
    ben.origin = one.live.origin
    ready = ben.reconnect(one.live)
    assert ready["resumed"] is True
    ana.receive_type("call.partner_back")
    relays_both_ways(ana, ben, conversation, "after")
    assert conversation_state(conversation) == ("active", "")

    # Longer than the grace period: nothing ends a call whose tab came back.
    time.sleep(GRACE_SECONDS + 1.5)
    relays_both_ways(ana, ben, conversation, "later")
    assert conversation_state(conversation) == ("active", "")


def test_a_tab_that_does_not_come_back_ends_its_call_as_disconnected_after_the_grace(
    own_redis: OwnRedis,  # noqa: F811
    server_processes: ServerProcesses,  # noqa: F811
    sphere: Sphere,
) -> None:
    env = {"REDIS_URL": own_redis.url, "REALTIME_RECONNECT_GRACE_SECONDS": str(GRACE_SECONDS)}
    one, two = server_processes.start(2, env=env)
    ana = Tab(one.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(two.live, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)
    conversation = for_ana["conversation"]

    stopped = time.monotonic()
    assert two.stop() in STOPPED_BY_SIGTERM  # SIGTERM, and the process ends by itself
    assert closed_with(ben) == CLOSE_SERVICE_RESTART

    away = ana.receive_type("call.partner_away")
    assert away["grace_seconds"] == GRACE_SECONDS
    ended = ana.receive_type("call.ended")
    waited = time.monotonic() - stopped
    assert (ended["reason"], ended["by_me"]) == ("disconnected", False)
    assert GRACE_SECONDS <= waited < GRACE_SECONDS + RECEIVE_LIMIT_SECONDS
    assert conversation_state(conversation) == ("ended", "disconnected")


def test_a_lone_process_ends_its_calls_as_it_stops(
    server_processes: ServerProcesses,  # noqa: F811
    sphere: Sphere,
) -> None:
    # No REDIS_URL: one process, everything in its memory.
    (alone,) = server_processes.start(1)
    ana = Tab(alone.live, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(alone.live, make_member("ben@example.com", spheres=(sphere,)))
    for_ana, _ = match(ana, ben, sphere.pk)

    assert alone.stop() in STOPPED_BY_SIGTERM
    assert closed_with(ana) == CLOSE_SERVICE_RESTART
    assert closed_with(ben) == CLOSE_SERVICE_RESTART
    assert conversation_state(for_ana["conversation"]) == ("ended", "disconnected")
    assert not Conversation.objects.active().exists()
