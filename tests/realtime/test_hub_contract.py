"""The contract every ``Hub`` keeps, written once and run on each backend.

``memory`` is ``MemoryHub`` (one process); ``redis`` is ``RedisHub`` on the
shared Redis named by TEST_REDIS_URL, under a key prefix of the test's own
(skipped with the reason when it is unset, a failure under CI=true). Where a
test asks for two hubs it means two processes of one site: for ``memory``
that is the one hub twice (a single process holds everything), for ``redis``
two hubs with clients of their own on the same Redis and prefix.

Each test is a coroutine run to completion on the backend's event loop;
deliveries through Redis arrive a moment after ``publish`` returns, so tests
wait for them with :func:`eventually` (a bounded wait, never a timing).

The tests after the contract are about Redis alone: processes that crash, are
taken for dead, or find Redis emptied.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import redis.asyncio

from chatspheres.realtime.hub import Envelope, Hub, MemoryHub, first_event_id
from chatspheres.realtime.redis_hub import RedisHub, redis_client
from tests.redis_support import delete_prefix, shared_redis  # noqa: F401

T = TypeVar("T")

# A delivery that takes longer than this has failed; it bounds a hang.
WAIT_LIMIT_SECONDS = 5.0
GRACE = 20.0


class Recorder:
    """An inbox that keeps what it receives; ``takes_now=False`` refuses the synchronous path."""

    def __init__(self, *, takes_now: bool = True) -> None:
        self.got: list[Envelope] = []
        self.takes_now = takes_now

    async def deliver(self, envelope: Envelope) -> None:
        self.got.append(envelope)

    def deliver_now(self, envelope: Envelope) -> bool:
        if not self.takes_now:
            return False
        self.got.append(envelope)
        return True

    @property
    def frames(self) -> list[str]:
        return [envelope.frame for envelope in self.got]


class Backend:
    """Makes hubs of one kind for one test, all on the test's own event loop."""

    def __init__(self, name: str, url: str | None = None, prefix: str = "") -> None:
        self.name = name
        self.url = url
        self.prefix = prefix
        self.loop = asyncio.new_event_loop()
        self._started: list[Hub] = []
        self._clients: list[redis.asyncio.Redis] = []
        self._memory: MemoryHub | None = None

    def run(self, awaitable: Awaitable[T]) -> T:
        async def wrapped() -> T:
            return await awaitable

        return self.loop.run_until_complete(wrapped())

    async def hub(self, **options: Any) -> Hub:
        """A hub as one more process sees it (for memory: the one hub of the process)."""
        log_size = options.pop("log_size", 200)
        log_seconds = options.pop("log_seconds", 300.0)
        if self.name == "memory":
            if self._memory is None:
                self._memory = MemoryHub(log_size=log_size, log_seconds=log_seconds)
                await self._memory.start()
                self._started.append(self._memory)
            return self._memory
        assert self.url is not None
        client = redis_client(self.url)
        self._clients.append(client)
        hub = RedisHub(
            client,
            url=self.url,
            prefix=self.prefix,
            log_size=log_size,
            log_seconds=log_seconds,
            process_ttl=options.pop("process_ttl", 10.0),
            reconnect_grace=GRACE,
        )
        await hub.start()
        self._started.append(hub)
        return hub

    async def hubs(self, count: int = 2, **options: Any) -> list[Hub]:
        return [await self.hub(**dict(options)) for _ in range(count)]

    async def restart(self, **options: Any) -> Hub:
        """The store as a restart leaves it (empty), seen by a new hub."""
        if self.name == "memory":
            self._memory = None
        else:
            assert self.url is not None
            delete_prefix(self.url, self.prefix)
        return await self.hub(**options)

    def close(self) -> None:
        async def stop_all() -> None:
            for hub in reversed(self._started):
                await hub.stop()
            for client in self._clients:
                await client.aclose()

        try:
            self.loop.run_until_complete(stop_all())
        finally:
            self.loop.close()


