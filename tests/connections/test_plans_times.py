"""Times across real zones and daylight-saving changes: round trips, waking overlap, no gaps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chatspheres.connections.plan_times import (
    TimeInGap,
    in_fold,
    in_gap,
    local_label,
    overlap_suggestions,
    waking,
    wall_to_utc,
)

ZONES = [
    "America/Sao_Paulo",
    "Asia/Tokyo",
    "Europe/London",
    "America/New_York",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "America/St_Johns",
]

# Days around the clock changes of those zones (both hemispheres), and plain days.
TRANSITION_DAYS = [
    datetime(2027, 3, 14, tzinfo=UTC),  # New York, St John's spring forward
    datetime(2027, 3, 28, tzinfo=UTC),  # London spring forward
    datetime(2027, 4, 4, tzinfo=UTC),  # Sydney, Chatham fall back
    datetime(2027, 9, 26, tzinfo=UTC),  # Chatham spring forward
    datetime(2027, 10, 3, tzinfo=UTC),  # Sydney spring forward
    datetime(2027, 10, 31, tzinfo=UTC),  # London fall back
    datetime(2027, 11, 7, tzinfo=UTC),  # New York, St John's fall back
    datetime(2027, 6, 15, tzinfo=UTC),
]

zones = st.sampled_from(ZONES).map(ZoneInfo)
near_changes = st.builds(
    lambda day, minutes: day + timedelta(minutes=minutes),
    st.sampled_from(TRANSITION_DAYS),
    st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60),
)


@settings(max_examples=300, deadline=None)
@given(zone=zones, moment=near_changes)
def test_an_instant_read_in_a_zone_and_read_back_is_the_same_instant(
    zone: ZoneInfo, moment: datetime
) -> None:
    local = moment.astimezone(zone)
    wall = local.replace(tzinfo=None)
    assert not in_gap(wall, zone)
    back = wall.replace(tzinfo=zone, fold=local.fold).astimezone(UTC)
    assert back == moment
    # Read as a wall time, the first of a doubled hour is chosen: the same instant or an hour on.
    chosen = wall_to_utc(wall, zone)
    assert chosen == moment or (in_fold(moment, zone) and chosen < moment)


@settings(max_examples=300, deadline=None)
@given(zone=zones, day=st.sampled_from(TRANSITION_DAYS), minutes=st.integers(0, 48 * 60 - 1))
def test_a_wall_time_is_refused_exactly_when_the_clocks_skip_it(
    zone: ZoneInfo, day: datetime, minutes: int
) -> None:
    wall = day.replace(tzinfo=None) + timedelta(minutes=minutes)
    if in_gap(wall, zone):
        with pytest.raises(TimeInGap):
            wall_to_utc(wall, zone)
    else:
        # Whatever instant it names reads back as the same wall time.
        assert wall_to_utc(wall, zone).astimezone(zone).replace(tzinfo=None) == wall


@settings(max_examples=150, deadline=None)
@given(first=zones, second=zones, now=near_changes)
def test_suggestions_are_in_waking_hours_for_both_within_a_week_and_never_in_a_gap(
    first: ZoneInfo, second: ZoneInfo, now: datetime
) -> None:
    suggested = overlap_suggestions(first, second, now=now)
    assert len(suggested) <= 3
    assert suggested == sorted(set(suggested))
    for moment in suggested:
        assert now < moment <= now + timedelta(days=7)
        for zone in (first, second):
            assert waking(moment, zone)
            local = moment.astimezone(zone)
            assert "08:00" <= local.strftime("%H:%M") < "22:00"
            assert not in_gap(local.replace(tzinfo=None), zone)


def test_pairs_far_apart_still_get_three_suggestions() -> None:
    now = datetime(2027, 6, 15, 3, tzinfo=UTC)  # midnight in Sao Paulo
    suggested = overlap_suggestions(ZoneInfo("America/Sao_Paulo"), ZoneInfo("Asia/Tokyo"), now=now)
    # Sao Paulo's 08:00-10:00 is Tokyo's 20:00-22:00: the only overlap, every day.
    assert len(suggested) == 3
    assert [local_label(m, ZoneInfo("America/Sao_Paulo"))[4:] for m in suggested] == ["08:00"] * 3


def test_a_time_that_happens_twice_says_which_one() -> None:
    london = ZoneInfo("Europe/London")
    first = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    second = first + timedelta(hours=1)
    assert local_label(first, london) == "Sun 01:30 (first)"
    assert local_label(second, london) == "Sun 01:30 (second)"
    assert local_label(first + timedelta(hours=3), london) == "Sun 03:30"
