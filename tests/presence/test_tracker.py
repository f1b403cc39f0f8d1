"""One process's presence bookkeeping: who to write online, refresh, and let go, and when."""

from __future__ import annotations

from chatspheres.presence import tracker as rules
from chatspheres.presence.tracker import PresenceTracker


def scan(tracker: PresenceTracker, present: set[int], now: float) -> rules.Plan:
    """A scan as the runtime runs it, the hub answering that each departure was the last."""
    plan = tracker.plan(present, now=now)
    for user_id in plan.arrived:
        tracker.arrived(user_id)
    for user_id in plan.departed:
        tracker.departed(user_id, last_anywhere=True)
    tracker.written(plan, set(tracker.offline_due), now=now)
    return plan


def test_a_member_whose_first_tab_opens_is_written_online_at_once_with_their_sphere() -> None:
    tracker = PresenceTracker()
    tracker.looking_at(user_id=7, tab_id="t1", sphere_id=3)
    plan = scan(tracker, {7, 8}, now=100.0)
    assert sorted(plan.arrived) == [7, 8]
    assert plan.seen == {7: 3, 8: None}


def test_many_tabs_of_one_member_make_one_write_per_heartbeat_and_none_between() -> None:
    tracker = PresenceTracker()
    scan(tracker, {7}, now=100.0)
    for second in range(1, int(rules.HEARTBEAT_SECONDS)):
        assert not scan(tracker, {7}, now=100.0 + second).writes
    plan = scan(tracker, {7}, now=100.0 + rules.HEARTBEAT_SECONDS)
    assert plan.refresh == [7] and plan.seen == {}


def test_a_sphere_change_is_written_at_the_next_scan_and_only_the_latest_tab_counts() -> None:
    tracker = PresenceTracker()
    scan(tracker, {7}, now=100.0)
    tracker.looking_at(user_id=7, tab_id="t1", sphere_id=3)
    tracker.looking_at(user_id=7, tab_id="t2", sphere_id=4)
    assert scan(tracker, {7}, now=101.0).seen == {7: 4}
    # The older tab leaving its sphere changes nothing; the newer one leaving does.
    tracker.looking_at(user_id=7, tab_id="t1", sphere_id=None)
    assert not scan(tracker, {7}, now=102.0).writes
    tracker.looking_at(user_id=7, tab_id="t2", sphere_id=None)
    assert scan(tracker, {7}, now=103.0).seen == {7: None}


def test_going_from_one_page_to_the_next_never_sets_a_member_offline() -> None:
    tracker = PresenceTracker()
    scan(tracker, {7}, now=100.0)
    assert scan(tracker, set(), now=101.0).departed == []
    assert scan(tracker, {7}, now=101.0 + rules.OFFLINE_GRACE_SECONDS / 2).arrived == []
    assert tracker.offline_due == set()


def test_a_member_gone_from_every_process_is_set_offline_after_the_grace() -> None:
    tracker = PresenceTracker()
    scan(tracker, {7}, now=100.0)
    scan(tracker, set(), now=101.0)
    plan = tracker.plan(set(), now=101.0 + rules.OFFLINE_GRACE_SECONDS)
    assert plan.departed == [7]
    tracker.departed(7, last_anywhere=True)
    assert tracker.offline_due == {7}
    tracker.written(plan, {7}, now=110.0)
    assert tracker.offline_due == set() and tracker.counted() == set()


def test_a_member_still_on_another_process_is_not_set_offline() -> None:
    tracker = PresenceTracker()
    scan(tracker, {7}, now=100.0)
    scan(tracker, set(), now=101.0)
    plan = tracker.plan(set(), now=101.0 + rules.OFFLINE_GRACE_SECONDS)
    tracker.departed(plan.departed[0], last_anywhere=False)
    assert tracker.offline_due == set()


def test_an_offline_write_that_failed_is_tried_again() -> None:
    tracker = PresenceTracker()
    scan(tracker, {7}, now=100.0)
    tracker.plan(set(), now=101.0)
    tracker.plan(set(), now=101.0 + rules.OFFLINE_GRACE_SECONDS)
    tracker.departed(7, last_anywhere=True)
    # (the write failed: written() was never called)
    assert tracker.offline_due == {7}
    # Back before the retry: they are online again, not offline.
    scan(tracker, {7}, now=120.0)
    assert tracker.offline_due == set()
