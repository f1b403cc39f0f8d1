"""What one server process knows of its members' presence, and what it must write.

Every second the process looks at its own open tabs (``runtime.tabs``) and
plans the writes that keep each member's :class:`~chatspheres.presence.models.Presence`
row true, off the relay's path and in one batch:

* a member whose first tab opened here, or whose sphere changed, is written
  at once (with the sphere their latest tab entered);
* every ``HEARTBEAT_SECONDS`` a member with a tab here has ``online_until``
  pushed ``ONLINE_SECONDS`` ahead, once per member whatever their number of
  tabs, so the members of a process that died go offline within a minute;
* a member with no tab here for ``OFFLINE_GRACE_SECONDS`` (longer than going
  from one page to the next, or a short reconnect) stops being counted here;
  the hub says whether that was their last tab on any process, and then they
  are written offline at once.

The tracker is plain bookkeeping: the runtime side (``presence/realtime.py``)
asks the hub and writes the plan, then tells the tracker what was written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# How far ahead a heartbeat pushes ``online_until``: a process that dies stops
# refreshing, and its members drop offline within this long.
ONLINE_SECONDS = 60.0
# How often a member's row is refreshed while a tab of theirs is open here.
HEARTBEAT_SECONDS = 20.0
# A member with no tab here this long is no longer counted here.
OFFLINE_GRACE_SECONDS = 8.0
# How often the process looks at its tabs.
SCAN_SECONDS = 1.0


def member_scope(user_id: int) -> str:
    """The hub's presence scope of one member: counted by each process holding a tab of theirs."""
    return f"online:{user_id}"


@dataclass(slots=True)
class _Member:
    # The sphere last written for them, and when (monotonic; 0: never).
    sphere: int | None = None
    written_at: float = 0.0
    absent_since: float | None = None


@dataclass(slots=True)
class Plan:
    """One scan's work: hub changes to make, then rows to write."""

    arrived: list[int] = field(default_factory=list)
    departed: list[int] = field(default_factory=list)
    # Members to write online, with the sphere they look at.
    seen: dict[int, int | None] = field(default_factory=dict)
    # Members whose row only needs ``online_until`` pushed ahead.
    refresh: list[int] = field(default_factory=list)

    @property
    def writes(self) -> bool:
        return bool(self.seen or self.refresh)


class PresenceTracker:
    """This process's members: who has a tab here, the sphere they look at, what was written."""

    def __init__(self) -> None:
        self._members: dict[int, _Member] = {}
        # The latest sphere a member's tab here entered: (tab id, sphere).
        self._looking: dict[int, tuple[str, int]] = {}
        # Members found gone everywhere whose offline row is not written yet.
        self.offline_due: set[int] = set()

    # What the spheres app tells us ---------------------------------------------------

    def looking_at(self, *, user_id: int, tab_id: str, sphere_id: int | None) -> None:
        """A tab entered a sphere (or left its sphere: None)."""
        if sphere_id is not None:
            self._looking[user_id] = (tab_id, sphere_id)
        elif self._looking.get(user_id, ("", 0))[0] == tab_id:
            del self._looking[user_id]

    def sphere_of(self, user_id: int) -> int | None:
        looking = self._looking.get(user_id)
        return looking[1] if looking is not None else None

    # Scanning -----------------------------------------------------------------------

    def plan(self, present: Iterable[int], *, now: float) -> Plan:
        """What to do, given the members with an open tab here now."""
        plan = Plan()
        here = set(present)
        for user_id in here:
            member = self._members.get(user_id)
            if member is None:
                plan.arrived.append(user_id)
                plan.seen[user_id] = self.sphere_of(user_id)
                continue
            member.absent_since = None
            sphere = self.sphere_of(user_id)
            if member.written_at == 0.0 or member.sphere != sphere:
                plan.seen[user_id] = sphere
            elif now - member.written_at >= HEARTBEAT_SECONDS:
                plan.refresh.append(user_id)
        for user_id, member in self._members.items():
            if user_id in here:
                continue
            if member.absent_since is None:
                member.absent_since = now
            elif now - member.absent_since >= OFFLINE_GRACE_SECONDS:
                plan.departed.append(user_id)
            elif now - member.written_at >= HEARTBEAT_SECONDS:
                # Still counted here during the grace: keep them online.
                plan.refresh.append(user_id)
        return plan

    def arrived(self, user_id: int) -> None:
        """The hub counts the member here now."""
        self._members.setdefault(user_id, _Member())
        self.offline_due.discard(user_id)

    def departed(self, user_id: int, *, last_anywhere: bool) -> None:
        """The hub no longer counts the member here; ``last_anywhere``: nor on any process."""
        self._members.pop(user_id, None)
        self._looking.pop(user_id, None)
        if last_anywhere:
            self.offline_due.add(user_id)

    def written(self, plan: Plan, offline: Iterable[int], *, now: float) -> None:
        """The plan's rows (and these offline ones) are saved."""
        for user_id, sphere in plan.seen.items():
            member = self._members.get(user_id)
            if member is not None:
                member.sphere, member.written_at = sphere, now
        for user_id in plan.refresh:
            member = self._members.get(user_id)
            if member is not None:
                member.written_at = now
        self.offline_due.difference_update(offline)

    def counted(self) -> set[int]:
        """Members counted here (for tests and the hub's restore)."""
        return set(self._members)
