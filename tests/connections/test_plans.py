"""Planned calls: offering, answering, moving and cancelling, who may, and their reminders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core import mail
from django.utils import timezone

from chatspheres.accounts.models import Profile, User
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import ApplicationError, NotFound, PermissionDenied
from chatspheres.connections.models import Plan
from chatspheres.connections.plans import (
    plan_accept,
    plan_cancel,
    plan_propose,
    plan_suggest,
    plans_settle,
    times_from_form,
)
from chatspheres.connections.tasks import plan_remind
from chatspheres.notifications.models import Notification
from chatspheres.safety.services import block_create
from chatspheres.spheres.models import Sphere
from tests.conftest import make_member
from tests.connections.helpers import connect, direct_call, talk

pytestmark = pytest.mark.django_db


def in_days(days: float, hour: int = 13) -> datetime:
    day = (timezone.now() + timedelta(days=days)).astimezone(UTC)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def set_zone(user: User, zone: str) -> None:
    Profile.objects.filter(user=user).update(time_zone=zone)


@pytest.fixture
def ana(sphere: Sphere) -> User:
    ana = make_member("ana@example.com", name="Ana")
    set_zone(ana, "America/Sao_Paulo")
    return ana


@pytest.fixture
def ben(sphere: Sphere, ana: User) -> User:
    ben = make_member("ben@example.com", name="Ben")
    set_zone(ben, "Asia/Tokyo")
    connect(sphere, ana, ben)
    return ben


def kinds_for(user: User) -> list[str]:
    return list(
        Notification.objects.filter(recipient=user)
        .order_by("created")
        .values_list("kind", flat=True)
    )


def test_an_offer_of_up_to_three_times_waits_for_the_other_who_is_notified(
    ana: User, ben: User
) -> None:
    times = [in_days(3), in_days(2), in_days(4)]
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=times)
    assert plan.state == Plan.State.PROPOSED and plan.proposed_by_id == ana.pk
    assert plan.options == [t.isoformat() for t in sorted(times)]
    assert kinds_for(ben)[-1] == "plan_proposed"
    with pytest.raises(ApplicationError) as too_many:
        plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[*times, in_days(5)])
    assert too_many.value.message == (
        "Offer one to three times, each in the future and within the next 60 days."
    )
    for wrong in ([], [timezone.now() - timedelta(minutes=1)], [in_days(61)]):
        with pytest.raises(ApplicationError):
            plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=wrong)


def test_only_a_connection_not_blocked_can_be_offered_a_plan(
    ana: User, ben: User, sphere: Sphere
) -> None:
    cleo = make_member("cleo@example.com", name="Cleo")
    talk(sphere, ana, cleo)  # talked, but not connected
    with pytest.raises(PermissionDenied) as refused:
        plan_propose(proposer_id=ana.pk, other_id=cleo.pk, times=[in_days(2)])
    assert refused.value.code == "not_connected"
    block_create(blocker_id=ben.pk, blocked_id=ana.pk)
    with pytest.raises((NotFound, PermissionDenied)):
        plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    assert not Plan.objects.exists()


def test_accepting_one_time_confirms_the_plan_and_only_the_other_may_accept(
    ana: User, ben: User
) -> None:
    first, second = in_days(2), in_days(3)
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[first, second])
    with pytest.raises(ApplicationError) as own:
        plan_accept(user_id=ana.pk, public_id=plan.public_id, at=first)
    assert own.value.code == "plan_over"
    with pytest.raises(ApplicationError):
        plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(5))  # never offered
    plan = plan_accept(user_id=ben.pk, public_id=plan.public_id, at=second)
    assert (plan.state, plan.starts_at, plan.options) == (Plan.State.CONFIRMED, second, [])
    assert kinds_for(ana)[-1] == "plan_confirmed"
    with pytest.raises(ApplicationError):
        plan_accept(user_id=ben.pk, public_id=plan.public_id, at=second)


def test_suggesting_other_times_turns_the_question_around(ana: User, ben: User) -> None:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    plan = plan_suggest(user_id=ben.pk, public_id=plan.public_id, times=[in_days(3), in_days(4)])
    assert plan.state == Plan.State.PROPOSED and plan.proposed_by_id == ben.pk
    with pytest.raises(ApplicationError):
        plan_accept(user_id=ana.pk, public_id=plan.public_id, at=in_days(2))  # withdrawn
    plan = plan_accept(user_id=ana.pk, public_id=plan.public_id, at=in_days(4))
    assert plan.starts_at == in_days(4)


def test_a_move_keeps_the_agreed_time_until_the_other_accepts_a_new_one(
    ana: User, ben: User
) -> None:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    plan = plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(2))
    version = plan.version
    plan = plan_suggest(user_id=ana.pk, public_id=plan.public_id, times=[in_days(5)])
    assert (plan.state, plan.starts_at, plan.version) == (
        Plan.State.CONFIRMED,
        in_days(2),
        version,
    )
    plan = plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(5))
    assert (plan.state, plan.starts_at) == (Plan.State.CONFIRMED, in_days(5))
    assert plan.version > version


def test_either_can_cancel_and_a_cancelled_plan_takes_no_answer(ana: User, ben: User) -> None:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(2))
    plan = plan_cancel(user_id=ben.pk, public_id=plan.public_id)
    assert plan.state == Plan.State.CANCELLED
    assert kinds_for(ana)[-1] == "plan_cancelled"
    for attempt in (
        lambda: plan_cancel(user_id=ana.pk, public_id=plan.public_id),
        lambda: plan_suggest(user_id=ana.pk, public_id=plan.public_id, times=[in_days(3)]),
    ):
        with pytest.raises(ApplicationError) as over:
            attempt()
        assert over.value.code == "plan_over"


def test_a_stranger_cannot_touch_someone_elses_plan(ana: User, ben: User) -> None:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    dev = make_member("dev@example.com", name="Dev")
    for attempt in (
        lambda: plan_accept(user_id=dev.pk, public_id=plan.public_id, at=in_days(2)),
        lambda: plan_cancel(user_id=dev.pk, public_id=plan.public_id),
        lambda: plan_suggest(user_id=dev.pk, public_id=plan.public_id, times=[in_days(3)]),
    ):
        with pytest.raises(NotFound):
            attempt()


def test_a_block_cancels_the_pairs_plans(ana: User, ben: User) -> None:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[in_days(2)])
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    plan.refresh_from_db()
    assert plan.state == Plan.State.CANCELLED


# ---------------------------------------------------------------- reminders


def confirmed(ana: User, ben: User, at: datetime) -> Plan:
    plan = plan_propose(proposer_id=ana.pk, other_id=ben.pk, times=[at])
    return plan_accept(user_id=ben.pk, public_id=plan.public_id, at=at)


def reminder_mails() -> list[Any]:
    return [m for m in mail.outbox if " starts at " in m.subject]


def test_an_agreed_time_queues_a_reminder_a_day_ahead_and_ten_minutes_before(
    ana: User, ben: User, later_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    at = in_days(3)
    with django_capture_on_commit_callbacks(execute=True):
        plan = confirmed(ana, ben, at)
    held = [(each.name, each.run_after, each.kwargs["lead"]) for each in later_tasks.held]
    assert held == [
        ("plan_remind", at - timedelta(days=1), "day"),
        ("plan_remind", at - timedelta(minutes=10), "soon"),
    ]
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        later_tasks.run_due(until=at - timedelta(days=1))
    # A day ahead: by email only, each in their own zone.
    assert sorted(m.to[0] for m in reminder_mails()) == ["ana@example.com", "ben@example.com"]
    to_ana = next(m for m in reminder_mails() if m.to == ["ana@example.com"])
    assert "Your call with Ben starts at " in to_ana.subject
    assert "10:00" in to_ana.subject  # 13:00 UTC in São Paulo
    to_ben = next(m for m in reminder_mails() if m.to == ["ben@example.com"])
    assert "Your call with Ana starts at " in to_ben.subject and "22:00" in to_ben.subject
    assert "plan_reminder" not in kinds_for(ana)
    with django_capture_on_commit_callbacks(execute=True):
        later_tasks.run_due()
    # Ten minutes before: in the site and by email.
    assert kinds_for(ana)[-1] == kinds_for(ben)[-1] == "plan_reminder"
    assert len(reminder_mails()) == 4
    assert Plan.objects.get(pk=plan.pk).state == Plan.State.CONFIRMED


def test_moving_or_cancelling_a_plan_silences_the_reminders_queued_for_it(
    ana: User, ben: User, later_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        plan = confirmed(ana, ben, in_days(3))
    stale_version = plan.version
    plan_suggest(user_id=ana.pk, public_id=plan.public_id, times=[in_days(4)])
    with django_capture_on_commit_callbacks(execute=True):
        plan_accept(user_id=ben.pk, public_id=plan.public_id, at=in_days(4))
    assert len(later_tasks.held) == 4  # the first time's two, and the new time's two
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        # The old time's two come due and do nothing; the new time's day-ahead one is sent.
        later_tasks.run_due(until=in_days(3))
    assert "plan_reminder" not in kinds_for(ana) + kinds_for(ben)
    assert len(reminder_mails()) == 2
    mail.outbox.clear()
    plan_cancel(user_id=ben.pk, public_id=plan.public_id)
    with django_capture_on_commit_callbacks(execute=True):
        assert later_tasks.run_due() == 1
    assert reminder_mails() == [] and "plan_reminder" not in kinds_for(ana) + kinds_for(ben)
    # The task itself says it did nothing for a version that is gone.
    assert plan_remind.call(plan_id=plan.pk, version=stale_version, lead="soon") is False


def test_a_plan_agreed_for_within_the_hour_is_reminded_shortly_before_only(
    ana: User, ben: User, later_tasks: Any, django_capture_on_commit_callbacks: Any
) -> None:
    at = (timezone.now() + timedelta(minutes=40)).replace(second=0, microsecond=0)
    with django_capture_on_commit_callbacks(execute=True):
        confirmed(ana, ben, at)
    assert [each.kwargs["lead"] for each in later_tasks.held] == ["soon"]


# ---------------------------------------------------------------- kept or missed


def test_a_direct_call_in_the_window_keeps_the_plan_and_none_misses_it(
    ana: User, ben: User, sphere: Sphere
) -> None:
    kept = confirmed(ana, ben, in_days(1))
    missed = confirmed(ana, ben, in_days(2))
    for plan in (kept, missed):
        Plan.objects.filter(pk=plan.pk).update(starts_at=timezone.now() - timedelta(hours=1))
    conversation = direct_call(sphere, ana, ben)
    Conversation.objects.filter(pk=conversation.pk).update(
        started_at=timezone.now() - timedelta(minutes=58)
    )
    Plan.objects.filter(pk=missed.pk).update(starts_at=timezone.now() - timedelta(hours=3))
    assert plans_settle(user_id=ben.pk) == 2
    kept.refresh_from_db()
    missed.refresh_from_db()
    assert (kept.state, kept.conversation_id) == (Plan.State.KEPT, conversation.pk)
    assert missed.state == Plan.State.MISSED
    assert plans_settle(user_id=ana.pk) == 0


# ---------------------------------------------------------------- clock changes


def test_a_wall_time_the_clocks_skip_is_refused_and_a_doubled_one_is_the_first(
    ana: User,
) -> None:
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    with pytest.raises(ApplicationError) as gap:
        times_from_form(["2027-03-28T01:30"], zone=london)
    assert gap.value.code == "time_in_gap"
    assert "doesn't exist in Europe/London" in gap.value.message
    (first,) = times_from_form(["2027-10-31T01:30"], zone=london)
    assert first == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 01:30 BST, the first one
