"""Who waits and who arrives: interests drawn from a Zipf-like vocabulary."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from itertools import accumulate

from chatspheres.matching.engine import Seeker

POOL = 1


@dataclass(frozen=True)
class Vocabulary:
    """A set of interests where the k-th most popular is chosen about 1/k as often."""

    name: str
    size: int
    exponent: float = 1.0

    def sampler(self, rng: random.Random) -> InterestSampler:
        return InterestSampler(self, rng)


class InterestSampler:
    """Draws each person's 3 to 5 distinct interests."""

    def __init__(self, vocabulary: Vocabulary, rng: random.Random) -> None:
        self._names = [f"{vocabulary.name[0]}{rank}" for rank in range(1, vocabulary.size + 1)]
        weights = [1.0 / rank**vocabulary.exponent for rank in range(1, vocabulary.size + 1)]
        self._cumulative = list(accumulate(weights))
        self._rng = rng

    def interests(self) -> frozenset[str]:
        wanted = self._rng.choice((3, 4, 5))
        chosen: set[str] = set()
        # Bounded: with 30 or more interests, 200 draws find 5 distinct ones
        # with overwhelming probability; fewer is still a valid profile.
        for _ in range(200):
            chosen.add(self._rng.choices(self._names, cum_weights=self._cumulative)[0])
            if len(chosen) == wanted:
                break
        # A set and strings of its own, as each seeker gets from the database
        # (chatspheres/matching/selectors.py), not shared with other people:
        # at 100,000 waiting, what a comparison touches is mostly not in cache.
        return frozenset(name.encode().decode() for name in chosen)


def prefilled_people(size: int, sampler: InterestSampler) -> list[Seeker]:
    """``size`` people who all exclude one another, so the queue cannot shrink by itself.

    One shared frozenset holds every prefilled id: each prefilled person
    excludes all the others without a set per person.
    """
    everyone = frozenset(range(size))
    return [
        Seeker(person=person, tab="w", pool=POOL, interests=sampler.interests(), excluded=everyone)
        for person in range(size)
    ]


def active_people(count: int, sampler: InterestSampler) -> list[Seeker]:
    """The people whose arrivals are timed; each comes back after every call.

    Their ids are negative, clear of the prefilled 0..N-1, for a reason: the
    engine checks each candidate's ``excluded`` for the arrival's id, and here
    that is the huge shared set of prefilled ids. A small int hashes to itself,
    so ids just above N would land in that set's densely filled low slots and
    cost a long probe each time, an artefact of this set-up (real exclusion
    sets, blocks, are small). Negative ids land in its empty top slots.
    """
    return [
        Seeker(person=-1 - index, tab="a", pool=POOL, interests=sampler.interests())
        for index in range(count)
    ]


def arrival_order(people: list[Seeker], arrivals: int, rng: random.Random) -> list[Seeker]:
    """Round after round, everyone arrives once in a fresh random order."""
    order: list[Seeker] = []
    while len(order) < arrivals:
        round_ = list(people)
        rng.shuffle(round_)
        order.extend(round_)
    return order[:arrivals]


# Each active person's familiar faces: connections among the people waiting
# and among the other active people (the familiar-faces rule's workload).
FAMILIAR_WAITING = 6
FAMILIAR_ACTIVE = 4


def with_familiar_faces(
    prefilled: list[Seeker], active: list[Seeker], rng: random.Random
) -> tuple[list[Seeker], list[Seeker]]:
    """The same people, each active one with familiar faces (and those faces with them).

    Connections go both ways, as the site's do: a waiting person chosen as an
    active person's familiar face lists them back.  Waiting people are taken
    from the whole queue, so familiar faces stand anywhere in it, as they
    would; the rule's cost is paid by every arrival whether or not one is met.
    """
    faces: dict[int, set[int]] = {seeker.person: set() for seeker in (*prefilled, *active)}
    active_ids = [seeker.person for seeker in active]
    for seeker in active:
        others = [person for person in active_ids if person != seeker.person]
        for face in (
            *rng.sample(range(len(prefilled)), FAMILIAR_WAITING),
            *rng.sample(others, FAMILIAR_ACTIVE),
        ):
            faces[seeker.person].add(face)
            faces[face].add(seeker.person)

    def familiar(seeker: Seeker) -> Seeker:
        listed = faces[seeker.person]
        # A set of its own per person, like everything the site reads per person.
        return replace(seeker, familiar=frozenset(listed)) if listed else seeker

    return [familiar(seeker) for seeker in prefilled], [familiar(seeker) for seeker in active]
