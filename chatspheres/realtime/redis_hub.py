"""The hub on Redis: fan-out, the event log, presence and the tab registry for many processes.

:class:`RedisHub` keeps the contract of :class:`chatspheres.realtime.hub.Hub`
(read ``hub.py`` for what each call means) for every process of a site, on
one machine or many. docs/decisions/0004-redis.md explains the choices.

Fan-out
    Pub/sub, through the lean wire of ``redis_wire.py`` (RESP on asyncio
    protocols; redis-py serves only the cold ``redis_client``). Each process
    has one subscriber connection, subscribed to the channels some local inbox
    listens on (the first inbox subscribes, the last one leaving unsubscribes).
    A message is handed over synchronously as the subscriber reads it: each
    inbox takes it at once (``deliver_now``) unless it cannot, or something is
    already waiting in the process's delivery queue; then it joins that queue,
    which one task empties in order (awaiting ``deliver``), so this process
    delivers in Redis's order. Everything this process sends (plain messages,
    logged events, presence updates, every other call) is written at once, in
    call order, on one pipelined command connection, so nothing it sends
    overtakes something it sent before, and a burst costs one write.
    ``publish_now`` delivers synchronously when the channel's listener is a
    tab of this process and nothing of ours is still on its way to it through
    Redis or waiting in the delivery queue; otherwise it writes the PUBLISH at
    once without awaiting a reply (and, when no tab here waits for its copy,
    asks Redis to send none: no reply wakes this process up for it).

The event log
    One Lua script per logged event numbers it, appends it to the member's
    bounded list and publishes it, so ids, log order and delivery order agree
    whichever processes publish.

Presence and the tab registry
    Each process's own counts are the truth for its tabs; it mirrors them in
    Redis (who contributes what, per process) so that counts are site-wide.
    A process refreshes a liveness key; sweeps reap the contributions and tabs
    of a process whose key expired (a crash), atomically, and report its tabs
    as lost (they may resume elsewhere until their deadline).

Redis going away
    Hub calls raise redis-py's ``ConnectionError`` while Redis is unreachable
    (the command connection fails what waits when it loses Redis, and calls
    fail at once between reconnection attempts); background tasks and the
    connections log one line when they start failing and one when they work
    again. The subscriber reconnects with backoff and subscribes again to
    every local channel. A marker key tells a Redis that lost its data (a
    restart) from one that did not: then the process writes its tabs and
    presence again and calls ``on_restored`` (the runtime runs the apps'
    ``hub_restored`` hooks: the matcher queues waiting tabs again).

Keys, every one under the prefix ``P``:

* ``P epoch``: the marker; a random token, never expiring;
* ``P procs``: the set of registered process ids;
  ``P proc:<pid>``: a process's liveness key (expires after ``process_ttl``);
  ``P proc:<pid>:tabs``: the set of live tabs it serves;
  ``P proc:<pid>:presence``: its presence contributions, ``"<member> <scope>"``;
* ``P presence:<scope>``: a hash, member -> number of processes counting them
  (HLEN is the scope's count);
* ``P tab:<tab>``: a hash ``user``, ``socket``, ``proc`` (while live), ``lost``
  (the deadline, while lost); ``P member:<user>:tabs``: the member's live tabs;
  ``P lost``: a sorted set of lost tabs by deadline;
* ``P log:<user>``: a hash ``last``, ``floor``; ``P log:<user>:events``: a list
  of ``"<id> <envelope>"``, both expiring ``log_seconds`` after the last event;
* ``P hits:<key>``: a sorted set of hit times (ms);
* ``P ch:<channel>``: the pub/sub channel for ``tab:…``, ``user:…``, ``sphere:…``.

A message on a pub/sub channel is ``b"<origin> <counted> <id> " + msgpack(Envelope)``:
the publishing process, whether it waits for its own copy (see ``publish_now``),
and the event id (0 when not logged), which is spliced into the frame on arrival
(the envelope itself is encoded without it, so that the Lua script only has to
concatenate bytes).

Redis Cluster: the scripts compute most key names, so every key must hash to
one slot: give a prefix with a hash tag (``"{chatspheres}:"``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from chatspheres.realtime.hub import (
    Envelope,
    Inbox,
    SweepResult,
    TabRef,
    count_in,
    count_out,
    first_event_id,
    with_event_id,
)
from chatspheres.realtime.redis_wire import RedisConnection, RedisSubscriber, Trouble

__all__ = ["RedisHub", "redis_client"]

logger = logging.getLogger(__name__)

# The shared client ------------------------------------------------------------------

# Connections one process may hold; callers beyond wait up to POOL_WAIT_SECONDS
# for one to be free (the plain pool raises at once instead).
POOL_MAX_CONNECTIONS = 64
POOL_WAIT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
COMMAND_TIMEOUT_SECONDS = 5.0


def redis_client(url: str, *, max_connections: int = POOL_MAX_CONNECTIONS) -> Redis:
    """The process's Redis client: a bounded, blocking pool; hiredis parses the replies.

    One quick retry heals a connection that Redis closed (a restart); beyond
    that a call fails fast, so that a member hears "unavailable" at once
    rather than after seconds of backoff.
    """
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_WAIT_SECONDS,
        socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
        socket_timeout=COMMAND_TIMEOUT_SECONDS,
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), 1),
    )
    pool.connection_class = _CANCELLABLE.get(pool.connection_class, pool.connection_class)
    # redis-py parses with hiredis whenever it is installed (it is pinned).
    return Redis(connection_pool=pool)


async def _send_within(
    connection: AbstractConnection,
    send: Callable[[Any, bool], Awaitable[None]],
    command: Any,
    check_health: bool,
) -> None:
    """Write a command within the socket timeout, keeping any cancellation.

    redis-py bounds each write with ``asyncio.wait_for``, which on Python
    3.11 drops a cancellation that arrives just as the write completes: the
    cancelled task carries on (and a shutdown waiting for it hangs). The
    same bound with ``asyncio.timeout`` does not.
    """
    limit = connection.socket_timeout
    if not limit:
        await send(command, check_health)
        return
    connection.socket_timeout = None  # redis-py's branch without wait_for
    try:
        async with asyncio.timeout(limit):
            await send(command, check_health)
    except TimeoutError as error:
        await connection.disconnect(nowait=True)
        raise RedisTimeoutError("Timeout writing to socket") from error
    finally:
        connection.socket_timeout = limit


class _Connection(Connection):
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        await _send_within(self, super().send_packed_command, command, check_health)


class _SSLConnection(SSLConnection):
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        await _send_within(self, super().send_packed_command, command, check_health)


class _UnixConnection(UnixDomainSocketConnection):
    async def send_packed_command(self, command: Any, check_health: bool = True) -> None:
        await _send_within(self, super().send_packed_command, command, check_health)


_CANCELLABLE: dict[type[AbstractConnection], type[AbstractConnection]] = {
    Connection: _Connection,
    SSLConnection: _SSLConnection,
    UnixDomainSocketConnection: _UnixConnection,
}


# Scripts ------------------------------------------------------------------------------

# Prepended to the scripts that compute key names: ARGV[1] is always the prefix.
_LIBRARY = r"""
local prefix = ARGV[1]
local procs_key = prefix .. 'procs'
local lost_key = prefix .. 'lost'
local function proc_key(pid) return prefix .. 'proc:' .. pid end
local function proc_tabs_key(pid) return prefix .. 'proc:' .. pid .. ':tabs' end
local function proc_presence_key(pid) return prefix .. 'proc:' .. pid .. ':presence' end
local function presence_key(scope) return prefix .. 'presence:' .. scope end
local function tab_key(tab) return prefix .. 'tab:' .. tab end
local function member_tabs_key(user) return prefix .. 'member:' .. user .. ':tabs' end

