"""The engine against the brute-force reference, over generated sequences of operations.

The reference (``reference.py``) keeps everyone waiting in one list and, for
each arrival, looks at all of them.  On pools smaller than ``scan_limit`` the
engine must agree with it exactly; with a tiny ``scan_limit`` (so the
engine's bounded scan cuts in) it must still never break a rule.  The same
machines run on every ``Matcher`` backend in test_matcher_contract.py.
"""

from __future__ import annotations

from hypothesis import given, settings

from chatspheres.matching.engine import MatchingEngine, Seeker
from tests.matching.machines import (
    EXACT_SCAN_LIMIT,
    WINDOW,
    arrival_lists,
    arrivals_facing_a_crowd,
    crowds,
    partings,
    run_against_reference,
    run_familiar_faces,
)
from tests.matching.reference import FakeClock

STEPS = 50


def engine(clock: FakeClock, scan_limit: int) -> MatchingEngine:
    return MatchingEngine(recent_partner_window=WINDOW, scan_limit=scan_limit, clock=clock)


def test_engine_chooses_exactly_as_the_reference_on_small_pools() -> None:
    run_against_reference(
        engine, scan_limit=EXACT_SCAN_LIMIT, exact=True, examples=200, steps=STEPS
    )


def test_engine_keeps_every_rule_when_the_scan_is_cut_short() -> None:
    run_against_reference(engine, scan_limit=1, exact=False, examples=100, steps=STEPS)


def test_familiar_faces_at_most_one_in_four_matches_and_never_a_bad_repeat() -> None:
    run_familiar_faces(engine, scan_limit=EXACT_SCAN_LIMIT, exact=True, examples=300, steps=STEPS)


def test_familiar_faces_rule_holds_when_the_scan_is_cut_short() -> None:
    run_familiar_faces(engine, scan_limit=1, exact=False, examples=100, steps=STEPS)


@settings(max_examples=300, deadline=None)
@given(crowd=crowds, noted_partings=partings, arrivals=arrival_lists)
def test_arrivals_facing_a_crowd_get_the_reference_choice(
    crowd: list[Seeker], noted_partings: list[tuple[int, int]], arrivals: list[Seeker]
) -> None:
    arrivals_facing_a_crowd(engine, crowd, noted_partings, arrivals)
