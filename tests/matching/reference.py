"""The matching rules written as plainly as possible: the one reference every backend is held to.

The reference keeps everyone waiting in one list, in queue order, and for
each arrival looks at all of them: the eligible person sharing most interests
wins, the one standing first among equals; when nobody shares an interest,
the first eligible person.  Eligible: same pool, not oneself, excluded by
neither side, not together within the window, and not a familiar pairing
unless both sides allow one (familiar: the candidate is among the arrival's
familiar faces).  It has no scan limit, so a backend must agree
with it exactly on pools no larger than its ``scan_limit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chatspheres.matching.engine import Seeker


def is_familiar_pairing(arrival: Seeker, candidate: Seeker) -> bool:
    """The candidate is among the arrival's familiar faces (a waiting person's own list is old)."""
    return candidate.person in arrival.familiar


class FakeClock:
    """A clock that moves only when a test says so."""

    def __init__(self, now: float = 0.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class ReferenceQueue:
    """Who waits, in what order, and who was together when."""

    window: float
    # Oldest first; each person's place in the queue is in ``places``.
    waiting: list[Seeker] = field(default_factory=list)
    places: dict[int, int] = field(default_factory=dict)
    last_together: dict[frozenset[int], float] = field(default_factory=dict)
    next_place: int = 0

    def find(self, person: int) -> Seeker | None:
        return next((each for each in self.waiting if each.person == person), None)

    def place_of(self, person: int) -> int:
        return self.places[person]

    def enqueue(self, seeker: Seeker, place: int | None = None) -> None:
        """Make the seeker wait at the back, or at ``place`` (a place they had before)."""
        if place is None:
            place = self.next_place
            self.next_place += 1
        self.places[seeker.person] = place
        self.waiting.append(seeker)
        self.waiting.sort(key=lambda each: self.places[each.person])

    def remove(self, person: int) -> None:
        self.waiting = [each for each in self.waiting if each.person != person]
        self.places.pop(person, None)

    def were_together_recently(self, a: int, b: int, now: float) -> bool:
        at = self.last_together.get(frozenset({a, b}))
        return at is not None and now - at < self.window

    def may_meet_by_the_old_rules(self, arrival: Seeker, candidate: Seeker, now: float) -> bool:
        """The rules from before familiar faces: pool, oneself, exclusions, the window."""
        return (
            candidate.pool == arrival.pool
            and candidate.person != arrival.person
            and candidate.person not in arrival.excluded
            and arrival.person not in candidate.excluded
            and not self.were_together_recently(arrival.person, candidate.person, now)
        )

    def may_meet(self, arrival: Seeker, candidate: Seeker, now: float) -> bool:
        return self.may_meet_by_the_old_rules(arrival, candidate, now) and (
            not is_familiar_pairing(arrival, candidate)
            or (arrival.familiar_allowed and candidate.familiar_allowed)
        )

    def recent_partners_waiting(self, person: int, pool: int, now: float) -> dict[int, str]:
        """Who of those waiting in the pool was together with the person within the window."""
        return {
            each.person: each.tab
            for each in self.waiting
            if each.pool == pool
            and each.person != person
            and self.were_together_recently(person, each.person, now)
        }

    def best_partner(self, arrival: Seeker, now: float) -> Seeker | None:
        best: Seeker | None = None
        best_shared = -1
        for candidate in self.waiting:  # oldest first, so ">" keeps the oldest among equals
            if not self.may_meet(arrival, candidate, now):
                continue
            shared = len(arrival.interests & candidate.interests)
            if shared > best_shared:
                best, best_shared = candidate, shared
        return best

    def record_together(self, a: int, b: int, now: float) -> None:
        if a != b:
            self.last_together[frozenset({a, b})] = now

    def restore(
        self,
        arrival: Seeker,
        partner: Seeker,
        partner_place: int,
        *,
        restore_arrival: bool,
        restore_partner: bool,
    ) -> None:
        """Undo a pairing: the partner back at its place, the arrival at the back, not partners."""
        # They could not have been recent partners before the pairing, so the
        # pairing's record is the only one to forget.
        self.last_together.pop(frozenset({arrival.person, partner.person}), None)
        if restore_partner and self.find(partner.person) is None:
            self.enqueue(partner, partner_place)
        if restore_arrival and self.find(arrival.person) is None:
            self.enqueue(arrival)
