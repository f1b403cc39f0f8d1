"""What only the in-process ``Matcher`` has: the engine it wraps.

Its behaviour is tested with every other backend's in test_matcher_contract.py.
"""

from __future__ import annotations

import asyncio

from chatspheres.matching.backends import MemoryMatcher
from chatspheres.matching.engine import MatchingEngine, Seeker

SPHERE = 7


def test_the_given_engine_is_the_one_used() -> None:
    engine = MatchingEngine()
    matcher = MemoryMatcher(engine)

    asyncio.run(matcher.join(Seeker(person=1, tab="tab", pool=SPHERE, interests=frozenset())))

    assert engine.is_waiting(1)
    assert engine.waiting_count(SPHERE) == 1
