"""Joining and leaving spheres, their activity aggregate, and watching for someone waiting."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.common.errors import NOT_A_MEMBER, NotFound
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.spheres.activity import busiest_hour, hour_of_week, recent_rank_after
from chatspheres.spheres.models import (
    HOURS_IN_WEEK,
    Membership,
    Sphere,
    SphereActivity,
    SphereWatch,
)

# A watcher hears that someone is waiting in a sphere at most this often.
WATCH_QUIET_PERIOD = timedelta(hours=1)


@transaction.atomic
def sphere_join(*, user: User, sphere: Sphere) -> Membership:
    """Make ``user`` a member of ``sphere``; joining twice changes nothing."""
    membership, _created = Membership.objects.get_or_create(user=user, sphere=sphere)
    return membership


@transaction.atomic
def spheres_join(*, user: User, spheres: Iterable[Sphere]) -> list[Membership]:
    """Make ``user`` a member of several spheres at once (the welcome's second step)."""
    return [sphere_join(user=user, sphere=sphere) for sphere in spheres]


@transaction.atomic
def sphere_leave(*, user: User, sphere: Sphere) -> None:
    """End ``user``'s membership of ``sphere``, if any, and stop watching it."""
    Membership.objects.filter(user=user, sphere=sphere).delete()
    SphereWatch.objects.filter(user=user, sphere=sphere).delete()


@transaction.atomic
def sphere_upsert(*, slug: str, name: str, tagline: str, description: str) -> Sphere:
    """Create a sphere or bring an existing one up to date (demo content, admin scripts)."""
    sphere, _created = Sphere.objects.update_or_create(
        slug=slug, defaults={"name": name, "tagline": tagline, "description": description}
    )
    return sphere


def _locked_activity(sphere_id: int) -> SphereActivity:
    activity = SphereActivity.objects.select_for_update().filter(sphere_id=sphere_id).first()
    if activity is None:
        # The sphere's first conversation; two at once both insert, one is ignored.
        SphereActivity.objects.bulk_create(
            [SphereActivity(sphere_id=sphere_id)], ignore_conflicts=True
        )
        activity = SphereActivity.objects.select_for_update().get(sphere_id=sphere_id)
    return activity


@transaction.atomic
def sphere_activity_record(*, sphere_id: int, started_at: datetime) -> SphereActivity:
    """Count a conversation that started in the sphere (called by ``conversation_start``)."""
    activity = _locked_activity(sphere_id)
    week_hours = list(activity.week_hours)
    week_hours[hour_of_week(started_at)] += 1
    activity.week_hours = week_hours
    activity.conversations += 1
    activity.busiest_hour_utc = busiest_hour(week_hours)
    activity.recent_rank = recent_rank_after(activity.recent_rank, started_at)
    activity.save()
    return activity


@transaction.atomic
def sphere_activity_seed(
    *, sphere_id: int, week_hours: Sequence[int], recent_rank: float | None
) -> bool:
    """Give a sphere that has no history yet a plausible one (demo content); False if it had one."""
    if len(week_hours) != HOURS_IN_WEEK or min(week_hours) < 0:
        raise ValueError(f"week_hours needs {HOURS_IN_WEEK} counts, none negative")
    activity = _locked_activity(sphere_id)
    if activity.conversations:
        return False
    activity.week_hours = list(week_hours)
    activity.conversations = sum(week_hours)
    activity.busiest_hour_utc = busiest_hour(week_hours)
    activity.recent_rank = recent_rank
    activity.save()
    return True


@transaction.atomic
def sphere_watch_create(*, user_id: int, sphere_id: int) -> SphereWatch:
    """Tell the member when someone starts waiting in the sphere; members only."""
    if not Membership.objects.filter(user_id=user_id, sphere_id=sphere_id).exists():
        raise NotFound("Join the sphere first.", code=NOT_A_MEMBER)
    watch, _created = SphereWatch.objects.get_or_create(user_id=user_id, sphere_id=sphere_id)
    return watch


@transaction.atomic
def sphere_watch_delete(*, user_id: int, sphere_id: int) -> None:
    """Stop telling the member when someone waits in the sphere."""
    SphereWatch.objects.filter(user_id=user_id, sphere_id=sphere_id).delete()


@transaction.atomic
def sphere_watchers_notify(
    *, sphere_id: int, waiter_id: int, now: datetime | None = None
) -> list[int]:
    """Tell the sphere's watchers (never the one waiting) that someone waits; who was told.

    Two queries, whatever the number of watchers, pick and stamp those not
    told within the quiet period (then one ``notification_send`` each); rows
    another waiter's transaction holds are skipped, so two people starting to
    wait at once never tell a watcher twice.
    """
    now = now or timezone.now()
    due = list(
        SphereWatch.objects.select_for_update(skip_locked=True)
        .filter(sphere_id=sphere_id)
        .filter(Q(notified_at__isnull=True) | Q(notified_at__lte=now - WATCH_QUIET_PERIOD))
        .exclude(user_id=waiter_id)
        .values_list("pk", "user_id")
    )
    if not due:
        return []
    SphereWatch.objects.filter(pk__in=[pk for pk, _user in due]).update(notified_at=now)
    watchers = [user_id for _pk, user_id in due]
    for user_id in watchers:
        notification_send(
            recipient_id=user_id, kind=Notification.Kind.SOMEONE_WAITING, sphere_id=sphere_id
        )
    return watchers
