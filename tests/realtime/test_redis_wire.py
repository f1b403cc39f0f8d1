"""The lean wire to Redis (``redis_wire.py``), against a redis-server of the test's own.

Replies come back in order whatever is pipelined, error replies raise
redis-py's exceptions, scripts survive Redis forgetting them, the URL's
database is used, and a restart fails what was waiting and nothing after it.
The subscriber hands messages over in order and subscribes again after a
restart. Every wait is bounded; nothing is timed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import pytest
import redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatspheres.realtime.redis_wire import Address, RedisConnection, RedisSubscriber
from tests.redis_support import OwnRedis, own_redis  # noqa: F401

T = TypeVar("T")

# Bounds a wait that should end much sooner; it times nothing.
WAIT_LIMIT_SECONDS = 10.0


def run(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(scenario())


@asynccontextmanager
async def connected(url: str, **options: Any) -> AsyncIterator[RedisConnection]:
    wire = RedisConnection(url, **options)
    try:
        yield wire
    finally:
        await wire.aclose()


async def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_LIMIT_SECONDS
    while not condition():
        assert time.monotonic() < deadline, f"{what} did not happen"
        await asyncio.sleep(0.01)


# Addresses -------------------------------------------------------------------------------


def test_a_url_gives_host_port_database_and_credentials() -> None:
    assert Address.from_url("redis://10.0.0.5:6380/4") == Address(host="10.0.0.5", port=6380, db=4)
    assert Address.from_url("redis://localhost") == Address(host="localhost")
    signed = Address.from_url("redis://:s%40cret@h:1/2")
    assert (signed.username, signed.password, signed.db) == (None, "s@cret", 2)
    assert signed.sign_in() == [(b"AUTH", "s@cret"), (b"SELECT", 2)]
    assert Address.from_url("redis://ana:pw@h").sign_in() == [(b"AUTH", "ana", "pw")]
    assert Address.from_url("unix:///run/redis.sock?db=3") == Address(
        host="", path="/run/redis.sock", db=3
    )
    assert Address.from_url("rediss://h").tls is True
    with pytest.raises(ValueError):
        Address.from_url("http://h")


def test_the_address_of_a_redis_py_client() -> None:
    client = redis.asyncio.Redis.from_url("redis://:pw@10.1.2.3:6390/5")
    address = Address.from_client(client)
    assert (address.host, address.port, address.db, address.password) == (
        "10.1.2.3",
        6390,
        5,
        "pw",
    )
    assert RedisConnection.for_client(client) is RedisConnection.for_client(client)


# Commands ----------------------------------------------------------------------------------


def test_pipelined_replies_come_back_in_order(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        async with connected(own_redis.url) as wire:
            # Nothing is awaited until all are written: one pipeline.
            counts = [wire.call(b"INCR", "n") for _ in range(500)]
            mixed = [wire.call(b"SET", "k", "v"), wire.call(b"GET", "k"), wire.call(b"GET", "no")]
            assert await asyncio.gather(*counts) == list(range(1, 501))
            assert await asyncio.gather(*mixed) == [b"OK", b"v", None]
            assert await wire.call(b"LRANGE", "nothing", 0, -1) == []

    run(scenario)


def test_error_replies_raise_and_the_connection_goes_on(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        async with connected(own_redis.url) as wire:
            await wire.call(b"SET", "text", "abc")
            before, failing, after = (
                wire.call(b"INCR", "n"),
                wire.call(b"INCR", "text"),
                wire.call(b"INCR", "n"),
            )
            assert await before == 1
            with pytest.raises(ResponseError, match="not an integer"):
                await failing
            assert await after == 2
            with pytest.raises(ResponseError, match="unknown command"):
                await wire.call(b"NO-SUCH-COMMAND")

    run(scenario)


def test_sending_without_waiting_keeps_the_order_and_counts_failures(
    own_redis: OwnRedis,  # noqa: F811
) -> None:
    async def scenario() -> None:
        wire = RedisConnection(own_redis.url)
        failures: list[Exception] = []
        try:
            for number in range(100):
                # Every other one asks Redis for no reply at all: the replies
                # that do come must still find their callers.
                wire.send(b"RPUSH", "list", number, reply=number % 2 == 0)
            wire.send(b"INCR", "list", on_error=failures.append)  # the wrong type
            assert await wire.call(b"LRANGE", "list", 0, -1) == [
                str(number).encode() for number in range(100)
            ]
            assert wire.dropped == 1
            assert len(failures) == 1 and isinstance(failures[0], ResponseError)
        finally:
            await wire.aclose()

    run(scenario)


def test_a_script_redis_forgot_is_loaded_again(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        async with connected(own_redis.url) as wire:
            script = wire.script("return {KEYS[1], ARGV[1], 7}")
            assert await wire.evalsha(script, ["k"], ["a"]) == [b"k", b"a", 7]
            await wire.call(b"SCRIPT", b"FLUSH")
            assert await wire.evalsha(script, ["k"], ["b"]) == [b"k", b"b", 7]  # NOSCRIPT, then
            # A new connection loads every script it knows before anything else.
            await wire.call(b"SCRIPT", b"FLUSH")
            await wire.disconnect()
            assert await wire.call(b"SCRIPT", b"EXISTS", script.sha) == [1]

    run(scenario)


def test_the_database_of_the_url_is_selected(own_redis: OwnRedis) -> None:  # noqa: F811
    url = own_redis.url.rsplit("/", 1)[0] + "/3"

    async def scenario() -> None:
        async with connected(url) as wire:
            await wire.call(b"SET", "where", "three")

    run(scenario)
    third = redis.Redis.from_url(url)
    first = redis.Redis.from_url(own_redis.url)
    try:
        assert third.get("where") == b"three"
        assert first.get("where") is None
    finally:
        third.close()
        first.close()


def test_a_restart_fails_what_waits_then_calls_work_again(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        async with connected(own_redis.url) as wire:
            await wire.call(b"SET", "k", "v")
            waiting = wire.call(b"BLPOP", "never", 0)  # waits until Redis goes
            await asyncio.sleep(0.05)
            own_redis.stop()
            with pytest.raises(RedisConnectionError):
                await waiting
            # Redis is down: calls fail at once, sends are counted.
            with pytest.raises(RedisConnectionError):
                await wire.call(b"PING")
            dropped = wire.dropped
            wire.send(b"PING")
            await eventually(lambda: wire.dropped == dropped + 1, "the failed send counted")
            own_redis.start()

            async def answers() -> bool:
                try:
                    return await wire.call(b"PING") == b"PONG"
                except RedisConnectionError:
                    await asyncio.sleep(0.02)
                    return False

            deadline = time.monotonic() + WAIT_LIMIT_SECONDS
            while not await answers():
                assert time.monotonic() < deadline, "the connection did not come back"
            assert await wire.call(b"GET", "k") is None  # a new, empty Redis

    run(scenario)


def test_a_redis_restarted_while_the_connection_was_idle_costs_no_call(
    own_redis: OwnRedis,  # noqa: F811
) -> None:
    async def scenario() -> None:
        async with connected(own_redis.url) as wire:
            assert await wire.call(b"PING") == b"PONG"
            own_redis.restart()  # the loop does not run meanwhile: nothing noticed yet
            assert await wire.call(b"SET", "k", "again") == b"OK"

    run(scenario)


def test_a_redis_that_answers_nothing_is_given_up() -> None:
    async def scenario() -> None:
        async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(1 << 16)
            await asyncio.sleep(WAIT_LIMIT_SECONDS)
            writer.close()

        server = await asyncio.start_server(silent, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        wire = RedisConnection(f"redis://127.0.0.1:{port}/0", command_timeout=0.2)
        try:
            with pytest.raises(RedisTimeoutError):
                await wire.call(b"PING")
            assert not wire.connected
        finally:
            await wire.aclose()
            server.close()

    run(scenario)


def test_a_closed_connection_refuses_calls(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        wire = RedisConnection(own_redis.url)
        assert await wire.ping() is True
        await wire.aclose()
        with pytest.raises(RedisConnectionError):
            await wire.call(b"PING")

    run(scenario)


# The subscriber ------------------------------------------------------------------------------


class Listener:
    def __init__(self) -> None:
        self.messages: list[tuple[bytes, bytes]] = []
        self.confirmed: list[bytes] = []
        self.connections = 0
        self.disconnections = 0

    def subscriber(self, url: str) -> RedisSubscriber:
        return RedisSubscriber(
            url,
            on_message=lambda channel, data: self.messages.append((channel, data)),
            on_subscribed=self.confirmed.append,
            on_connected=self.connected,
            on_disconnected=self.disconnected,
        )

    def connected(self) -> None:
        self.connections += 1

    def disconnected(self) -> None:
        self.disconnections += 1


def test_a_subscriber_gets_its_channels_messages_in_order(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        listener = Listener()
        subscriber = listener.subscriber(own_redis.url)
        wire = RedisConnection(own_redis.url)
        subscriber.start()
        try:
            subscriber.subscribe(b"a")
            subscriber.subscribe(b"b")
            await eventually(lambda: sorted(listener.confirmed) == [b"a", b"b"], "confirmations")
            for number in range(300):
                wire.send(b"PUBLISH", b"ab"[number % 2 : number % 2 + 1], str(number))
            wire.send(b"PUBLISH", b"c", b"nobody listens")
            await eventually(lambda: len(listener.messages) == 300, "every message")
            assert listener.messages == [
                (b"ab"[number % 2 : number % 2 + 1], str(number).encode()) for number in range(300)
            ]
            subscriber.unsubscribe(b"a")
            assert await wire.call(b"PUBLISH", b"b", b"marker") == 1
            await wire.call(b"PUBLISH", b"a", b"after")
            await eventually(lambda: listener.messages[-1] == (b"b", b"marker"), "the marker")
            await asyncio.sleep(0.05)
            assert listener.messages[-1] == (b"b", b"marker")
        finally:
            await subscriber.aclose()
            await wire.aclose()

    run(scenario)


def test_a_subscriber_subscribes_again_after_a_restart(own_redis: OwnRedis) -> None:  # noqa: F811
    async def scenario() -> None:
        listener = Listener()
        subscriber = listener.subscriber(own_redis.url)
        wire = RedisConnection(own_redis.url)
        subscriber.start()
        try:
            subscriber.subscribe(b"kept")
            await eventually(lambda: listener.confirmed == [b"kept"], "the confirmation")
            assert listener.connections == 1
            own_redis.restart()
            await eventually(lambda: listener.disconnections == 1, "noticing the restart")
            subscriber.subscribe(b"added while away")
            await eventually(lambda: listener.connections == 2, "reconnecting")
            await eventually(lambda: len(listener.confirmed) == 3, "subscribing again")
            assert sorted(listener.confirmed[1:]) == [b"added while away", b"kept"]

            async def delivered() -> bool:
                try:
                    await wire.call(b"PUBLISH", b"kept", b"back")
                    await wire.call(b"PUBLISH", b"added while away", b"new")
                except RedisConnectionError:
                    return False
                await asyncio.sleep(0.02)
                return len(listener.messages) >= 2

            deadline = time.monotonic() + WAIT_LIMIT_SECONDS
            while not await delivered():
                assert time.monotonic() < deadline, "no delivery after the restart"
            assert listener.messages[:2] == [(b"kept", b"back"), (b"added while away", b"new")]
        finally:
            await subscriber.aclose()
            await wire.aclose()

    run(scenario)
