"""The short-lived chat buffer: the last lines of each live conversation, for reports only.

Chat is relayed, never stored. So that a report about what someone wrote
can show it, the calls app hands every relayed line to this buffer (through
``calls.hooks.chat_listener_register``: calls never imports safety), which
keeps the last :data:`LINES_KEPT` lines of each conversation and forgets
them :data:`KEPT_SECONDS` after the last line was said. Since no line is
said after a call ends, nothing outlives a call by more than that. Lines
reach the database only when one of the two reports the other: then they
are copied into the report's ``chat_excerpt``.

Without ``REDIS_URL`` the buffer lives in this process's memory; with it,
in Redis (one list per conversation, written with LPUSH, LTRIM and EXPIRE
in one transaction), so the process that relayed the chat and the one that
takes the report need not be the same.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypedDict

from django.conf import settings

if TYPE_CHECKING:
    import redis
    import redis.asyncio

# How many of a conversation's last chat lines are kept, and for how long after the last one.
LINES_KEPT = 20
KEPT_SECONDS = 600


class ChatLine(TypedDict):
    """One buffered line: who said it (a member's id), what, and when (ISO 8601, UTC)."""

    user: int
    text: str
    at: str


def line_for(*, user_id: int, text: str, at: datetime) -> ChatLine:
    return {"user": user_id, "text": text, "at": at.isoformat()}


class ChatBuffer(Protocol):
    """Where relayed lines wait, briefly, in case one of the two reports the other."""

    async def push(self, conversation: str, line: ChatLine) -> None:
        """Keep one more line of the conversation (the oldest beyond the limit goes)."""
        ...

    def lines(self, conversation: str) -> list[ChatLine]:
        """The conversation's kept lines, oldest first; none once they expired."""
        ...


class MemoryChatBuffer:
    """The buffer in this process's memory (a site served by one process).

    Lines arrive on the event loop and are read from Django's threads, hence
    the lock. Expired conversations are dropped as new lines come in.
    """

    def __init__(
        self,
        *,
        kept: int = LINES_KEPT,
        seconds: float = KEPT_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kept, self._seconds, self._clock = kept, seconds, clock
        self._lock = threading.Lock()
        self._conversations: dict[str, tuple[deque[ChatLine], float]] = {}
        self._next_sweep = 0.0

    async def push(self, conversation: str, line: ChatLine) -> None:
        self.push_now(conversation, line)

    def push_now(self, conversation: str, line: ChatLine) -> None:
        now = self._clock()
        with self._lock:
            if now >= self._next_sweep:
                self._sweep(now)
            kept = self._conversations.get(conversation)
            lines = kept[0] if kept is not None and kept[1] > now else deque(maxlen=self._kept)
            lines.append(line)
            self._conversations[conversation] = (lines, now + self._seconds)

    def lines(self, conversation: str) -> list[ChatLine]:
        now = self._clock()
        with self._lock:
            kept = self._conversations.get(conversation)
            if kept is None or kept[1] <= now:
                self._conversations.pop(conversation, None)
                return []
            return list(kept[0])

    def _sweep(self, now: float) -> None:
        for conversation in [c for c, (_, until) in self._conversations.items() if until <= now]:
            del self._conversations[conversation]
        self._next_sweep = now + min(60.0, self._seconds)


class RedisChatBuffer:
    """The buffer in Redis, shared by every process of the site.

    Lines are pushed by the event loop's client; reports read them with a
    synchronous client, since reports are taken in Django's threads.
    """

    def __init__(
        self,
        *,
        writer: redis.asyncio.Redis | None,
        reader: redis.Redis | None,
        key_prefix: str,
        kept: int = LINES_KEPT,
        seconds: int = KEPT_SECONDS,
    ) -> None:
        self._writer, self._reader = writer, reader
        self._prefix, self._kept, self._seconds = key_prefix, kept, seconds

    def key(self, conversation: str) -> str:
        return f"{self._prefix}chat:{conversation}"

    async def push(self, conversation: str, line: ChatLine) -> None:
        assert self._writer is not None, "a read-only buffer cannot keep lines"
        key = self.key(conversation)
        async with self._writer.pipeline(transaction=True) as pipe:
            pipe.lpush(key, json.dumps(line))
            pipe.ltrim(key, 0, self._kept - 1)
            pipe.expire(key, self._seconds)
            await pipe.execute()

    def lines(self, conversation: str) -> list[ChatLine]:
        assert self._reader is not None, "a write-only buffer cannot be read"
        raw: list[Any] = self._reader.lrange(self.key(conversation), 0, self._kept - 1)
        # LPUSH puts the newest first.
        return [json.loads(item) for item in reversed(raw)]


_memory = MemoryChatBuffer()
_reader_lock = threading.Lock()
_readers: dict[str, RedisChatBuffer] = {}


def memory_buffer() -> MemoryChatBuffer:
    """This process's own buffer (used when the site runs without Redis)."""
    return _memory


def buffer_for_reading() -> ChatBuffer:
    """The buffer reports read: Redis when the site has one, else this process's memory."""
    url = settings.REDIS_URL
    if not url:
        return _memory
    prefix = settings.REDIS_KEY_PREFIX
    with _reader_lock:
        reader = _readers.get(f"{url} {prefix}")
        if reader is None:
            import redis

            reader = _readers[f"{url} {prefix}"] = RedisChatBuffer(
                writer=None, reader=redis.Redis.from_url(url), key_prefix=prefix
            )
        return reader


def chat_lines(conversation: str) -> list[ChatLine]:
    """The kept lines of a conversation, oldest first, from wherever the site keeps them."""
    return buffer_for_reading().lines(conversation)
