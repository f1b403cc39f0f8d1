"""Where the matching queue lives: the ``Matcher`` protocol and its in-memory backend.

Callers (the ``queue.join`` handler, the service that ends a conversation) talk
to a ``Matcher`` and never to a ``MatchingEngine`` directly, so the queue can
live in one process (``MemoryMatcher``) or be shared by many processes on many
machines (``chatspheres.matching.redis_matcher.RedisMatcher``, atomic Lua
scripts).  Every backend applies the rules described in
``chatspheres.matching.engine`` and passes the same contract tests
(tests/matching/test_matcher_contract.py).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from chatspheres.matching.engine import MatchingEngine, Pairing, Seeker

__all__ = ["Matcher", "MemoryMatcher"]


@runtime_checkable
class Matcher(Protocol):
    """The matching queue as the rest of the project sees it.

    Each call is atomic with respect to every other call on the same queue,
    whichever process makes it: two arrivals can never both be paired with the
    same waiting person.

    ``restore(pairing, arrival=..., partner=...)`` is for a pairing ``join``
    just returned whose conversation could not be started: the partner waits
    again at the very place it had, the arrival waits again at the back, each
    only if its flag is true and it is not already waiting again, and the two
    are no longer recent partners.  It pairs nobody.  See
    ``chatspheres.matching.engine`` for why forgetting the pair is right.

    ``recent_partners_waiting(person, pool)`` tells which of the waiting are
    people the person may not meet for having been together within the
    recent-partner window (the waiting screen's "Only people you've talked
    with in the last 10 minutes are here right now"); exclusions play no part
    in it, so it never reveals one.
    """

    async def join(self, seeker: Seeker) -> Pairing | None:
        """Pair the seeker with the best waiting candidate, or queue them and return None."""
        ...

    async def leave(self, person: int, tab: str | None = None) -> Seeker | None:
        """Stop the person waiting (only if their wait is from ``tab``); return who left."""
        ...

    async def note_parted(self, a: int, b: int) -> None:
        """Record that two people just left each other, so they are not paired again soon."""
        ...

    async def restore(
        self, pairing: Pairing, *, arrival: bool = True, partner: bool = True
    ) -> None:
        """Undo a pairing whose conversation could not start: the two wait again, apart."""
        ...

    async def waiting_count(self, pool: int) -> int:
        """Return how many people wait in the pool (sphere)."""
        ...

    async def is_waiting(self, person: int) -> bool:
        """Return whether the person waits in any pool."""
        ...

    async def recent_partners_waiting(self, person: int, pool: int) -> dict[int, str]:
        """Return the person's recent partners who wait in the pool now, with the tab of each."""
        ...


class MemoryMatcher:
    """A ``Matcher`` held in this process's memory, for a single-process deployment.

    The engine's methods never await, so each call runs to completion without
    interruption on the event loop; that is what makes them atomic.  Use it
    from one event loop only.
    """

    def __init__(self, engine: MatchingEngine | None = None) -> None:
        """Wrap ``engine``, or a new engine with the default settings."""
        self._engine = engine if engine is not None else MatchingEngine()

    async def join(self, seeker: Seeker) -> Pairing | None:
        """Pair the seeker with the best waiting candidate, or queue them and return None."""
        return self._engine.join(seeker)

    async def leave(self, person: int, tab: str | None = None) -> Seeker | None:
        """Stop the person waiting (only if their wait is from ``tab``); return who left."""
        return self._engine.leave(person, tab)

    async def note_parted(self, a: int, b: int) -> None:
        """Record that two people just left each other, so they are not paired again soon."""
        self._engine.note_parted(a, b)

    async def restore(
        self, pairing: Pairing, *, arrival: bool = True, partner: bool = True
    ) -> None:
        """Undo a pairing whose conversation could not start: the two wait again, apart."""
        self._engine.restore(pairing, arrival=arrival, partner=partner)

    async def waiting_count(self, pool: int) -> int:
        """Return how many people wait in the pool (sphere)."""
        return self._engine.waiting_count(pool)

    async def is_waiting(self, person: int) -> bool:
        """Return whether the person waits in any pool."""
        return self._engine.is_waiting(person)

    async def recent_partners_waiting(self, person: int, pool: int) -> dict[int, str]:
        """Return the person's recent partners who wait in the pool now, with the tab of each."""
        return self._engine.recent_partners_waiting(person, pool)
