"""Writes to presence rows, in one batch per scan of a server process."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chatspheres.presence.models import Presence
from chatspheres.spheres.models import Sphere


@transaction.atomic
def presence_record(
    *,
    seen: Mapping[int, int | None],
    refresh: Iterable[int],
    offline: Iterable[int],
    online_for: float,
    refresh_every: float,
) -> None:
    """Write members online (with their sphere), push others' time ahead, and set some offline."""
    now = timezone.now()
    until = now + timedelta(seconds=online_for)
    if seen:
        spheres = {sphere for sphere in seen.values() if sphere is not None}
        existing = set(Sphere.objects.filter(pk__in=spheres).values_list("pk", flat=True))
        Presence.objects.bulk_create(
            [
                Presence(
                    user_id=user_id,
                    online_until=until,
                    sphere_id=sphere if sphere in existing else None,
                    last_seen=now,
                    created=now,
                    updated=now,
                )
                for user_id, sphere in seen.items()
            ],
            update_conflicts=True,
            unique_fields=["user"],
            update_fields=["online_until", "sphere", "last_seen", "updated"],
        )
    refresh = list(refresh)
    if refresh:
        # A member with tabs on two processes is refreshed by whichever comes first.
        fresh_enough = until - timedelta(seconds=refresh_every / 2)
        Presence.objects.filter(user_id__in=refresh, online_until__lt=fresh_enough).update(
            online_until=until, last_seen=now, updated=now
        )
    offline = list(offline)
    if offline:
        Presence.objects.filter(user_id__in=offline).update(
            online_until=now, sphere=None, last_seen=now, updated=now
        )
