"""A lean wire to Redis: RESP spoken directly over asyncio protocols, for the hot paths.

redis-py's asyncio client pays, on every command, for a pool checkout, its
own packing, a timeout object and a task that awaits the reply: about 70 µs
for a bare PING here, where a raw socket round trip costs 40. The real-time
paths (the relay across processes, the event log, the matcher's scripts) send
little more than that, so they go through the two connections of this module
instead; anything cold may keep using redis-py.

:class:`RedisConnection` (commands)
    One TCP connection, pipelined. ``call(*args)`` packs the command with
    hiredis and sends it at once (no await before it is on its way, so calls
    are written in the order they are made): the first command of an event
    loop iteration is written to the socket straight away, those that follow
    it in the same iteration are gathered and written together as the
    iteration ends, so that a burst costs one more ``write`` and Redis one
    more read. ``call`` returns a future that the reply resolves: replies
    come back in order, and ``data_received`` pops one waiter per reply after
    parsing with ``hiredis.Reader``. ``send(*args)`` does the same without a
    future, for a caller that does not await the reply (the relay lane's
    PUBLISH): its order is kept like any call's, and a failure is counted
    (``dropped``) and reported to ``on_error`` when given. With
    ``reply=False`` Redis is asked not to answer at all (``CLIENT REPLY
    SKIP``), so that no reply wakes the process up for it.
    ``evalsha`` runs a registered :class:`Script`; scripts are loaded on every
    new connection before anything else is written (so that a restarted Redis
    never answers NOSCRIPT to a call that others follow), and a NOSCRIPT all
    the same loads the script and runs it again.

    There is no pool and no timeout per command. One timer per connection
    gives it up (failing what waits with redis-py's ``TimeoutError``) when
    Redis answered nothing for ``command_timeout`` seconds while something
    waited. Losing the connection fails everything that waits with redis-py's
    ``ConnectionError`` (the gateway answers those ``unavailable``). The next
    call connects again (AUTH and SELECT from the URL come first); calls made
    meanwhile wait for that attempt, in order. After a failed attempt calls
    fail at once until a pause has passed (10 ms, doubling to 250 ms), so
    that a Redis that is down costs a refused connection now and then, not one
    per call. Before writing to a connection that has been quiet for a moment
    (5 ms), the connection peeks at its socket (one non-blocking ``recv``) so
    that a Redis that restarted meanwhile costs a reconnection, not the call.

:class:`RedisSubscriber` (pub/sub)
    One connection in subscriber mode. Each message is handed to
    ``on_message(channel, data)`` synchronously from ``data_received``: no
    task wakes up per message. It keeps the set of channels asked for,
    sends SUBSCRIBE and UNSUBSCRIBE at once when connected, reports each
    confirmation (``on_subscribed``), and a task of its own reconnects with
    backoff (50 ms doubling to 1 s), subscribes again to every channel and
    pings when Redis has been quiet for ``ping_seconds``.

Both take ``redis://[[user]:password@]host[:port][/db]`` (``rediss://`` for
TLS with the default context, ``unix:///path?db=N`` for a local socket).
Replies are RESP2 as hiredis gives them: bytes, int, None (nil) and lists;
error replies raise redis-py's exception classes (``ResponseError``,
``NoScriptError``, ``BusyLoadingError``, ...).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import ssl
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, cast
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from redis.exceptions import (
    AuthenticationError,
    BusyLoadingError,
    ConnectionError,
    ExecAbortError,
    NoPermissionError,
    NoScriptError,
    OutOfMemoryError,
    ReadOnlyError,
    RedisError,
    ResponseError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError

__all__ = [
    "Address",
    "RedisConnection",
    "RedisSubscriber",
    "Script",
    "Trouble",
]

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 2.0
# Redis answering nothing for this long while a reply is awaited: the
# connection is given up.
COMMAND_TIMEOUT_SECONDS = 5.0
# After a failed connection attempt, calls fail at once for this long; the
# pause doubles with each failed attempt, up to the last.
RETRY_FIRST_SECONDS = 0.01
RETRY_LAST_SECONDS = 0.25
# A connection idle for longer than this peeks at its socket before writing.
PROBE_IDLE_SECONDS = 0.005
# The subscriber: reconnecting pauses, and the quiet time before a PING.
RECONNECT_FIRST_SECONDS = 0.05
RECONNECT_LAST_SECONDS = 1.0
PING_SECONDS = 5.0
# Channels per SUBSCRIBE when subscribing again after a reconnection.
SUBSCRIBE_CHUNK = 1000

_MESSAGE = b"message"
_SUBSCRIBE = b"subscribe"


# Errors ------------------------------------------------------------------------------

_ERROR_CLASSES: dict[str, type[RedisError]] = {
    "NOSCRIPT": NoScriptError,
    "LOADING": BusyLoadingError,
    "READONLY": ReadOnlyError,
    "NOAUTH": AuthenticationError,
    "WRONGPASS": AuthenticationError,
    "NOPERM": NoPermissionError,
    "EXECABORT": ExecAbortError,
    "OOM": OutOfMemoryError,
}


def _reply_error(message: str) -> RedisError:
    """The redis-py exception for an error reply (hiredis calls this while parsing)."""
    code, _, rest = message.partition(" ")
    kind = _ERROR_CLASSES.get(code)
    if kind is not None:
        return kind(rest)
    if message == "ERR max number of clients reached":
        return ConnectionError(rest)
    return ResponseError(message)


def _pack(args: Sequence[Any]) -> bytes:
    packed: bytes = hiredis.pack_command(tuple(args))
    return packed


class Trouble:
    """One warning when something starts failing, one line when it works again."""

    def __init__(self, what: str, log: logging.Logger = logger) -> None:
        self.what = what
        self.failing = False
        self._log = log

    def failed(self, error: BaseException) -> None:
        if not self.failing:
            self.failing = True
            self._log.warning("%s failed: %r; retrying quietly", self.what, error)

    def recovered(self) -> None:
        if self.failing:
            self.failing = False
            self._log.warning("%s works again", self.what)


# Addresses ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Address:
    """Where a Redis is and how to sign in: from a URL or from a redis-py client."""

    host: str = "127.0.0.1"
    port: int = 6379
    path: str | None = None  # a Unix socket instead of host and port
    db: int = 0
    username: str | None = None
    password: str | None = None
    tls: bool = False
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS

    @classmethod
    def from_url(cls, url: str) -> Address:
        """``redis://[[user]:password@]host[:port][/db]``, ``rediss://…`` or ``unix:///path?db=N``."""
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        scheme = parts.scheme.lower()
        if scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"not a Redis URL: {url!r}")
        db = 0
        if query.get("db"):
            db = int(query["db"][0])
        elif scheme != "unix" and parts.path.strip("/"):
            db = int(parts.path.strip("/"))
        return cls(
            host=(parts.hostname or "127.0.0.1") if scheme != "unix" else "",
            port=parts.port or 6379,
            path=unquote(parts.path) if scheme == "unix" else None,
            db=db,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            tls=scheme == "rediss",
        )

    @classmethod
    def given(cls, url: str | None, address: Address | None) -> Address:
        """``address``, or else the one ``url`` names: a connection takes either."""
        if address is not None:
            return address
        if url is None:
            raise ValueError("give a URL or an address")
        return cls.from_url(url)

    @classmethod
    def from_client(cls, client: Any) -> Address:
        """The address a redis-py client (asyncio or not) connects to."""
        pool = client.connection_pool
        options = pool.connection_kwargs
        return cls(
            host=options.get("host", "127.0.0.1"),
            port=int(options.get("port", 6379)),
            path=options.get("path"),
            db=int(options.get("db", 0) or 0),
            username=options.get("username"),
            password=options.get("password"),
            tls="ssl" in pool.connection_class.__name__.lower(),
            connect_timeout=options.get("socket_connect_timeout") or CONNECT_TIMEOUT_SECONDS,
        )

    def __str__(self) -> str:
        where = self.path if self.path else f"{self.host}:{self.port}"
        return f"{where}/{self.db}"

    def sign_in(self, *, select: bool = True) -> list[tuple[Any, ...]]:
        """The commands a new connection sends first."""
        commands: list[tuple[Any, ...]] = []
        if self.password is not None:
            if self.username:
                commands.append((b"AUTH", self.username, self.password))
            else:
                commands.append((b"AUTH", self.password))
        if select and self.db:
            commands.append((b"SELECT", self.db))
        return commands

    async def open(
        self, loop: asyncio.AbstractEventLoop, factory: Callable[[], asyncio.Protocol]
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        if self.path:
            return await loop.create_unix_connection(factory, self.path)
        context = ssl.create_default_context() if self.tls else None
        return await loop.create_connection(factory, self.host, self.port, ssl=context)


def _probe_socket(transport: asyncio.BaseTransport) -> socket.socket | None:
    """A duplicate of the transport's socket, to peek at without disturbing the transport."""
    sock = transport.get_extra_info("socket")
    if sock is None:
        return None
    try:
        probe = socket.socket(fileno=os.dup(sock.fileno()))
        if probe.family in (socket.AF_INET, socket.AF_INET6):
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    except OSError:
        return None
    return probe


# Scripts -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Script:
    """A Lua script a connection knows by its SHA1 (``RedisConnection.script``)."""

    source: bytes
    sha: bytes = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "sha", hashlib.sha1(self.source, usedforsecurity=False).hexdigest().encode()
        )

    @property
    def sha_text(self) -> str:
        return self.sha.decode()


