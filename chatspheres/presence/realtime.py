"""Presence on the server processes: which members have a tab open, and the sphere they look at.

Nothing here runs on the relay's path: each process looks at its own tabs once
a second (``keep_presence``), counts its members in the hub (a scope per
member, so the hub knows when their last tab on any process is gone), and
writes what changed in one batch (see ``presence/tracker.py``).
"""

from __future__ import annotations

import logging
import time
from typing import cast

from chatspheres.presence import tracker as rules
from chatspheres.presence.services import presence_record
from chatspheres.presence.tracker import Plan, PresenceTracker, member_scope
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Hub
from chatspheres.realtime.registry import registry
from chatspheres.realtime.runtime import Runtime
from chatspheres.realtime.tab import Tab
from chatspheres.spheres.realtime import watch_spheres

logger = logging.getLogger(__name__)

registry.provide(PresenceTracker, lambda _runtime: PresenceTracker())


def tracker_of(runtime: Runtime) -> PresenceTracker:
    """This process's presence bookkeeping."""
    return cast(PresenceTracker, runtime.get(PresenceTracker))


@watch_spheres
def looking_at(tab: Tab, sphere_id: int | None) -> None:
    """A tab entered a sphere, or left it (None)."""
    tracker_of(tab.runtime).looking_at(user_id=tab.user_id, tab_id=tab.id, sphere_id=sphere_id)


@registry.every(rules.SCAN_SECONDS)
async def keep_presence(runtime: Runtime) -> None:
    """Count this process's members in the hub and write what changed about them."""
    tracker = tracker_of(runtime)
    hub = runtime.hub
    now = time.monotonic()
    plan = tracker.plan({tab.user_id for tab in runtime.tabs.values() if not tab.closed}, now=now)
    if runtime.single_process:
        # Every tab is here: leaving here is leaving everywhere, and the hub
        # need not keep a count per member (a few hundred bytes each).
        for user_id in plan.arrived:
            tracker.arrived(user_id)
        for user_id in plan.departed:
            tracker.departed(user_id, last_anywhere=True)
    else:
        await _count_in_hub(hub, tracker, plan)
    offline = set(tracker.offline_due)
    if not plan.writes and not offline:
        return
    await run_in_db(
        presence_record,
        seen=plan.seen,
        refresh=plan.refresh,
        offline=offline,
        online_for=rules.ONLINE_SECONDS,
        refresh_every=rules.HEARTBEAT_SECONDS,
    )
    tracker.written(plan, offline, now=now)


async def _count_in_hub(hub: Hub, tracker: PresenceTracker, plan: Plan) -> None:
    # The hub counts a member here before it tells the other processes (and
    # tells them later if that fails), so the tracker follows each call made.
    for user_id in plan.arrived:
        try:
            await hub.presence_add(member_scope(user_id), user_id)
        finally:
            tracker.arrived(user_id)
    for user_id in plan.departed:
        last = False
        try:
            last = await hub.presence_remove(member_scope(user_id), user_id)
        finally:
            tracker.departed(user_id, last_anywhere=last)
