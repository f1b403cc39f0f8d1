"""Reminders of planned calls: a day ahead by email, shortly before in the site and by email.

Queued when a time is agreed (``plans.plan_accept``), each for its moment.
A queued task cannot be withdrawn, so each carries the plan's version: when
it runs, it does nothing unless the plan is still confirmed at that version
(a move, a cancel, a block or an outcome all raise it).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from chatspheres.connections.models import Plan
from chatspheres.connections.plan_times import when_label, zone_of
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_email_send, notification_send

Lead = Literal["day", "soon"]


def _lead_seconds(lead: Lead) -> float:
    if lead == "day":
        return float(settings.PLAN_REMINDER_DAY_SECONDS)
    return float(settings.PLAN_REMINDER_SOON_SECONDS)


def plan_reminder_schedule(*, plan_id: int, version: int) -> list[Lead]:
    """Queue the reminders of an agreed time (run after commit); which ones were queued.

    The day-ahead one is skipped when the time was agreed less than a day
    ahead; the one shortly before runs at once when that moment has passed.
    """
    plan = Plan.objects.filter(pk=plan_id, version=version, state=Plan.State.CONFIRMED).first()
    if plan is None or plan.starts_at is None:
        return []
    now = timezone.now()
    queued: list[Lead] = []
    leads: tuple[Lead, ...] = ("day", "soon")
    for lead in leads:
        run_after = plan.starts_at - timedelta(seconds=_lead_seconds(lead))
        if run_after <= now:
            if lead == "day" or plan.starts_at <= now:
                continue
            plan_remind.enqueue(plan_id=plan_id, version=version, lead=lead)
        else:
            plan_remind.using(run_after=run_after).enqueue(
                plan_id=plan_id, version=version, lead=lead
            )
        queued.append(lead)
    return queued


@task()
def plan_remind(*, plan_id: int, version: int, lead: Lead) -> bool:
    """Remind both of an agreed call, unless the plan has moved on since this was queued."""
    plan = (
        Plan.objects.filter(pk=plan_id).select_related("first__profile", "second__profile").first()
    )
    if (
        plan is None
        or plan.state != Plan.State.CONFIRMED
        or plan.version != version
        or plan.starts_at is None
    ):
        return False
    for recipient_id in (plan.first_id, plan.second_id):
        me = plan.first if recipient_id == plan.first_id else plan.second
        data = {
            "plan": plan.public_id,
            "when": when_label(plan.starts_at, zone_of(me.profile.time_zone)),
        }
        # One email per plan, version and lead, however often the task runs.
        key = f"plan:{plan.pk}:v{version}:reminder:{lead}:{recipient_id}"
        other_id = plan.other_of(recipient_id)
        if lead == "soon":
            notification_send(
                recipient_id=recipient_id,
                kind=Notification.Kind.PLAN_REMINDER,
                actor_id=other_id,
                data=data,
                email_key=key,
            )
        else:
            notification_email_send(
                recipient_id=recipient_id,
                kind=Notification.Kind.PLAN_REMINDER,
                actor_id=other_id,
                data=data,
                key=key,
            )
    return True
