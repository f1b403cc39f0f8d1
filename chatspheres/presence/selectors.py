"""Reads of presence, raw: ``connections.selectors.visible_presence`` applies who may see it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count
from django.utils import timezone

from chatspheres.presence.models import Presence


@dataclass(frozen=True, slots=True)
class MemberPresence:
    """Whether a member is online now, in which sphere, and when they were last seen."""

    online: bool
    sphere_id: int | None
    sphere_name: str
    last_seen: datetime | None


OFFLINE_NEVER_SEEN = MemberPresence(online=False, sphere_id=None, sphere_name="", last_seen=None)


def presence_of(*, user_ids: Iterable[int]) -> dict[int, MemberPresence]:
    """Every member asked for, online or not (one query whatever the number of ids)."""
    wanted = {int(user_id) for user_id in user_ids}
    if not wanted:
        return {}
    now = timezone.now()
    found = dict.fromkeys(wanted, OFFLINE_NEVER_SEEN)
    rows = Presence.objects.filter(user_id__in=wanted).values_list(
        "user_id", "online_until", "sphere_id", "sphere__name", "last_seen"
    )
    for user_id, online_until, sphere_id, sphere_name, last_seen in rows:
        online = online_until is not None and online_until > now
        found[user_id] = MemberPresence(
            online=online,
            sphere_id=sphere_id if online else None,
            sphere_name=(sphere_name or "") if online else "",
            last_seen=now if online else last_seen,
        )
    return found


def is_online(*, user_id: int) -> bool:
    """Whether a tab of the member is open now."""
    return presence_of(user_ids=[user_id])[user_id].online


def online_counts_by_sphere() -> dict[int, int]:
    """Members online now in each sphere that has any (one query)."""
    rows = (
        Presence.objects.filter(online_until__gt=timezone.now(), sphere__isnull=False)
        .values("sphere_id")
        .annotate(online=Count("user_id"))
        .values_list("sphere_id", "online")
    )
    return {sphere_id: online for sphere_id, online in rows}