-- A process is gone: take back what it counted, mark its live tabs lost
-- until ``deadline`` and append them (tab, user, ...) to ``lost``.
local function reap(pid, deadline, lost)
  local contributions = proc_presence_key(pid)
  for _, entry in ipairs(redis.call('SMEMBERS', contributions)) do
    local space = string.find(entry, ' ', 1, true)
    local member = string.sub(entry, 1, space - 1)
    local scope = presence_key(string.sub(entry, space + 1))
    if redis.call('HINCRBY', scope, member, -1) <= 0 then
      redis.call('HDEL', scope, member)
    end
  end
  local tabs = proc_tabs_key(pid)
  for _, tab in ipairs(redis.call('SMEMBERS', tabs)) do
    local key = tab_key(tab)
    local entry = redis.call('HMGET', key, 'user', 'proc')
    if entry[1] and entry[2] == pid then
      redis.call('HSET', key, 'lost', deadline)
      redis.call('HDEL', key, 'proc')
      redis.call('SREM', member_tabs_key(entry[1]), tab)
      redis.call('ZADD', lost_key, deadline, tab)
      table.insert(lost, tab)
      table.insert(lost, entry[1])
    end
  end
  redis.call('DEL', contributions, tabs, proc_key(pid))
  redis.call('SREM', procs_key, pid)
end
"""

# ARGV: prefix, a new epoch token, ttl (ms), pid. Returns {epoch, 1 if newly registered}.
_HEARTBEAT = r"""
local epoch_key = prefix .. 'epoch'
local epoch = redis.call('GET', epoch_key)
if not epoch then
  epoch = ARGV[2]
  redis.call('SET', epoch_key, epoch)
end
redis.call('SET', proc_key(ARGV[4]), '1', 'PX', ARGV[3])
return {epoch, redis.call('SADD', procs_key, ARGV[4])}
"""

# ARGV: prefix, deadline. Reaps every registered process whose liveness key expired.
_REAP_DEAD = r"""
local lost = {}
for _, pid in ipairs(redis.call('SMEMBERS', procs_key)) do
  if redis.call('EXISTS', proc_key(pid)) == 0 then
    reap(pid, ARGV[2], lost)
  end
end
return lost
"""

# ARGV: prefix, deadline, pid. A process leaving on purpose.
_REAP_SELF = r"""
local lost = {}
reap(ARGV[3], ARGV[2], lost)
return lost
"""

# ARGV: prefix, pid, scope, member. 1 when the member was not counted in the scope before.
_PRESENCE_ADD = r"""
if redis.call('SADD', proc_presence_key(ARGV[2]), ARGV[4] .. ' ' .. ARGV[3]) == 0 then
  return 0
