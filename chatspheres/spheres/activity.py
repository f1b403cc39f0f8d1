"""The arithmetic of a sphere's activity aggregate: hours of the week, busiest hour, recency."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, time, timedelta

from chatspheres.spheres.models import HOURS_IN_WEEK

# A conversation a week old weighs half as much as one starting now.
RECENT_HALF_LIFE = timedelta(days=7)


def hour_of_week(at: datetime) -> int:
    """The hour of the week in UTC (Monday 00:00 is 0), the index into ``week_hours``."""
    utc = at.astimezone(UTC)
    return utc.weekday() * 24 + utc.hour


def busiest_hour(week_hours: Sequence[int]) -> int | None:
    """The hour of the day (UTC) when most conversations start, over every weekday.

    Ties go to the hour whose neighbours are busier ("around" that hour), then
    to the earlier one. None while nothing has happened.
    """
    assert len(week_hours) == HOURS_IN_WEEK
    by_hour = [sum(week_hours[day * 24 + hour] for day in range(7)) for hour in range(24)]
    if not any(by_hour):
        return None
    return max(
        range(24),
        key=lambda hour: (by_hour[hour], by_hour[hour - 1] + by_hour[(hour + 1) % 24], -hour),
    )


def recent_rank_after(rank: float | None, started: datetime) -> float:
    """The recency rank once a conversation started at ``started`` is added.

    A rank is log2(weight) + t / half-life, where the weight is every
    conversation's 2^-(age / half-life) at time t. Adding one at t = started
    makes the weight (earlier weight at that moment) + 1.
    """
    now = started.timestamp() / RECENT_HALF_LIFE.total_seconds()
    if rank is None:
        return now
    return math.log2(2.0 ** (rank - now) + 1.0) + now


def recent_rank_of(weight: float, at: datetime) -> float | None:
    """The rank of a history that weighs ``weight`` at ``at`` (demo content); None for none."""
    if weight <= 0:
        return None
    return math.log2(weight) + at.timestamp() / RECENT_HALF_LIFE.total_seconds()


def busiest_moment(hour_utc: int, today: datetime) -> datetime:
    """Today at that hour in UTC, for showing in the viewer's time zone with today's offset."""
    return datetime.combine(today.astimezone(UTC).date(), time(hour_utc), tzinfo=UTC)
