"""Fan-out and presence shared by every connection.

A *hub* carries envelopes from publishers to the connections subscribed to a
channel (``user:<id>``, ``conn:<ticket>``, ``sphere:<id>``) and keeps presence
sets (who is online where). :class:`MemoryHub` serves one process. A Redis
hub (pub/sub for fan-out, keys with TTL for presence) implements the same
:class:`Hub` protocol so handlers never change when the site grows to many
processes.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable
from typing import Protocol

import msgspec


class Kind:
    """What a receiving connection does with an envelope besides sending it."""

    EVENT = 0  # send as is
    RELAY = 1  # send only while the receiver is in ``conversation``
    MATCHED = 2  # the receiver enters ``conversation`` with the tab ``partner``
    ENDED = 3  # the receiver leaves ``conversation``; nothing more is relayed for it


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    """One frame on its way to connections, with what they need to route it."""

    frame: str
    kind: int = Kind.EVENT
    conversation: str | None = None
    partner: str | None = None


class Inbox(Protocol):
    """Something that can receive envelopes: a live connection."""

    async def deliver(self, envelope: Envelope) -> None: ...

    def deliver_now(self, envelope: Envelope) -> bool:
        """Take the envelope synchronously, or return False to have it delivered instead."""
        ...


class Hub(Protocol):
    """Fan-out of envelopes to channels, and presence sets."""

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def subscribe(self, channel: str, inbox: Inbox) -> None: ...
    async def unsubscribe(self, channel: str, inbox: Inbox) -> None: ...
    async def publish(self, channel: str, envelope: Envelope) -> int:
        """Deliver to every subscriber of ``channel``; return how many there were."""
        ...

    def publish_threadsafe(self, channel: str, envelope: Envelope) -> None:
        """Publish from a worker thread (a service's on-commit hook); never blocks."""
        ...

    def publish_now(self, channel: str, envelope: Envelope) -> bool:
        """Deliver synchronously if that is possible at once; False means call publish()."""
        ...

    async def presence_add(self, scope: str, member: int) -> bool:
        """Count ``member`` once more in ``scope``; True when they were not there before."""
        ...

    async def presence_remove(self, scope: str, member: int) -> bool:
        """Count ``member`` once less; True when they are no longer there at all."""
        ...

    async def presence_counts(self, scopes: Iterable[str]) -> dict[str, int]:
        """How many distinct members each scope has now."""
        ...


class MemoryHub:
    """The hub for a single process: dictionaries on the event loop."""

    def __init__(self) -> None:
        self._subscribers: dict[str, list[Inbox]] = {}
        # A member with two tabs in a sphere counts once; the Counter keeps
        # how many of their tabs are there so closing one does not hide them.
        self._presence: dict[str, Counter[int]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Remember the loop so worker threads can hand envelopes to it."""
        self._loop = asyncio.get_running_loop()

    async def stop(self) -> None:
        """Forget every subscriber."""
        self._subscribers.clear()
        self._presence.clear()
        self._loop = None

    async def subscribe(self, channel: str, inbox: Inbox) -> None:
        """Start delivering ``channel`` to ``inbox``."""
        self._subscribers.setdefault(channel, []).append(inbox)

    async def unsubscribe(self, channel: str, inbox: Inbox) -> None:
        """Stop delivering ``channel`` to ``inbox``."""
        inboxes = self._subscribers.get(channel)
        if not inboxes:
            return
        try:
            inboxes.remove(inbox)
        except ValueError:
            return
        if not inboxes:
            del self._subscribers[channel]

    async def publish(self, channel: str, envelope: Envelope) -> int:
        """Deliver ``envelope`` to each subscriber of ``channel``."""
        inboxes = self._subscribers.get(channel)
        if not inboxes:
            return 0
        if len(inboxes) == 1:  # the relay hot path: one partner tab
            await inboxes[0].deliver(envelope)
            return 1
        for inbox in tuple(inboxes):
            await inbox.deliver(envelope)
        return len(inboxes)

    def publish_now(self, channel: str, envelope: Envelope) -> bool:
        """Hand a relayed frame to the one tab listening, without awaiting anything."""
        inboxes = self._subscribers.get(channel)
        if not inboxes:
            return True  # nobody listens, exactly as publish() would find
        if len(inboxes) != 1:
            return False
        return inboxes[0].deliver_now(envelope)

    def publish_threadsafe(self, channel: str, envelope: Envelope) -> None:
        """Schedule a publish on the hub's loop from another thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return  # no server is running: nobody could be listening
        asyncio.run_coroutine_threadsafe(self.publish(channel, envelope), loop)

    async def presence_add(self, scope: str, member: int) -> bool:
        """Count one more tab of ``member`` in ``scope``."""
        members = self._presence.setdefault(scope, Counter())
        members[member] += 1
        return members[member] == 1

    async def presence_remove(self, scope: str, member: int) -> bool:
        """Count one tab less of ``member`` in ``scope``."""
        members = self._presence.get(scope)
        if not members or member not in members:
            return False
        members[member] -= 1
        if members[member] > 0:
            return False
        del members[member]
        if not members:
            del self._presence[scope]
        return True

    async def presence_counts(self, scopes: Iterable[str]) -> dict[str, int]:
        """Distinct members per scope."""
        return {scope: len(self._presence.get(scope, ())) for scope in scopes}
