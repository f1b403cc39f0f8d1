"""Times of a planned call in two time zones: reading, labelling, and finding waking overlap.

Pure functions over ``zoneinfo``; nothing here touches the database.

Clock changes (decided here, described in the user guide):

* a wall time the proposer's clocks skip (the spring-forward gap) is refused:
  there is no such moment to meet at;
* a wall time that happens twice (the fall-back fold) is taken as its first
  occurrence, and every label of a time in a fold says which one it is:
  "01:30 (first)" or "01:30 (second)", in whichever zone it falls.

An agreed time is stored as a UTC instant, so it exists in every zone; only
how it reads locally can need the fold label.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

# Waking hours: a call may start from 08:00 and must start before 22:00, locally.
WAKING_FROM = time(8, 0)
WAKING_UNTIL = time(22, 0)
# Suggestions start on the half hour (UTC), so zones half an hour off still get some.
SUGGESTION_STEP = timedelta(minutes=30)
SUGGESTION_DAYS = 7


class TimeInGap(ValueError):
    """A wall time the clocks skip in that zone."""


def in_gap(wall: datetime, zone: ZoneInfo) -> bool:
    """Whether the naive wall time does not exist in ``zone`` (clocks jump over it)."""
    aware = wall.replace(tzinfo=zone, fold=0)
    back = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None, fold=0)
    return back != wall.replace(fold=0)


def in_fold(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether the local wall time of ``moment`` in ``zone`` happens twice."""
    local = moment.astimezone(zone)
    wall = local.replace(tzinfo=None)
    first = wall.replace(tzinfo=zone, fold=0).utcoffset()
    second = wall.replace(tzinfo=zone, fold=1).utcoffset()
    return first != second and not in_gap(wall, zone)


def wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall time in ``zone``: the first one in a fold; a gap refused."""
    if in_gap(wall, zone):
        raise TimeInGap(wall.isoformat())
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def local_label(moment: datetime, zone: ZoneInfo) -> str:
    """How ``moment`` reads in ``zone``: "Sun 10:00", "Sun 01:30 (first)" in a fold."""
    local = moment.astimezone(zone)
    label = local.strftime("%a %H:%M")
    if in_fold(moment, zone):
        label += " (second)" if local.fold else " (first)"
    return label


def local_date_label(moment: datetime, zone: ZoneInfo) -> str:
    """The date as it reads in ``zone``: "6 Dec" (the weekday is in the time's label)."""
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b}"


def when_label(moment: datetime, zone: ZoneInfo) -> str:
    """The time and date in ``zone``, for emails and notifications: "Sun 10:00, 6 Dec"."""
    return f"{local_label(moment, zone)}, {local_date_label(moment, zone)}"


def both_local(moment: datetime, *, mine: ZoneInfo, theirs: ZoneInfo, their_name: str) -> str:
    """The time for the viewer and for the other: "Sun 10:00 for you · Sun 22:00 for Ana"."""
    return f"{local_label(moment, mine)} for you · {local_label(moment, theirs)} for {their_name}"


def waking(moment: datetime, zone: ZoneInfo) -> bool:
    """Whether a call starting at ``moment`` starts in waking hours in ``zone``."""
    local = moment.astimezone(zone).time()
    return WAKING_FROM <= local < WAKING_UNTIL


def overlap_suggestions(
    first: ZoneInfo, second: ZoneInfo, *, now: datetime, count: int = 3
) -> list[datetime]:
    """Up to ``count`` times in the next 7 days in waking hours for both, one per day if it can.

    The earliest time of each day (in ``first``'s days) that is waking for
    both, from the next half hour on; days with none are skipped, and if
    fewer days have one, later times of the same days fill in.
    """
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    start += timedelta(minutes=(30 - start.minute % 30) % 30 or 30)
    end = now + timedelta(days=SUGGESTION_DAYS)
    every: list[datetime] = []
    moment = start
    while moment <= end:
        if waking(moment, first) and waking(moment, second):
            every.append(moment)
        moment += SUGGESTION_STEP
    chosen: list[datetime] = []
    seen_days: set[date] = set()
    for moment in every:
        day = moment.astimezone(first).date()
        if day not in seen_days:
            seen_days.add(day)
            chosen.append(moment)
        if len(chosen) == count:
            return chosen
    # Fewer days than asked: a few hours later on the days there are.
    for moment in every:
        if len(chosen) == count:
            break
        if all(abs(moment - other) >= timedelta(hours=3) for other in chosen):
            chosen.append(moment)
    return sorted(chosen)


@dataclass(frozen=True, slots=True)
class Offered:
    """A time as a viewer reads it: the instant, and both local readings."""

    at: datetime
    mine: str
    theirs: str
    day: str

    @property
    def both(self) -> str:
        return f"{self.mine} for you · {self.theirs}"


def offered(moment: datetime, *, mine: ZoneInfo, theirs: ZoneInfo, their_name: str) -> Offered:
    """A time with its reading for the viewer and for the other person."""
    return Offered(
        at=moment,
        mine=local_label(moment, mine),
        theirs=f"{local_label(moment, theirs)} for {their_name}",
        day=local_date_label(moment, mine),
    )


def zone_of(name: str) -> ZoneInfo:
    """The zone of a profile's time zone name (UTC if it is unknown)."""
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):
        return ZoneInfo("UTC")