end
if redis.call('HINCRBY', presence_key(ARGV[3]), ARGV[4], 1) == 1 then return 1 end
return 0
"""

# ARGV: prefix, pid, scope, member. 1 when the member is no longer counted in the scope.
_PRESENCE_REMOVE = r"""
if redis.call('SREM', proc_presence_key(ARGV[2]), ARGV[4] .. ' ' .. ARGV[3]) == 0 then
  return 0
end
local key = presence_key(ARGV[3])
if redis.call('HINCRBY', key, ARGV[4], -1) > 0 then return 0 end
redis.call('HDEL', key, ARGV[4])
return 1
"""

# ARGV: prefix, pid, tab, user, socket, mode. Mode 'attach': the socket takes
# the tab. Mode 'restore' (writing this process's tabs again): only if the
# tab is unknown, lost, or still this socket's; else -1. Returns the member's
# number of live tabs.
_TAB_ATTACH = r"""
local tab, user, socket = ARGV[3], ARGV[4], ARGV[5]
local key = tab_key(tab)
local old = redis.call('HMGET', key, 'user', 'socket', 'proc', 'lost')
if ARGV[6] == 'restore' and old[2] and old[2] ~= socket and not old[4] then return -1 end
if old[1] and old[1] ~= user then redis.call('SREM', member_tabs_key(old[1]), tab) end
if old[3] and old[3] ~= ARGV[2] then redis.call('SREM', proc_tabs_key(old[3]), tab) end
redis.call('HSET', key, 'user', user, 'socket', socket, 'proc', ARGV[2])
redis.call('HDEL', key, 'lost')
redis.call('ZREM', lost_key, tab)
redis.call('SADD', proc_tabs_key(ARGV[2]), tab)
local mine = member_tabs_key(user)
redis.call('SADD', mine, tab)
return redis.call('SCARD', mine)
"""

# ARGV: prefix, tab, socket. Forgets the tab if the socket still serves it.
_TAB_DETACH = r"""
local tab = ARGV[2]
local key = tab_key(tab)
local entry = redis.call('HMGET', key, 'user', 'socket', 'proc')
if entry[2] ~= ARGV[3] then return 0 end
redis.call('DEL', key)
if entry[1] then redis.call('SREM', member_tabs_key(entry[1]), tab) end
if entry[3] then redis.call('SREM', proc_tabs_key(entry[3]), tab) end
redis.call('ZREM', lost_key, tab)
return 1
"""

# ARGV: prefix, tab, socket, deadline, user, mode. Mode 'lost': marks the tab
# lost if the socket still serves it. Mode 'restore': records it lost only if
# Redis does not know the tab at all (after it lost its data).
_TAB_LOST = r"""
local tab, socket, deadline = ARGV[2], ARGV[3], ARGV[4]
local key = tab_key(tab)
local entry = redis.call('HMGET', key, 'user', 'socket', 'proc')
if ARGV[6] == 'restore' then
  if entry[1] then return 0 end
  redis.call('HSET', key, 'user', ARGV[5], 'socket', socket, 'lost', deadline)
  redis.call('ZADD', lost_key, deadline, tab)
  return 1
end
if entry[2] ~= socket then return 0 end
redis.call('HSET', key, 'lost', deadline)
redis.call('HDEL', key, 'proc')
if entry[1] then redis.call('SREM', member_tabs_key(entry[1]), tab) end
if entry[3] then redis.call('SREM', proc_tabs_key(entry[3]), tab) end
redis.call('ZADD', lost_key, deadline, tab)
return 1
"""

# ARGV: prefix, now, limit. Claims lost tabs whose deadline passed: each is
# returned (tab, user, ...) to exactly one caller, whichever process asks.
_CLAIM_GONE = r"""
local now = tonumber(ARGV[2])
local gone = {}
for _, tab in ipairs(redis.call('ZRANGEBYSCORE', lost_key, '-inf', ARGV[2], 'LIMIT', 0, ARGV[3])) do
  redis.call('ZREM', lost_key, tab)
  local key = tab_key(tab)
  local entry = redis.call('HMGET', key, 'user', 'lost')
  if entry[1] and entry[2] and tonumber(entry[2]) <= now then
    redis.call('DEL', key)
    table.insert(gone, tab)
    table.insert(gone, entry[1])
  end
end
return gone
"""

# KEYS: the log's hash and list. ARGV: where ids start, size, ttl (ms),
# channel, message head, envelope. Returns the event's id.
_LOG_PUBLISH = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'last', ARGV[1], 'floor', ARGV[1])
end
-- Ids go out as text formatted here: Lua's own conversion keeps 14 digits.
local id = string.format('%d', redis.call('HINCRBY', KEYS[1], 'last', 1))
local count = redis.call('RPUSH', KEYS[2], id .. ' ' .. ARGV[6])
local size = tonumber(ARGV[2])
if count > size then
  local dropped = redis.call('LPOP', KEYS[2], count - size)
  local newest = dropped[#dropped]
  redis.call('HSET', KEYS[1], 'floor', string.sub(newest, 1, string.find(newest, ' ', 1, true) - 1))
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('PUBLISH', ARGV[4], ARGV[5] .. id .. ' ' .. ARGV[6])
return id
"""