# The command connection --------------------------------------------------------------

# What waits for a reply: a future (``call``), nothing (``send``: failures are
# counted) or a function told of a failure (``send`` with ``on_error``).
Waiter = asyncio.Future[Any] | Callable[[RedisError], None] | None


class _NoReply:
    """The waiter of a command sent with ``reply=False``: Redis answers nothing."""


_NO_REPLY = _NoReply()
# Written before a command whose reply nobody wants: Redis then sends none
# (and CLIENT REPLY SKIP itself is never answered).
_SKIP_REPLY = _pack((b"CLIENT", b"REPLY", b"SKIP"))


class _CommandProtocol(asyncio.Protocol):
    """One connection's transport, its parser and the waiters of its replies, in order."""

    def __init__(self, owner: RedisConnection, loop: asyncio.AbstractEventLoop) -> None:
        self._owner = owner
        self._loop = loop
        self._reader = hiredis.Reader(replyError=_reply_error)
        self._waiters: deque[Waiter] = deque()
        # Commands gathered after the first of this loop iteration, written by _flush.
        self._out: list[bytes] = []
        self._gathering = False
        self._transport: asyncio.Transport | None = None
        self._probe: socket.socket | None = None
        self._active_at = loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._replies = 0
        # Sent without a reply since the last reply came (Redis may not have them).
        self._unconfirmed = 0
        self._error: RedisError | None = None
        self.lost = False
        self.closed: asyncio.Future[None] = loop.create_future()

    # asyncio's side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses.
        self._transport = cast(asyncio.Transport, transport)
        self._probe = _probe_socket(transport)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        waiters = self._waiters
        self._replies += 1
        self._unconfirmed = 0  # Redis answers in order: it had everything before this
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as error:
                self.abort(ConnectionError(f"Redis sent something unreadable: {error}"))
                return
            if reply is False:
                break
            if not waiters:
                self.abort(ConnectionError("Redis sent a reply nobody asked for"))
                return
            waiter = waiters.popleft()
            if waiter is None:
                if isinstance(reply, RedisError):
                    self._owner._dropped(reply)
            elif isinstance(waiter, asyncio.Future):
                if not waiter.done():
                    if isinstance(reply, RedisError):
                        waiter.set_exception(reply)
                    else:
                        waiter.set_result(reply)
            elif isinstance(reply, RedisError):
                self._owner._dropped(reply, waiter)
        self._active_at = self._loop.time()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._probe is not None:
            self._probe.close()
            self._probe = None
        self._owner._lost(self)
        self._owner.dropped += self._unconfirmed
        self._unconfirmed = 0
        error = self._error
        text = (
            str(error)
            if error is not None
            else f"the connection to Redis at {self._owner.address} was lost"
            + (f": {exc}" if exc else "")
        )
        kind: type[RedisError] = type(error) if error is not None else ConnectionError
        waiters, self._waiters = self._waiters, deque()
        self._out = []
        for waiter in waiters:
            self._owner._fail(waiter, kind(text))
        if not self.closed.done():
            self.closed.set_result(None)

    # Ours

    def write(self, data: bytes, waiter: Waiter | _NoReply) -> bool:
        """Send a command; False (nothing sent) if the connection turned out dead.

        The first command of a loop iteration is written at once; those that
        follow it in the same iteration are gathered and written together
        when the iteration ends.
        """
        if self.lost:
            return False
        if self._gathering:
            self._out.append(data)
        else:
            transport = self._transport
            if transport is None:
                return False
            now = self._loop.time()
            idle = now - self._active_at > PROBE_IDLE_SECONDS and not self._waiters
            if idle and not self._alive():
                return False
            self._active_at = now
            transport.write(data)
            self._gathering = True
            self._loop.call_soon(self._flush)
        if waiter is _NO_REPLY:
            self._unconfirmed += 1
            return True
        self._waiters.append(cast(Waiter, waiter))
        if self._timer is None:
            self._timer = self._loop.call_later(
                self._owner.command_timeout, self._check, self._replies
            )
        return True

    def request(self, args: Sequence[Any], *, reply: bool = True) -> asyncio.Future[Any] | None:
        """Send a command of the connection's own (signing in, loading scripts)."""
        future = self._loop.create_future() if reply else None
        self.write(_pack(args), future)
        return future

    def _flush(self) -> None:
        self._gathering = False
        out = self._out
        if not out:
            return
        self._out = []
        if self.lost or self._transport is None:
            return
        self._transport.write(out[0] if len(out) == 1 else b"".join(out))

    def _alive(self) -> bool:
        """Whether Redis has not closed the connection while it was idle (one peek)."""
        probe = self._probe
        if probe is None:
            return self._transport is not None and not self._transport.is_closing()
        try:
            data = probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        except OSError as error:
            self.abort(ConnectionError(f"the connection to Redis was lost: {error}"))
            return False
        if data:
            return True
        self.abort(ConnectionError("Redis closed the connection"))
        return False

    def _check(self, replies: int) -> None:
        self._timer = None
        if self.lost or not self._waiters:
            return
        if self._replies == replies:
            timeout = self._owner.command_timeout
            self.abort(RedisTimeoutError(f"Redis answered nothing for {timeout} s"))
            return
        self._timer = self._loop.call_later(self._owner.command_timeout, self._check, self._replies)

    def abort(self, error: RedisError) -> None:
        """Give the connection up now: what waits fails with ``error``'s kind and words."""
        if self.lost:
            return
        self._error = error
        self.lost = True  # nothing more is written; connection_lost fails what waits
        self._owner._lost(self)
        if self._transport is not None:
            self._transport.abort()
        else:
            self.connection_lost(None)

    def close(self) -> None:
        """Close once what is queued is written; what still waits fails."""
        self._flush()
        self._owner._lost(self)
        if self._transport is not None and not self.lost:
            self._transport.close()


