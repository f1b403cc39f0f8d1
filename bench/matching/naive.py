"""The baseline: the engine's rules, decided by a plain scan over everyone waiting.

Same rules as ``chatspheres.matching.engine.MatchingEngine``: same pool, not
the arrival, not excluded by either side, not together within the
recent-partner window; the most shared interests win, the longest-waiting
among equals; when nobody shares an interest, the longest-waiting eligible
person. The difference is the cost: every arrival looks at every waiting
person, so it grows with the queue. It is written to be fast for what it is
(local names, one pass, a per-person map of recent partners) so that the
comparison is against a fair scan, not a strawman.
"""

from __future__ import annotations

from collections.abc import Callable

from chatspheres.matching.engine import Pairing, Seeker


class NaiveMatcher:
    """A queue that scans every waiting person for each arrival."""

    def __init__(self, *, recent_partner_window: float, clock: Callable[[], float]) -> None:
        self._window = recent_partner_window
        self._clock = clock
        # Insertion order is join order: the scan meets the longest-waiting first.
        self._waiting: dict[int, Seeker] = {}
        self._last_together: dict[int, dict[int, float]] = {}

    def join(self, seeker: Seeker) -> Pairing | None:
        """Pair the seeker with the best waiting candidate, or queue them and return None."""
        self._waiting.pop(seeker.person, None)
        now = self._clock()
        window = self._window
        me = seeker.person
        pool = seeker.pool
        mine = seeker.interests
        excluded = seeker.excluded
        recent = self._last_together.get(me, {})
        best: Seeker | None = None
        best_shared = -1
        for person, candidate in self._waiting.items():
            if candidate.pool != pool or person in excluded or me in candidate.excluded:
                continue
            together = recent.get(person)
            if together is not None and now - together < window:
                continue
            shared = len(mine & candidate.interests)
            # Strictly more: among equals the earlier (longer-waiting) one stays.
            if shared > best_shared:
                best, best_shared = candidate, shared
        if best is None:
            self._waiting[me] = seeker
            return None
        del self._waiting[best.person]
        self._remember(me, best.person, now)
        return Pairing(arrival=seeker, partner=best, shared=mine & best.interests)

    def enqueue_unmatchable(self, seeker: Seeker) -> None:
        """Queue someone known to be unable to pair now, without scanning (untimed prefill)."""
        self._waiting.pop(seeker.person, None)
        self._waiting[seeker.person] = seeker

    def leave(self, person: int) -> None:
        """Stop the person waiting."""
        self._waiting.pop(person, None)

    def note_parted(self, a: int, b: int) -> None:
        """Record that two people just left each other."""
        self._remember(a, b, self._clock())

    def waiting_count(self, pool: int) -> int:
        """Return how many people wait in the pool."""
        return sum(1 for seeker in self._waiting.values() if seeker.pool == pool)

    def _remember(self, a: int, b: int, now: float) -> None:
        self._last_together.setdefault(a, {})[b] = now
        self._last_together.setdefault(b, {})[a] = now