# KEYS: the log's hash. ARGV: where ids start, ttl (ms). Returns the last id.
_LOG_LAST = r"""
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'last', ARGV[1], 'floor', ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return redis.call('HGET', KEYS[1], 'last')
"""

# KEYS: the log's hash and list. ARGV: after. The entries after ``after``
# (the list holds ids floor+1 .. last, one after another), or nil when
# ``after`` is outside the log.
_LOG_REPLAY = r"""
local log = redis.call('HMGET', KEYS[1], 'last', 'floor')
if not log[1] then return false end
local after, last, floor = tonumber(ARGV[1]), tonumber(log[1]), tonumber(log[2])
if after < floor or after > last then return false end
if after == last then return {} end
return redis.call('LRANGE', KEYS[2], after - last, -1)
"""

# KEYS: the key's hit set. ARGV: limit, window (ms), a unique member. The
# server's clock, shared by every process.
_HIT = r"""
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local window = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""

# Tuning ------------------------------------------------------------------------------

# How long subscribe() waits for Redis to confirm the subscription.
CONFIRM_LIMIT_SECONDS = 5.0
# How long ready() waits for PONG.
READY_LIMIT_SECONDS = 2.0
# Lost tabs one sweep claims at most (the rest at the next sweep).
CLAIM_LIMIT = 1000
# How long stop() waits for the background tasks.
STOP_LIMIT_SECONDS = 2.0
# A tab this process saw lost is remembered this long past its deadline, so
# that it can be recorded again if Redis loses its data meanwhile.
REMEMBER_LOST_SECONDS = 30.0

_PUBLISH = b"PUBLISH"
_PING = b"PING"
_PONG = b"PONG"


async def _set_within(event: asyncio.Event, seconds: float) -> bool:
    """Whether ``event`` is set within ``seconds``."""
    # asyncio.timeout rather than wait_for: on Python 3.11, wait_for can lose
    # a cancellation that arrives as its timeout fires, and stop() would hang.
    try:
        async with asyncio.timeout(seconds):
            await event.wait()
    except TimeoutError:
        return False
    return True


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _process_id() -> str:
    """A process id unique across hosts and restarts, readable by an operator."""
    host = socket.gethostname().replace(" ", "_") or "host"
    return f"{host}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass(eq=False)
class _Channel:
    """The local inboxes of one channel, and what is on its way to them."""

    # Inboxes Redis confirmed the subscription for: messages go to these.
    inboxes: list[Inbox] = field(default_factory=list)
    # Inboxes subscribed before Redis confirmed the channel.
    waiting: list[Inbox] = field(default_factory=list)
    confirmed: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)
    # Messages of this process on their way through Redis to these inboxes,
    # and deliveries waiting in the delivery queue: while either is non-zero
    # publish_now sends through Redis instead of overtaking them.
    pending: int = 0
    busy: int = 0


@dataclass(slots=True)
class _LostTab:
    user: int
    socket: str
    deadline: float


class RedisHub:
    """The hub shared through Redis by every process of a site (see the module docstring)."""

    def __init__(
        self,
        client: Redis | RedisConnection,
        *,
        url: str,
        prefix: str = "chatspheres:",
        log_size: int = 200,
        log_seconds: float = 300.0,
        process_ttl: float = 10.0,
        reconnect_grace: float | None = None,
        process_id: str | None = None,
    ) -> None:
        """``client``: the lean connection to share (the runtime's), or a redis-py client.

        Given a redis-py client, the hub opens a lean connection of its own to
        ``url`` (and closes it when it stops); the client is not used.
        """
        if reconnect_grace is None:
            from django.conf import settings

            reconnect_grace = float(settings.REALTIME_RECONNECT_GRACE_SECONDS)
        if isinstance(client, RedisConnection):
            self._wire, self._owns_wire = client, False
        else:
            self._wire, self._owns_wire = RedisConnection(url, name="Redis hub"), True
        self._url = url
        self._prefix = prefix
        self._log_size = str(log_size)
        self._log_ms = str(max(1, int(log_seconds * 1000)))
        self._ttl_ms = str(max(1, int(process_ttl * 1000)))
        self._beat_every = max(0.05, process_ttl / 3)
        self._grace = reconnect_grace
        self.process_id = process_id or _process_id()
        # Set by the runtime: run when Redis came back without its data.
        self.on_restored: Callable[[], Awaitable[None]] | None = None

        self._channel_prefix = f"{prefix}ch:".encode()
        self._origin = self.process_id.encode()
        self._head = self._origin + b" "
        self._encode = msgspec.msgpack.Encoder().encode
        self._decode = msgspec.msgpack.Decoder(Envelope).decode

        script = self._wire.script
        self._heartbeat = script(_LIBRARY + _HEARTBEAT)
        self._reap_dead = script(_LIBRARY + _REAP_DEAD)
        self._reap_self = script(_LIBRARY + _REAP_SELF)
        self._presence_add = script(_LIBRARY + _PRESENCE_ADD)
        self._presence_remove = script(_LIBRARY + _PRESENCE_REMOVE)
        self._tab_attach = script(_LIBRARY + _TAB_ATTACH)
        self._tab_detach = script(_LIBRARY + _TAB_DETACH)
        self._tab_lost = script(_LIBRARY + _TAB_LOST)
        self._claim_gone = script(_LIBRARY + _CLAIM_GONE)
        self._log_publish = script(_LOG_PUBLISH)
        self._log_last = script(_LOG_LAST)
        self._log_replay = script(_LOG_REPLAY)
        self._hit = script(_HIT)
        self._eval = self._wire.evalsha

        # Fan-out: local inboxes by channel, the subscriber, and deliveries an
        # inbox could not take at once (in arrival order, for the delivery task).
        self._channels: dict[str, _Channel] = {}
        self._subscriber = RedisSubscriber(
            url,
            on_message=self._route,
            on_subscribed=self._confirm,
            on_connected=self._connected,
            on_disconnected=self._disconnected,
            name="Redis hub",
        )
        self._subscriber_up = False
        self._subscriber_ready = asyncio.Event()
        self._deliveries: deque[tuple[Inbox, Envelope, _Channel]] = deque()
        self._delivery_wake = asyncio.Event()

        # This process's own state, the truth that Redis mirrors.
        self._presence: dict[str, Counter[int]] = {}
        self._tabs: dict[str, tuple[int, str]] = {}
        self._lost: dict[str, _LostTab] = {}
        # Mirror updates that failed (Redis away), to write again once it answers.
        self._dirty_presence: set[tuple[str, int]] = set()
        self._dirty_tabs: dict[str, str] = {}

        self._epoch: str | None = None
        self._must_reassert = False
        self._must_announce_restore = False
        self._beat_soon = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._troubles = {name: Trouble(f"Redis hub: {name}", logger) for name in ("heartbeat",)}

    # Keys ------------------------------------------------------------------------------

    def _key(self, *parts: str) -> str:
        return self._prefix + ":".join(parts)

    def _redis_channel(self, channel: str) -> bytes:
        return self._channel_prefix + channel.encode()

    def _log_keys(self, user: int) -> list[str]:
        return [self._key("log", str(user)), self._key("log", str(user), "events")]

    # Lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect the subscriber, register this process, start the background tasks."""
        self._subscriber.start()
        self._tasks.append(asyncio.create_task(self._deliver_forever()))
        try:
            await self._beat()
        except (RedisError, OSError) as error:
            self._troubles["heartbeat"].failed(error)
        self._tasks.append(asyncio.create_task(self._beat_forever()))
        if not await _set_within(self._subscriber_ready, CONFIRM_LIMIT_SECONDS):
            logger.warning("Redis hub: the subscriber is not connected yet; it keeps trying")

    async def stop(self, *, deregister: bool = True) -> None:
        """Leave (unless ``deregister`` is False: a crash) and disconnect.

        What this process published is on its one connection ahead of the
        leaving script, so it has reached Redis by the time that answers.
        """
        for task in self._tasks:
            task.cancel()
        stuck: set[asyncio.Task[None]] = set()
        if self._tasks:
            _done, stuck = await asyncio.wait(self._tasks, timeout=STOP_LIMIT_SECONDS)
        if stuck:
            logger.warning("Redis hub: %s background tasks did not stop", len(stuck))
        self._tasks.clear()
        self._deliveries.clear()
        if deregister:
            try:
                await self._eval(
                    self._reap_self,
                    [self._key("procs")],
                    [self._prefix, repr(time.time() + self._grace), self.process_id],
                )
            except (RedisError, OSError) as error:
                logger.warning("Redis hub: could not deregister %s: %r", self.process_id, error)
        await self._subscriber.aclose()
        if self._owns_wire:
            await self._wire.aclose()
        self._channels.clear()
        self._subscriber_up = False

    async def ready(self) -> bool:
        """Whether Redis answers PING now."""
        try:
            async with asyncio.timeout(READY_LIMIT_SECONDS):
                return bool(await self._wire.call(_PING) == _PONG)
        except (RedisError, OSError, TimeoutError):
            return False

    # Fan-out: subscribing ------------------------------------------------------------------

    async def subscribe(self, channel: str, inbox: Inbox) -> None:
        """Deliver ``channel`` to ``inbox``; returns once Redis confirmed the channel.

        While Redis is away the inbox is kept and the channel is subscribed
        when the subscriber reconnects.
        """
        record = self._channels.get(channel)
        if record is None:
            record = self._channels[channel] = _Channel()
            self._subscriber.subscribe(self._redis_channel(channel))
        if record.confirmed:
            record.inboxes.append(inbox)
            return
        record.waiting.append(inbox)
        if self._subscriber_up and not await _set_within(record.settled, CONFIRM_LIMIT_SECONDS):
            logger.warning("Redis hub: no confirmation for channel %s yet", channel)

    async def unsubscribe(self, channel: str, inbox: Inbox) -> None:
        """Stop delivering ``channel`` to ``inbox``; the last one out unsubscribes."""
        record = self._channels.get(channel)
        if record is None:
            return
        for inboxes in (record.inboxes, record.waiting):
            if inbox in inboxes:
                inboxes.remove(inbox)
                break
        else:
            return
        if record.inboxes or record.waiting:
            return
        del self._channels[channel]
        record.settled.set()
        self._subscriber.unsubscribe(self._redis_channel(channel))

    # Fan-out: the subscriber's side (its callbacks) -------------------------------------------

    def _connected(self) -> None:
        """The subscriber (re)connected and asked again for every channel: check on Redis."""
        self._subscriber_up = True
        self._subscriber_ready.set()
        # Redis may have restarted empty: the heartbeat finds out at once.
        self._beat_soon.set()

    def _disconnected(self) -> None:
        self._subscriber_up = False
        self._subscriber_ready.clear()
        for record in self._channels.values():
            # What was on its way is lost with the connection.
            record.pending = 0
            if not record.confirmed:
                record.settled.set()
                record.settled = asyncio.Event()

    def _confirm(self, name: bytes) -> None:
        record = self._channels.get(name[len(self._channel_prefix) :].decode())
        if record is None:
            return
        if record.waiting:
            record.inboxes.extend(record.waiting)
            record.waiting.clear()
        record.confirmed = True
        record.settled.set()

    def _route(self, name: bytes, data: bytes) -> None:
        """One message from Redis, handed over synchronously as it is read.

        Each inbox takes it at once if it can (``deliver_now``) and nothing is
        waiting in the delivery queue; otherwise it joins the queue, which the
        delivery task empties in order, so this process delivers in Redis's order.
        """
        record = self._channels.get(name[len(self._channel_prefix) :].decode())
        if record is None:
            return
        origin, counted, event_id, body = data.split(b" ", 3)
        if counted == b"1" and record.pending > 0 and origin == self._origin:
            record.pending -= 1
        if not record.inboxes:
            return
        envelope = self._decode(body)
        if event_id != b"0":
            number = int(event_id)
            envelope = msgspec.structs.replace(
                envelope, frame=with_event_id(envelope.frame, number), id=number
            )
        deliveries = self._deliveries
        for inbox in tuple(record.inboxes):
            if not deliveries:
                try:
                    if inbox.deliver_now(envelope):
                        continue
                except Exception:
                    logger.exception("Redis hub: an inbox failed to take a message")
                    continue
            deliveries.append((inbox, envelope, record))
            record.busy += 1
            self._delivery_wake.set()

    async def _deliver_forever(self) -> None:
        """Hand the queued deliveries over, in order, awaiting each inbox in turn."""
        deliveries = self._deliveries
        while True:
            await self._delivery_wake.wait()
            self._delivery_wake.clear()
            while deliveries:
                # Left in the queue while it is delivered, so that _route queues behind it.
                item = deliveries[0]
                inbox, envelope, record = item
                try:
                    if not inbox.deliver_now(envelope):
                        await inbox.deliver(envelope)
                except asyncio.CancelledError:
                    raise
                except Exception:
                    logger.exception("Redis hub: an inbox failed to take a message")
                finally:
                    if deliveries and deliveries[0] is item:
                        deliveries.popleft()
                    record.busy -= 1

    # Fan-out: publishing ----------------------------------------------------------------

    async def publish(self, channel: str, envelope: Envelope) -> None:
        """Publish to every process; raises redis-py's ConnectionError while Redis is away."""
        counted = self._count_own(channel)
        flag = b"1 0 " if counted is not None else b"0 0 "
        reply = self._wire.call(
            _PUBLISH, self._redis_channel(channel), self._head + flag + self._encode(envelope)
        )
        try:
            await reply
        except (RedisError, OSError):
            self._never_arrives(counted)
            raise

    def publish_now(self, channel: str, envelope: Envelope) -> bool:
        """Deliver to a tab of this process at once, or send through Redis in order.

        False: the caller must ``publish()`` (several local inboxes, or one that
        cannot take the message now).
        """
        record = self._channels.get(channel)
        if record is not None and record.inboxes and not record.pending and not record.busy:
            if len(record.inboxes) != 1:
                return False
            return record.inboxes[0].deliver_now(envelope)
        counted = self._count_own(channel)
        if counted is None:
            # Nobody here waits for it: Redis need not answer (no reply wakes us up).
            self._wire.send(
                _PUBLISH,
                self._redis_channel(channel),
                self._head + b"0 0 " + self._encode(envelope),
                reply=False,
            )
        else:
            self._wire.send(
                _PUBLISH,
                self._redis_channel(channel),
                self._head + b"1 0 " + self._encode(envelope),
                on_error=lambda _error: self._never_arrives(counted),
            )
        return True

    def _count_own(self, channel: str) -> _Channel | None:
        """The channel's record if a local inbox will receive our own copy (so we wait for it)."""
        record = self._channels.get(channel)
        if record is None or not record.inboxes:
            return None
        record.pending += 1
        return record

    @staticmethod
    def _never_arrives(counted: _Channel | None) -> None:
        if counted is not None and counted.pending > 0:
            counted.pending -= 1

    # The event log -------------------------------------------------------------------------

    async def publish_logged(self, user: int, channel: str, envelope: Envelope) -> Envelope:
        """Number, log and publish the event in one script; return it as sent."""
        counted = self._count_own(channel)
        try:
            event_id = int(
                await self._eval(
                    self._log_publish,
                    self._log_keys(user),
                    (
                        str(first_event_id()),
                        self._log_size,
                        self._log_ms,
                        self._redis_channel(channel),
                        self._head + (b"1 " if counted is not None else b"0 "),
                        self._encode(envelope),
                    ),
                )
            )
        except (RedisError, OSError):
            self._never_arrives(counted)
            raise
        return msgspec.structs.replace(
            envelope, frame=with_event_id(envelope.frame, event_id), id=event_id
        )

    async def last_event_id(self, user: int) -> int:
        """The member's newest event id (where their ids start if they have none)."""
        last = await self._eval(
            self._log_last, self._log_keys(user)[:1], (str(first_event_id()), self._log_ms)
        )
        return int(last)

    async def replay(self, user: int, after: int) -> list[Envelope] | None:
        """The member's logged events after ``after``; None if that reaches past the log."""
        entries = await self._eval(self._log_replay, self._log_keys(user), (str(after),))
        if entries is None:
            return None
        replayed = []
        expected = after + 1
        for entry in entries:
            number, body = bytes(entry).split(b" ", 1)
            event_id = int(number)
            if event_id != expected:
                return None  # a gap: the log is not whole (it cannot be trusted)
            expected += 1
            envelope = self._decode(body)
            replayed.append(
                msgspec.structs.replace(
                    envelope, frame=with_event_id(envelope.frame, event_id), id=event_id
                )
            )
        return replayed

    # Presence ------------------------------------------------------------------------------

    async def presence_add(self, scope: str, member: int) -> bool:
        """Count one more tab of ``member`` here; True when no process counted them before."""
        if not count_in(self._presence, scope, member):
            return False
        return bool(await self._mirror_presence(scope, member, adding=True))

    async def presence_remove(self, scope: str, member: int) -> bool:
        """Count one tab less here; True when no process counts them any more."""
        if not count_out(self._presence, scope, member):
            return False
        return bool(await self._mirror_presence(scope, member, adding=False))

    async def _mirror_presence(self, scope: str, member: int, *, adding: bool) -> Any:
        # On the one connection, so that a leave never overtakes the enter before it.
        script = self._presence_add if adding else self._presence_remove
        try:
            result = await self._eval(
                script, [self._key("procs")], (self._prefix, self.process_id, scope, str(member))
            )
        except (RedisError, OSError):
            self._dirty_presence.add((scope, member))
            raise
        self._dirty_presence.discard((scope, member))
        return result

    async def presence_counts(self, scopes: Iterable[str]) -> dict[str, int]:
        """Distinct members per scope, site-wide (one HLEN each, in one round trip)."""
        scopes = list(scopes)
        if not scopes:
            return {}
        call = self._wire.call
        counts = await asyncio.gather(
            *[call(b"HLEN", self._key("presence", scope)) for scope in scopes]
        )
        return {scope: int(count) for scope, count in zip(scopes, counts, strict=True)}

    # Tabs ----------------------------------------------------------------------------------

    async def tab_attach(self, tab: str, user: int, socket: str) -> int:
        """Record that ``socket`` of this process serves the tab; the member's live tab count."""
        count = await self._eval(
            self._tab_attach,
            [self._key("tab", tab)],
            (self._prefix, self.process_id, tab, str(user), socket, "attach"),
        )
        self._tabs[tab] = (user, socket)
        self._lost.pop(tab, None)
        self._dirty_tabs.pop(tab, None)
        return int(count)

    async def tab_detach(self, tab: str, socket: str) -> None:
        """The tab closed for good, if ``socket`` still serves it."""
        self._forget_local(tab, socket)
        try:
            await self._eval(self._tab_detach, [self._key("tab", tab)], (self._prefix, tab, socket))
        except (RedisError, OSError):
            self._dirty_tabs[tab] = socket
            raise
        self._dirty_tabs.pop(tab, None)

    async def tab_lost(self, tab: str, socket: str, deadline: float) -> None:
        """``socket`` dropped; the tab may come back, on any process, until ``deadline``."""
        entry = self._tabs.get(tab)
        if entry is not None and entry[1] == socket:
            del self._tabs[tab]
            self._lost[tab] = _LostTab(user=entry[0], socket=socket, deadline=deadline)
        try:
            await self._mark_lost(tab, socket, deadline, user=entry[0] if entry else 0)
        except (RedisError, OSError):
            self._dirty_tabs[tab] = socket
            raise
        self._dirty_tabs.pop(tab, None)

    async def _mark_lost(self, tab: str, socket: str, deadline: float, *, user: int) -> Any:
        return await self._eval(
            self._tab_lost,
            [self._key("tab", tab)],
            (self._prefix, tab, socket, repr(deadline), str(user), "lost"),
        )

    def _forget_local(self, tab: str, socket: str) -> None:
        entry = self._tabs.get(tab)
        if entry is not None and entry[1] == socket:
            del self._tabs[tab]
        lost = self._lost.get(tab)
        if lost is not None and lost.socket == socket:
            del self._lost[tab]

    async def tab_owner(self, tab: str) -> int | None:
        """The member an open or recently lost tab belongs to."""
        user = await self._wire.call(b"HGET", self._key("tab", tab), b"user")
        return None if user is None else int(user)

    async def tabs_alive(self, tabs: Iterable[str]) -> set[str]:
        """Which of these tabs have a live socket (on any process)."""
        tabs = list(tabs)
        if not tabs:
            return set()
        call = self._wire.call
        entries = await asyncio.gather(
            *[call(b"HMGET", self._key("tab", tab), b"user", b"lost") for tab in tabs]
        )
        return {
            tab
            for tab, (user, lost) in zip(tabs, entries, strict=True)
            if user is not None and lost is None
        }

    async def sweep(self, now: float) -> SweepResult:
        """Reap dead processes (their tabs are lost now) and claim lost tabs whose time ran out."""
        deadline = repr(now + self._grace)
        reaped = await self._eval(self._reap_dead, [self._key("procs")], (self._prefix, deadline))
        gone = await self._eval(
            self._claim_gone, [self._key("lost")], (self._prefix, repr(now), str(CLAIM_LIMIT))
        )
        result = SweepResult(lost=_tab_refs(reaped), gone=_tab_refs(gone))
        for ref in result.gone:
            self._lost.pop(ref.tab, None)
        forgotten = now - REMEMBER_LOST_SECONDS
        for tab in [tab for tab, lost in self._lost.items() if lost.deadline < forgotten]:
            del self._lost[tab]
        return result

    # Limits ----------------------------------------------------------------------------

    async def hit(self, key: str, limit: int, window: float) -> bool:
        """A sliding window of hits per key, on Redis's clock, shared by every process."""
        allowed = await self._eval(
            self._hit,
            [self._key("hits", key)],
            (str(limit), str(max(1, int(window * 1000))), secrets.token_hex(6)),
        )
        return bool(allowed)

    # Liveness and restoring ----------------------------------------------------------------

    async def _beat_forever(self) -> None:
        trouble = self._troubles["heartbeat"]
        while True:
            await _set_within(self._beat_soon, self._beat_every)
            self._beat_soon.clear()
            try:
                await self._beat()
            except (RedisError, OSError) as error:
                trouble.failed(error)
                continue
            except Exception:
                logger.exception("Redis hub: the heartbeat failed")
                continue
            trouble.recovered()

    async def _beat(self) -> None:
        """Refresh this process's liveness; write its state again if Redis lost it."""
        epoch, added = await self._eval(
            self._heartbeat,
            [self._key("procs")],
            (self._prefix, secrets.token_hex(8), self._ttl_ms, self.process_id),
        )
        epoch = _text(epoch)
        if self._epoch is not None:
            if epoch != self._epoch:
                logger.warning("Redis hub: Redis came back without its data; restoring")
                self._must_reassert = self._must_announce_restore = True
            elif added:
                logger.warning("Redis hub: this process was taken for dead; restoring its state")
                self._must_reassert = True
        self._epoch = epoch
        if self._must_reassert:
            await self._reassert()
            self._must_reassert = False
            self._dirty_presence.clear()
            self._dirty_tabs.clear()
        else:
            await self._write_dirty()
        if self._must_announce_restore:
            self._must_announce_restore = False
            if self.on_restored is not None:
                # A task of its own: the apps' hooks must not delay the heartbeat.
                self._tasks.append(asyncio.create_task(self._announce_restore(self.on_restored)))

    async def _announce_restore(self, on_restored: Callable[[], Awaitable[None]]) -> None:
        try:
            await on_restored()
        except Exception:
            logger.exception("Redis hub: restoring the apps' shared state failed")

    async def _reassert(self) -> None:
        """Write this process's tabs and presence to Redis again."""
        for tab, (user, socket_id) in list(self._tabs.items()):
            taken = await self._eval(
                self._tab_attach,
                [self._key("tab", tab)],
                (self._prefix, self.process_id, tab, str(user), socket_id, "restore"),
            )
            if int(taken) < 0 and self._tabs.get(tab) == (user, socket_id):
                del self._tabs[tab]  # another socket serves it now
        now = time.time()
        for tab, lost in list(self._lost.items()):
            if lost.deadline + REMEMBER_LOST_SECONDS >= now:
                await self._eval(
                    self._tab_lost,
                    [self._key("tab", tab)],
                    (
                        self._prefix,
                        tab,
                        lost.socket,
                        repr(lost.deadline),
                        str(lost.user),
                        "restore",
                    ),
                )
        for scope, members in list(self._presence.items()):
            for member in list(members):
                await self._eval(
                    self._presence_add,
                    [self._key("procs")],
                    (self._prefix, self.process_id, scope, str(member)),
                )

    async def _write_dirty(self) -> None:
        """Write again the mirror updates that failed while Redis was away."""
        for scope, member in list(self._dirty_presence):
            present = self._presence.get(scope, Counter())[member] > 0
            await self._mirror_presence(scope, member, adding=present)
        for tab, socket_id in list(self._dirty_tabs.items()):
            entry, lost = self._tabs.get(tab), self._lost.get(tab)
            if entry is not None:
                await self._eval(
                    self._tab_attach,
                    [self._key("tab", tab)],
                    (self._prefix, self.process_id, tab, str(entry[0]), entry[1], "restore"),
                )
            elif lost is not None:
                await self._mark_lost(tab, lost.socket, lost.deadline, user=lost.user)
            else:
                await self._eval(
                    self._tab_detach, [self._key("tab", tab)], (self._prefix, tab, socket_id)
                )
            self._dirty_tabs.pop(tab, None)


def _tab_refs(flat: Sequence[Any]) -> list[TabRef]:
    """``[tab, user, tab, user, ...]`` from a script, as tab references."""
    return [
        TabRef(tab=_text(flat[index]), user=int(flat[index + 1]))
        for index in range(0, len(flat), 2)
    ]