@pytest.fixture(params=["memory", "redis"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    if request.param == "memory":
        made = Backend("memory")
    else:
        url, prefix = request.getfixturevalue("shared_redis")
        made = Backend("redis", url, prefix)
    try:
        yield made
    finally:
        made.close()


@pytest.fixture
def redis_backend(shared_redis: tuple[str, str]) -> Iterator[Backend]:  # noqa: F811
    made = Backend("redis", *shared_redis)
    try:
        yield made
    finally:
        made.close()


def on_loop(
    test: Callable[[Backend], Coroutine[Any, Any, None]],
) -> Callable[[Backend], None]:
    """Run an async test on the backend's event loop."""

    @functools.wraps(test)
    def run(backend: Backend) -> None:
        backend.run(test(backend))

    return run


def on_redis(
    test: Callable[[Backend], Coroutine[Any, Any, None]],
) -> Callable[[Backend], None]:
    """Run an async Redis-only test on its backend's event loop."""

    @functools.wraps(test)
    def run(redis_backend: Backend) -> None:
        redis_backend.run(test(redis_backend))

    return run


async def eventually(condition: Callable[[], bool], what: str = "the condition") -> None:
    """Wait (bounded) until ``condition`` holds."""
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {WAIT_LIMIT_SECONDS} s")
        await asyncio.sleep(0.005)


async def settle() -> None:
    """Give deliveries in flight time to arrive (before asserting that nothing more does)."""
    await asyncio.sleep(0.05)


def envelope(text: str, kind: str = "note") -> Envelope:
    return Envelope(json.dumps({"type": kind, "text": text}, separators=(",", ":")), kind)


def texts(inbox: Recorder) -> list[str]:
    return [json.loads(frame)["text"] for frame in inbox.frames]


# Fan-out ------------------------------------------------------------------------------


@on_loop
async def test_a_message_reaches_every_inbox_of_its_channel_and_no_other(
    backend: Backend,
) -> None:
    here, there = await backend.hubs(2)
    first, second, elsewhere = Recorder(), Recorder(), Recorder()
    await here.subscribe("user:1", first)
    await there.subscribe("user:1", second)
    await there.subscribe("user:2", elsewhere)

    await here.publish("user:1", envelope("hello"))
    await eventually(lambda: len(first.got) == 1 and len(second.got) == 1, "both deliveries")
    await there.publish("user:2", envelope("only two"))
    await eventually(lambda: len(elsewhere.got) == 1)
    await settle()
    assert texts(first) == texts(second) == ["hello"]
    assert texts(elsewhere) == ["only two"]

    await there.unsubscribe("user:1", second)
    await here.publish("user:1", envelope("again"))
    await eventually(lambda: len(first.got) == 2)
    await here.publish("user:3", envelope("nobody listens"))
    await settle()
    assert texts(first) == ["hello", "again"]
    assert texts(second) == ["hello"]


@on_loop
async def test_the_same_inbox_on_two_channels_gets_both(backend: Backend) -> None:
    (hub,) = await backend.hubs(1)
    inbox = Recorder()
    await hub.subscribe("tab:a", inbox)
    await hub.subscribe("user:1", inbox)
    await hub.publish("tab:a", envelope("for the tab"))
    await hub.publish("user:1", envelope("for the member"))
    await eventually(lambda: len(inbox.got) == 2)
    assert texts(inbox) == ["for the tab", "for the member"]


@on_loop
async def test_what_one_process_publishes_arrives_in_order_whatever_the_path(
    backend: Backend,
) -> None:
    here, there = await backend.hubs(2)
    local, remote = Recorder(), Recorder()
    await here.subscribe("tab:here", local)
    await there.subscribe("tab:there", remote)
    sent = []
    for number in range(120):
        text = str(number)
        sent.append(text)
        for channel in ("tab:here", "tab:there"):
            if number % 3 == 0:
                await here.publish(channel, envelope(text))
            elif number % 3 == 1:
                await here.publish_logged(7, channel, envelope(text))
            elif not here.publish_now(channel, envelope(text)):
                await here.publish(channel, envelope(text))
    await eventually(lambda: len(local.got) == len(remote.got) == len(sent), "every delivery")
    assert texts(local) == sent
    assert texts(remote) == sent


@on_loop
async def test_publish_now_hands_a_local_tab_its_frame_at_once(backend: Backend) -> None:
    (hub,) = await backend.hubs(1)
    tab = Recorder()
    await hub.subscribe("tab:t", tab)
    assert hub.publish_now("tab:t", envelope("now")) is True
    assert texts(tab) == ["now"]  # synchronously: nothing was awaited

    slow = Recorder(takes_now=False)
    await hub.subscribe("tab:slow", slow)
    assert hub.publish_now("tab:slow", envelope("later")) is False  # the caller publishes
    assert slow.got == []

    assert hub.publish_now("tab:nobody", envelope("lost")) is True  # as publish() would find


@on_loop
async def test_publish_now_never_overtakes_an_earlier_publish(backend: Backend) -> None:
    (hub,) = await backend.hubs(1)
    tab = Recorder()
    await hub.subscribe("tab:t", tab)
    await hub.publish("tab:t", envelope("first"))
    await hub.publish_logged(3, "tab:t", envelope("second"))
    if not hub.publish_now("tab:t", envelope("third")):
        await hub.publish("tab:t", envelope("third"))
    await eventually(lambda: len(tab.got) == 3)
    assert texts(tab) == ["first", "second", "third"]


@on_loop
async def test_publish_now_to_a_tab_of_another_process_arrives(backend: Backend) -> None:
    here, there = await backend.hubs(2)
    partner = Recorder()
    await there.subscribe("tab:p", partner)
    for number in range(20):
        assert here.publish_now("tab:p", envelope(str(number))) is True
    await eventually(lambda: len(partner.got) == 20)
    assert texts(partner) == [str(number) for number in range(20)]


# The event log ------------------------------------------------------------------------


@on_loop
async def test_logged_events_get_growing_ids_spliced_into_their_frames(backend: Backend) -> None:
    here, there = await backend.hubs(2)
    inbox = Recorder()
    await there.subscribe("user:5", inbox)
    before = first_event_id()
    start = await here.last_event_id(5)
    assert start >= before  # ids start from the clock
    sent = [await here.publish_logged(5, "user:5", envelope(str(n))) for n in range(3)]
    sent.append(await there.publish_logged(5, "user:5", envelope("3")))
    assert [each.id for each in sent] == [start + 1, start + 2, start + 3, start + 4]
    first = json.loads(sent[0].frame)
    assert list(first) == ["id", "type", "text"]
    assert first["id"] == start + 1
    await eventually(lambda: len(inbox.got) == 4)
    assert inbox.got == sent
    assert await there.last_event_id(5) == start + 4


@on_loop
async def test_replay_returns_what_came_after_and_refuses_what_it_cannot_know(
    backend: Backend,
) -> None:
    here, there = await backend.hubs(2, log_size=3)
    assert await here.replay(6, 0) is None  # nothing known of the member
    start = await here.last_event_id(6)
    assert await there.replay(6, start) == []
    sent = [await here.publish_logged(6, "user:6", envelope(str(n))) for n in range(5)]
    # Three are kept: events start+3 .. start+5; the floor is start+2.
    assert await there.replay(6, start + 2) == sent[2:]
    assert await there.replay(6, start + 4) == sent[4:]
    assert await there.replay(6, start + 5) == []
    assert await there.replay(6, start + 1) is None  # event start+2 was dropped
    assert await there.replay(6, start + 6) is None  # beyond the newest
    for replayed in await there.replay(6, start + 2) or []:
        assert json.loads(replayed.frame)["id"] == replayed.id


@on_loop
async def test_an_event_for_one_tab_is_logged_with_that_tab(backend: Backend) -> None:
    (hub,) = await backend.hubs(1)
    start = await hub.last_event_id(8)
    sent = await hub.publish_logged(
        8, "tab:z", Envelope('{"type":"chat"}', "chat", ("conversation",), tab="z")
    )
    (replayed,) = await hub.replay(8, start) or []
    assert replayed == sent
    assert (replayed.tab, replayed.meta, replayed.type) == ("z", ("conversation",), "chat")


@on_loop
async def test_an_idle_log_is_forgotten_and_ids_keep_growing(backend: Backend) -> None:
    (hub,) = await backend.hubs(1, log_seconds=0.2)
    old = await hub.publish_logged(9, "user:9", envelope("old"))
    await asyncio.sleep(0.3)
    await hub.sweep(time.time())
    assert await hub.replay(9, old.id) is None
    new = await hub.publish_logged(9, "user:9", envelope("new"))
    assert new.id > old.id


@on_loop
async def test_after_a_restart_ids_still_grow_and_old_ones_cannot_be_replayed(
    backend: Backend,
) -> None:
    (hub,) = await backend.hubs(1)
    old = await hub.publish_logged(10, "user:10", envelope("before"))
    fresh = await backend.restart()
    assert await fresh.replay(10, old.id) is None
    assert await fresh.last_event_id(10) > old.id
    new = await fresh.publish_logged(10, "user:10", envelope("after"))
    assert new.id > old.id


# Presence --------------------------------------------------------------------------------


@on_loop
async def test_presence_counts_distinct_members_whatever_their_tabs(backend: Backend) -> None:
    here, there = await backend.hubs(2)
    assert await here.presence_add("sphere:1", 7) is True
    assert await there.presence_add("sphere:1", 7) is False  # a second tab
    assert await here.presence_add("sphere:1", 7) is False  # a third
    assert await there.presence_add("sphere:1", 8) is True
    counts = await here.presence_counts(["sphere:1", "sphere:2"])
    assert counts == {"sphere:1": 2, "sphere:2": 0}
    assert await there.presence_counts(["sphere:1"]) == {"sphere:1": 2}

    assert await here.presence_remove("sphere:1", 7) is False  # two tabs still open
    assert await there.presence_remove("sphere:1", 7) is False  # one still open
    assert await here.presence_remove("sphere:1", 7) is True
    assert await here.presence_remove("sphere:1", 7) is False  # nothing left to remove
    assert await there.presence_counts(["sphere:1"]) == {"sphere:1": 1}
    assert await there.presence_remove("sphere:1", 8) is True
    assert await here.presence_counts(["sphere:1"]) == {"sphere:1": 0}


@on_loop
async def test_presence_scopes_are_independent(backend: Backend) -> None:
    (hub,) = await backend.hubs(1)
    assert await hub.presence_add("sphere:1", 7) is True
    assert await hub.presence_add("sphere:2", 7) is True
    assert await hub.presence_remove("sphere:1", 7) is True
    assert await hub.presence_counts(["sphere:1", "sphere:2"]) == {"sphere:1": 0, "sphere:2": 1}
    assert await hub.presence_counts([]) == {}


# Tabs ----------------------------------------------------------------------------------


@on_loop
async def test_attaching_counts_the_members_open_tabs(backend: Backend) -> None:
    here, there = await backend.hubs(2)
    assert await here.tab_attach("a1", 1, "s1") == 1
    assert await there.tab_attach("a2", 1, "s2") == 2
    assert await here.tab_attach("b1", 2, "s3") == 1
    assert await there.tab_owner("a1") == 1
    assert await here.tab_owner("nope") is None
    assert await here.tabs_alive(["a1", "a2", "b1", "nope"]) == {"a1", "a2", "b1"}
    assert await here.tabs_alive([]) == set()


@on_loop
async def test_only_the_socket_that_serves_a_tab_detaches_it(backend: Backend) -> None:
    here, there = await backend.hubs(2)
    await here.tab_attach("t", 1, "old")
    await there.tab_attach("t", 1, "new")  # the tab moved to a new socket
    await here.tab_detach("t", "old")  # the old socket's late goodbye changes nothing
    assert await here.tab_owner("t") == 1
    assert await here.tabs_alive(["t"]) == {"t"}
    await here.tab_lost("t", "old", time.time() + 60)  # nor does its late loss
    assert await there.tabs_alive(["t"]) == {"t"}
    await there.tab_detach("t", "new")
    assert await here.tab_owner("t") is None
    assert await there.tab_attach("u", 1, "s") == 1  # "t" no longer counts


@on_loop
async def test_a_lost_tab_keeps_its_owner_and_resumes_within_its_deadline(
    backend: Backend,
) -> None:
    here, there = await backend.hubs(2)
    now = time.time()
    assert await here.tab_attach("t", 1, "s1") == 1
    await here.tab_lost("t", "s1", now + 20)
    assert await there.tab_owner("t") == 1
    assert await there.tabs_alive(["t"]) == set()
    assert await there.tab_attach("other", 1, "s2") == 1  # a lost tab is not open
    assert (await there.sweep(now + 10)).gone == []

    assert await there.tab_attach("t", 1, "s3") == 2  # resumed, on another process
    assert await here.tabs_alive(["t"]) == {"t"}
    result = await here.sweep(now + 30)
    assert result.gone == [] and result.lost == []
    assert await there.tab_owner("t") == 1


@on_loop
async def test_a_tab_that_did_not_come_back_is_gone_once_across_processes(
    backend: Backend,
) -> None:
    here, there = await backend.hubs(2)
    now = time.time()
    await here.tab_attach("t", 4, "s")
    await here.tab_lost("t", "s", now + 5)
    assert (await there.sweep(now + 4)).gone == []
    first = await here.sweep(now + 6)
    second = await there.sweep(now + 6)
    gone = first.gone + second.gone
    assert [(ref.tab, ref.user) for ref in gone] == [("t", 4)]
    assert await here.tab_owner("t") is None
    assert (await here.sweep(now + 60)).gone == []


# Limits ----------------------------------------------------------------------------------


@on_loop
async def test_hits_beyond_the_limit_in_the_window_are_refused(backend: Backend) -> None:
    here, there = await backend.hubs(2)
    assert [await here.hit("k", 3, 0.3) for _ in range(2)] == [True, True]
    assert await there.hit("k", 3, 0.3) is True
    assert await here.hit("k", 3, 0.3) is False
    assert await there.hit("k", 3, 0.3) is False
    assert await here.hit("other", 3, 0.3) is True
    await asyncio.sleep(0.35)
    assert await there.hit("k", 3, 0.3) is True


@on_loop
async def test_a_running_hub_is_ready(backend: Backend) -> None:
    (hub,) = await backend.hubs(1)
    assert await hub.ready() is True


# Redis only: processes that die, are taken for dead, or find Redis emptied -----------------


def redis_hub(hub: Hub) -> RedisHub:
    assert isinstance(hub, RedisHub)
    return hub


@on_redis
async def test_logged_events_from_two_processes_arrive_in_id_order_everywhere(
    redis_backend: Backend,
) -> None:
    here, there = await redis_backend.hubs(2)
    near, far = Recorder(), Recorder()
    await here.subscribe("user:3", near)
    await there.subscribe("user:3", far)
    sent = await asyncio.gather(
        *(
            (here if number % 2 else there).publish_logged(3, "user:3", envelope(str(number)))
            for number in range(60)
        )
    )
    await eventually(lambda: len(near.got) == len(far.got) == 60, "every delivery")
    ids = sorted(each.id for each in sent)
    assert [each.id for each in near.got] == ids
    assert [each.id for each in far.got] == ids
    assert ids == list(range(ids[0], ids[0] + 60))


@on_redis
async def test_the_tabs_and_presence_of_a_crashed_process_are_reaped_by_another(
    redis_backend: Backend,
) -> None:
    crashed = redis_hub(await redis_backend.hub(process_ttl=0.3))
    survivor, bystander = await redis_backend.hubs(2)
    await crashed.tab_attach("dead-tab", 11, "s1")
    await crashed.presence_add("sphere:1", 11)
    await survivor.tab_attach("live-tab", 12, "s2")
    await survivor.presence_add("sphere:1", 12)
    assert (await survivor.sweep(time.time())).lost == []  # the process is alive

    await crashed.stop(deregister=False)  # its heartbeat stops: a crash
    await asyncio.sleep(0.4)
    now = time.time()
    reaped = (await survivor.sweep(now)).lost + (await bystander.sweep(now)).lost
    assert [(ref.tab, ref.user) for ref in reaped] == [("dead-tab", 11)]  # once
    assert await bystander.presence_counts(["sphere:1"]) == {"sphere:1": 1}
    assert await survivor.tabs_alive(["dead-tab", "live-tab"]) == {"live-tab"}
    assert await survivor.tab_owner("dead-tab") == 11  # it may still resume elsewhere

    assert await bystander.tab_attach("dead-tab", 11, "s3") == 1  # it did
    assert (await survivor.sweep(now + GRACE + 1)).gone == []


@on_redis
async def test_a_reaped_tab_that_never_comes_back_is_gone_after_the_grace(
    redis_backend: Backend,
) -> None:
    crashed = redis_hub(await redis_backend.hub(process_ttl=0.3))
    survivor = await redis_backend.hub()
    await crashed.tab_attach("t", 13, "s")
    await crashed.stop(deregister=False)
    await asyncio.sleep(0.4)
    now = time.time()
    assert [ref.tab for ref in (await survivor.sweep(now)).lost] == ["t"]
    assert (await survivor.sweep(now + GRACE - 1)).gone == []
    assert [ref.tab for ref in (await survivor.sweep(now + GRACE + 1)).gone] == ["t"]


@on_redis
async def test_a_process_taken_for_dead_writes_its_state_again(redis_backend: Backend) -> None:
    slow = redis_hub(await redis_backend.hub(process_ttl=0.3))
    other = await redis_backend.hub()
    await slow.tab_attach("t", 14, "s")
    await slow.presence_add("sphere:4", 14)
    client = redis.asyncio.Redis.from_url(redis_backend.url or "")
    try:
        # Its liveness lapses (a long pause) and another process reaps it.
        await client.delete(f"{redis_backend.prefix}proc:{slow.process_id}")
        assert [ref.tab for ref in (await other.sweep(time.time())).lost] == ["t"]
        assert await other.presence_counts(["sphere:4"]) == {"sphere:4": 0}
    finally:
        await client.aclose()

    async def restored() -> bool:
        return await other.tabs_alive(["t"]) == {"t"} and (
            await other.presence_counts(["sphere:4"])
        ) == {"sphere:4": 1}

    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not await restored():  # its next heartbeat finds out
        assert time.monotonic() < deadline, "the process did not write its state again"
        await asyncio.sleep(0.02)


@on_redis
async def test_a_process_finding_redis_emptied_restores_its_state_and_tells_the_apps(
    redis_backend: Backend,
) -> None:
    hub = redis_hub(await redis_backend.hub(process_ttl=0.3))
    restorations: list[float] = []

    async def on_restored() -> None:
        restorations.append(time.time())

    hub.on_restored = on_restored
    inbox = Recorder()
    await hub.subscribe("user:15", inbox)
    await hub.tab_attach("t", 15, "s")
    await hub.presence_add("sphere:5", 15)
    await hub.presence_add("sphere:5", 15)  # two tabs
    assert redis_backend.url is not None
    delete_prefix(redis_backend.url, redis_backend.prefix)  # as a restart leaves Redis

    await eventually(lambda: len(restorations) == 1, "the restored callback")
    assert await hub.presence_counts(["sphere:5"]) == {"sphere:5": 1}
    assert await hub.tabs_alive(["t"]) == {"t"}
    assert await hub.tab_attach("t2", 15, "s2") == 2
    other = await redis_backend.hub()
    await other.publish("user:15", envelope("still subscribed"))
    await eventually(lambda: len(inbox.got) == 1)
    await asyncio.sleep(0.4)  # more heartbeats: restoring happened once
    assert len(restorations) == 1
    assert await hub.presence_remove("sphere:5", 15) is False
    assert await hub.presence_remove("sphere:5", 15) is True