class RedisConnection:
    """A pipelined command connection to one Redis (see the module docstring)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        address: Address | None = None,
        name: str = "Redis",
        command_timeout: float = COMMAND_TIMEOUT_SECONDS,
    ) -> None:
        self.address = Address.given(url, address)
        self.name = name
        self.command_timeout = command_timeout
        # Commands whose reply was an error or never came, among those sent without a future.
        self.dropped = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._protocol: _CommandProtocol | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._backlog: list[tuple[bytes, Waiter | _NoReply]] = []
        self._scripts: dict[bytes, Script] = {}
        self._retry_at = 0.0
        self._pause = RETRY_FIRST_SECONDS
        self._unreachable = ""
        self._closed = False
        self._trouble = Trouble(f"{name}: the connection to Redis at {self.address}")

    # Made from a redis-py client (the matcher's tests and benchmark hand one over).
    _for_clients: ClassVar[weakref.WeakKeyDictionary[Any, RedisConnection]] = (
        weakref.WeakKeyDictionary()
    )

    @classmethod
    def for_client(cls, client: Any) -> RedisConnection:
        """One lean connection to where a redis-py client connects, shared by its users."""
        made = cls._for_clients.get(client)
        if made is None:
            made = cls._for_clients[client] = cls(address=Address.from_client(client))
        return made

    @property
    def connected(self) -> bool:
        return self._protocol is not None

    def script(self, source: str | bytes) -> Script:
        """Register a script: it is loaded on every new connection; run it with :meth:`evalsha`."""
        script = Script(source.encode() if isinstance(source, str) else source)
        self._scripts.setdefault(script.sha, script)
        return self._scripts[script.sha]

    # Calls -------------------------------------------------------------------------------

    def call(self, *args: Any) -> asyncio.Future[Any]:
        """Send a command now; the future resolves with its reply (or its error)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        future = loop.create_future()
        data = _pack(args)
        protocol = self._protocol
        if protocol is None or not protocol.write(data, future):
            self._submit_later(data, future)
        return future

    def send(
        self,
        *args: Any,
        on_error: Callable[[RedisError], None] | None = None,
        reply: bool = True,
    ) -> None:
        """Send a command now, in order with every call, without waiting for its reply.

        A failure (an error reply, or the connection lost before the reply) is
        counted in ``dropped`` and reported to ``on_error`` when given. With
        ``reply=False`` Redis is asked not to answer at all (CLIENT REPLY
        SKIP), so that nothing wakes this process for it; an error then goes
        unnoticed, and when the connection is lost the commands sent so, since
        Redis last answered anything are counted in ``dropped``.
        """
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._bind(loop)
        waiter: Waiter | _NoReply = on_error
        if reply:
            data = _pack(args)
        else:
            data, waiter = _SKIP_REPLY + _pack(args), _NO_REPLY
        protocol = self._protocol
        if protocol is None or not protocol.write(data, waiter):
            self._submit_later(data, waiter)

    async def evalsha(
        self, script: Script, keys: Sequence[Any] = (), args: Sequence[Any] = ()
    ) -> Any:
        """Run a registered script; on NOSCRIPT, load it and run it again."""
        try:
            return await self.call(b"EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.call(b"SCRIPT", b"LOAD", script.source)
            return await self.call(b"EVALSHA", script.sha, len(keys), *keys, *args)

    async def ping(self) -> bool:
        return bool(await self.call(b"PING") == b"PONG")

    # Connecting --------------------------------------------------------------------------

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """First use, or use from another event loop once the first one no longer runs."""
        old = self._loop
        if old is not None:
            if old.is_running():
                raise RuntimeError(f"{self.name}: this Redis connection belongs to another loop")
            protocol, self._protocol = self._protocol, None
            if protocol is not None and not old.is_closed():
                protocol.abort(ConnectionError("moved to another event loop"))
            self._connecting = None
            self._backlog = []
            self._retry_at = 0.0
            self._pause = RETRY_FIRST_SECONDS
        self._loop = loop

    def _submit_later(self, data: bytes, waiter: Waiter | _NoReply) -> None:
        loop = self._loop
        assert loop is not None
        if self._closed:
            self._fail(waiter, ConnectionError(f"{self.name}: the connection is closed"))
            return
        if self._connecting is None:
            if loop.time() < self._retry_at:
                self._fail(waiter, ConnectionError(self._unreachable))
                return
            self._connecting = loop.create_task(self._connect())
        self._backlog.append((data, waiter))

    async def _connect(self) -> None:
        loop = self._loop
        assert loop is not None
        protocol: _CommandProtocol | None = None
        try:
            async with asyncio.timeout(self.address.connect_timeout):
                _transport, made = await self.address.open(
                    loop, lambda: _CommandProtocol(self, loop)
                )
                assert isinstance(made, _CommandProtocol)
                protocol = made
                signed_in = [protocol.request(command) for command in self.address.sign_in()]
                # Scripts before anything else: a restarted Redis knows none.
                for script in self._scripts.values():
                    protocol.request((b"SCRIPT", b"LOAD", script.source), reply=False)
                for reply in signed_in:
                    await cast(asyncio.Future[Any], reply)
            if protocol.lost:
                raise ConnectionError("the connection was lost as it opened")
        except (OSError, RedisError, TimeoutError) as error:
            if protocol is not None:
                protocol.abort(ConnectionError(str(error)))
            self._connect_failed(error)
            return
        except BaseException as error:  # cancelled: closing, or another loop
            if protocol is not None:
                protocol.abort(ConnectionError("closed while connecting"))
            self._connect_failed(error)
            raise
        self._connecting = None
        self._protocol = protocol
        self._pause = RETRY_FIRST_SECONDS
        self._retry_at = 0.0
        self._trouble.recovered()
        backlog, self._backlog = self._backlog, []
        for data, waiter in backlog:
            if not protocol.write(data, waiter):
                self._fail(waiter, ConnectionError("the connection was lost as it opened"))

    def _connect_failed(self, error: BaseException) -> None:
        loop = self._loop
        self._connecting = None
        if loop is not None:
            self._retry_at = loop.time() + self._pause
        self._pause = min(self._pause * 2, RETRY_LAST_SECONDS)
        self._unreachable = f"{self.name}: Redis at {self.address} is unreachable: {error!r}"
        if not isinstance(error, asyncio.CancelledError):
            self._trouble.failed(error)
        backlog, self._backlog = self._backlog, []
        for _data, waiter in backlog:
            self._fail(waiter, ConnectionError(self._unreachable))

    def _lost(self, protocol: _CommandProtocol) -> None:
        if self._protocol is protocol:
            self._protocol = None

    def _fail(self, waiter: Waiter | _NoReply, error: RedisError) -> None:
        if waiter is None or waiter is _NO_REPLY:
            self._dropped(error)
        elif isinstance(waiter, asyncio.Future):
            if not waiter.done():
                waiter.set_exception(error)
        else:
            self._dropped(error, cast(Callable[[RedisError], None], waiter))

    def _dropped(
        self, error: RedisError, on_error: Callable[[RedisError], None] | None = None
    ) -> None:
        self.dropped += 1
        if not isinstance(error, ConnectionError | RedisTimeoutError):
            logger.warning("%s: a command sent without waiting failed: %r", self.name, error)
        if on_error is not None:
            try:
                on_error(error)
            except Exception:
                logger.exception("%s: reporting a failed command failed", self.name)

    # Closing -----------------------------------------------------------------------------

    async def disconnect(self) -> None:
        """Close the connection (what waits fails); the next call connects again."""
        connecting, self._connecting = self._connecting, None
        if connecting is not None and not connecting.done():
            connecting.cancel()
            await asyncio.wait({connecting})  # it fails its backlog as it ends
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            protocol.close()
            try:
                async with asyncio.timeout(1.0):
                    await asyncio.shield(protocol.closed)
            except TimeoutError:
                protocol.abort(ConnectionError("closed"))

    async def aclose(self) -> None:
        """Close for good: later calls fail."""
        self._closed = True
        await self.disconnect()


# The subscriber ----------------------------------------------------------------------


class _SubscriberProtocol(asyncio.Protocol):
    def __init__(self, owner: RedisSubscriber, loop: asyncio.AbstractEventLoop) -> None:
        self._owner = owner
        self._on_message = owner._on_message
        self._reader = hiredis.Reader(replyError=_reply_error)
        self._loop = loop
        self._transport: asyncio.Transport | None = None
        # Replies to AUTH (before subscribing): anything that is not a list.
        self._signing_in: deque[asyncio.Future[Any]] = deque()
        self.received = 0
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)

    def data_received(self, data: bytes) -> None:
        reader = self._reader
        reader.feed(data)
        self.received += 1
        on_message = self._on_message
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as error:
                self.abort(ConnectionError(f"Redis sent something unreadable: {error}"))
                return
            if reply is False:
                return
            if reply.__class__ is list and len(reply) == 3 and reply[0] == _MESSAGE:
                try:
                    on_message(reply[1], reply[2])
                except Exception:
                    logger.exception("%s: handling a message failed", self._owner.name)
            elif reply.__class__ is list:
                self._owner._control(reply)
            elif self._signing_in:
                waiter = self._signing_in.popleft()
                if not waiter.done():
                    if isinstance(reply, RedisError):
                        waiter.set_exception(reply)
                    else:
                        waiter.set_result(reply)
            elif isinstance(reply, RedisError):
                logger.warning("%s: Redis answered %r", self._owner.name, reply)

    def connection_lost(self, exc: Exception | None) -> None:
        error = ConnectionError(f"the subscriber's connection was lost: {exc or 'closed'}")
        while self._signing_in:
            waiter = self._signing_in.popleft()
            if not waiter.done():
                waiter.set_exception(error)
        if not self.lost.done():
            self.lost.set_result(exc)

    def write(self, args: Sequence[Any]) -> None:
        if self._transport is not None and not self.lost.done():
            self._transport.write(_pack(args))

    def request(self, args: Sequence[Any]) -> asyncio.Future[Any]:
        future = self._loop.create_future()
        self._signing_in.append(future)
        self.write(args)
        return future

    def abort(self, error: BaseException) -> None:
        if self._transport is not None:
            self._transport.abort()
        if not self.lost.done():
            self.lost.set_result(error)


