"""What only the engine itself has: its settings and the memory it keeps.

The matching rules are tested once for every backend in
test_matcher_contract.py (the engine through ``MemoryMatcher``) and against
the reference in test_engine_properties.py.
"""

from __future__ import annotations

import pytest

from chatspheres.matching.engine import MatchingEngine, Seeker
from tests.matching.reference import FakeClock

SPHERE = 1
WINDOW = 600.0


def seeker(person: int, *interests: str) -> Seeker:
    return Seeker(person=person, tab=f"tab-{person}", pool=SPHERE, interests=frozenset(interests))


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(now=1000.0)


@pytest.fixture
def engine(clock: FakeClock) -> MatchingEngine:
    return MatchingEngine(recent_partner_window=WINDOW, clock=clock)


def test_settings_that_make_no_sense_are_refused() -> None:
    with pytest.raises(ValueError):
        MatchingEngine(scan_limit=0)
    with pytest.raises(ValueError):
        MatchingEngine(recent_partner_window=-1)


# Memory must stay bounded on a long-running server; there is no public way
# to observe it, hence the look inside.


def test_recent_partner_memory_is_forgotten_after_the_window(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    for person in range(1, 1001):
        engine.note_parted(0, person)
    clock.advance(WINDOW)
    engine.note_parted(5000, 5001)

    assert len(engine._last_together) == 1
    assert len(engine._together_log) == 1
    assert set(engine._recent_partners) == {5000, 5001}


def test_a_restored_pairing_leaves_no_partner_memory(engine: MatchingEngine) -> None:
    engine.join(seeker(1, "chess"))
    pairing = engine.join(seeker(2, "chess"))
    assert pairing is not None

    engine.restore(pairing)

    assert engine._last_together == {}
    assert engine._recent_partners == {}


def test_a_pair_remembered_again_after_a_restore_expires_from_its_latest_time(
    engine: MatchingEngine, clock: FakeClock
) -> None:
    engine.join(seeker(1, "chess"))
    pairing = engine.join(seeker(2, "chess"))
    assert pairing is not None
    engine.restore(pairing, arrival=False, partner=False)
    clock.advance(100)
    engine.note_parted(1, 2)

    # The restored pairing's entry in the log must not forget the later parting.
    clock.advance(WINDOW - 1)
    engine.note_parted(7, 8)
    assert engine._recent_partners[1] == {2}

    clock.advance(1)
    engine.note_parted(7, 8)
    assert 1 not in engine._recent_partners