class RedisSubscriber:
    """One pub/sub connection, kept connected and subscribed (see the module docstring)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        on_message: Callable[[bytes, bytes], None],
        on_subscribed: Callable[[bytes], None] | None = None,
        on_connected: Callable[[], None] | None = None,
        on_disconnected: Callable[[], None] | None = None,
        address: Address | None = None,
        name: str = "Redis subscriber",
        ping_seconds: float = PING_SECONDS,
    ) -> None:
        self.address = Address.given(url, address)
        self.name = name
        self._on_message = on_message
        self._on_subscribed = on_subscribed
        self._on_connected = on_connected
        self._on_disconnected = on_disconnected
        self._ping_seconds = ping_seconds
        self._wanted: set[bytes] = set()
        # SUBSCRIBE sent and not yet confirmed, per channel.
        self._unconfirmed: dict[bytes, int] = {}
        self._protocol: _SubscriberProtocol | None = None
        self._task: asyncio.Task[None] | None = None
        self._trouble = Trouble(f"{name}: the subscriber")

    @property
    def connected(self) -> bool:
        return self._protocol is not None

    @property
    def channels(self) -> frozenset[bytes]:
        return frozenset(self._wanted)

    def start(self) -> None:
        """Connect, and keep connected, from a task of its own."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._keep_connected())

    async def aclose(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})

    def subscribe(self, channel: bytes) -> None:
        """Receive ``channel`` from now on (once Redis confirms it: ``on_subscribed``)."""
        if channel in self._wanted:
            return
        self._wanted.add(channel)
        if self._protocol is not None:
            self._unconfirmed[channel] = self._unconfirmed.get(channel, 0) + 1
            self._protocol.write((b"SUBSCRIBE", channel))

    def unsubscribe(self, channel: bytes) -> None:
        if channel not in self._wanted:
            return
        self._wanted.discard(channel)
        if self._protocol is not None:
            self._protocol.write((b"UNSUBSCRIBE", channel))

    def _control(self, reply: list[Any]) -> None:
        if reply[0] != _SUBSCRIBE or len(reply) < 2:
            return  # unsubscribe confirmations, pongs
        channel = reply[1]
        left = self._unconfirmed.get(channel, 0) - 1
        if left > 0:
            self._unconfirmed[channel] = left
            return  # a later SUBSCRIBE of the channel is still on its way
        self._unconfirmed.pop(channel, None)
        if channel in self._wanted and self._on_subscribed is not None:
            try:
                self._on_subscribed(channel)
            except Exception:
                logger.exception("%s: confirming a subscription failed", self.name)

    async def _keep_connected(self) -> None:
        pause = RECONNECT_FIRST_SECONDS
        while True:
            protocol = await self._connect()
            if protocol is None:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RECONNECT_LAST_SECONDS)
                continue
            pause = RECONNECT_FIRST_SECONDS
            self._trouble.recovered()
            self._protocol = protocol
            self._unconfirmed.clear()
            names = list(self._wanted)
            for start in range(0, len(names), SUBSCRIBE_CHUNK):
                chunk = names[start : start + SUBSCRIBE_CHUNK]
                for channel in chunk:
                    self._unconfirmed[channel] = 1
                protocol.write((b"SUBSCRIBE", *chunk))
            try:
                if self._on_connected is not None:
                    self._on_connected()
                error = await self._watch(protocol)
                self._trouble.failed(error or ConnectionError("Redis closed the connection"))
            except Exception:
                logger.exception("%s: the subscriber failed; reconnecting", self.name)
            finally:
                self._protocol = None
                protocol.abort(ConnectionError("reconnecting"))
                if self._on_disconnected is not None:
                    try:
                        self._on_disconnected()
                    except Exception:
                        logger.exception("%s: handling a disconnection failed", self.name)
            await asyncio.sleep(pause)

    async def _connect(self) -> _SubscriberProtocol | None:
        loop = asyncio.get_running_loop()
        protocol: _SubscriberProtocol | None = None
        try:
            async with asyncio.timeout(self.address.connect_timeout):
                _transport, made = await self.address.open(
                    loop, lambda: _SubscriberProtocol(self, loop)
                )
                assert isinstance(made, _SubscriberProtocol)
                protocol = made
                for command in self.address.sign_in(select=False):
                    await protocol.request(command)
        except (OSError, RedisError, TimeoutError) as error:
            if protocol is not None:
                protocol.abort(error)
            self._trouble.failed(error)
            return None
        return protocol

    async def _watch(self, protocol: _SubscriberProtocol) -> BaseException | None:
        """Until the connection is lost; a PING when Redis is quiet, given up if unanswered."""
        pinged = False
        while True:
            seen = protocol.received
            done, _pending = await asyncio.wait({protocol.lost}, timeout=self._ping_seconds)
            if done:
                return protocol.lost.result()
            if protocol.received != seen:
                pinged = False
            elif pinged:
                error = ConnectionError("the subscriber's PING went unanswered")
                protocol.abort(error)
                return error
            else:
                protocol.write((b"PING",))
                pinged = True
