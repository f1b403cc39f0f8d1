"""Reads of spheres: who is online, how busy each one usually is, and the viewer's place in it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Exists, F, OuterRef, QuerySet
from django.urls import reverse
from django.utils import timezone

from chatspheres.common.errors import NO_SUCH_SPHERE, NOT_A_MEMBER, NotFound
from chatspheres.common.events import sphere_channel
from chatspheres.presence.selectors import online_counts_by_sphere
from chatspheres.realtime.runtime import presence_counts
from chatspheres.spheres.activity import busiest_moment
from chatspheres.spheres.models import ENOUGH_HISTORY, Membership, Sphere, SphereWatch


@dataclass(frozen=True, slots=True)
class SphereListing:
    sphere: Sphere
    # Members online in the sphere now; on a sphere's own page the hub's
    # count, None while the shared hub cannot be reached (the page still renders).
    online: int | None
    is_member: bool
    url: str
    # Today at the hour (UTC) when most of its conversations start, for
    # showing in the viewer's time zone; None until it has enough history.
    busiest_at: datetime | None = None
    # The viewer asked to be told when someone starts waiting here.
    watching: bool = False


def _spheres_for_viewer(user_id: int | None) -> QuerySet[Sphere]:
    """Spheres with member counts, their activity figures and, for a member, ``is_member``."""
    spheres = Sphere.objects.with_member_counts().annotate(
        activity_conversations=F("activity__conversations"),
        activity_busiest_hour=F("activity__busiest_hour_utc"),
        activity_recent_rank=F("activity__recent_rank"),
    )
    if user_id is None:
        return spheres
    return spheres.annotate(
        is_member=Exists(Membership.objects.filter(sphere=OuterRef("pk"), user_id=user_id))
    )


def _busiest_at(sphere: Sphere, now: datetime) -> datetime | None:
    hour = getattr(sphere, "activity_busiest_hour", None)
    if hour is None or (getattr(sphere, "activity_conversations", 0) or 0) < ENOUGH_HISTORY:
        return None
    return busiest_moment(hour, now)


def _by_activity(listing: SphereListing) -> tuple[int, float, str]:
    """Most people online now first, then most recent conversations, then by name."""
    rank = getattr(listing.sphere, "activity_recent_rank", None)
    return (-(listing.online or 0), -rank if rank is not None else math.inf, listing.sphere.name)


def sphere_listings(*, user_id: int | None) -> list[SphereListing]:
    """Every sphere, busiest first, in two queries whatever the number of spheres."""
    # The cards show no description; a long one would only slow the query.
    spheres_list = list(_spheres_for_viewer(user_id).defer("description"))
    online = online_counts_by_sphere()
    now = timezone.now()
    # One reverse() for the page instead of one per card (bench/pages).
    sphere_url = reverse("spheres:detail", kwargs={"slug": "-"}).removesuffix("-/")
    listings = [
        SphereListing(
            sphere=sphere,
            online=online.get(sphere.pk, 0),
            is_member=bool(getattr(sphere, "is_member", False)),
            url=f"{sphere_url}{sphere.slug}/",
            busiest_at=_busiest_at(sphere, now),
        )
        for sphere in spheres_list
    ]
    return sorted(listings, key=_by_activity)


def sphere_by_slug(*, slug: str, user_id: int | None) -> SphereListing:
    """One sphere by its address, with its figures and the viewer's membership and watch."""
    spheres = _spheres_for_viewer(user_id)
    if user_id is not None:
        spheres = spheres.annotate(
            watching=Exists(SphereWatch.objects.filter(sphere=OuterRef("pk"), user_id=user_id))
        )
    sphere = spheres.filter(slug=slug).first()
    if sphere is None:
        raise NotFound("There is no such sphere.", code=NO_SUCH_SPHERE)
    channel = sphere_channel(sphere.pk)
    return SphereListing(
        sphere=sphere,
        # The page's count follows the hub's live sphere.presence frames (sphere.js).
        online=presence_counts([channel])[channel],
        is_member=bool(getattr(sphere, "is_member", False)),
        url=sphere.get_absolute_url(),
        busiest_at=_busiest_at(sphere, timezone.now()),
        watching=bool(getattr(sphere, "watching", False)),
    )


def access_sphere(*, sphere_id: int) -> Sphere:
    """A sphere by id; every sphere is public, so only a missing one is refused."""
    sphere = Sphere.objects.filter(pk=sphere_id).first()
    if sphere is None:
        raise NotFound("There is no such sphere.", code=NO_SUCH_SPHERE)
    return sphere


def access_sphere_for_queue(*, user_id: int, sphere_id: int) -> Sphere:
    """The sphere ``user_id`` wants to wait in; raises unless they are a member."""
    sphere = access_sphere(sphere_id=sphere_id)
    if not Membership.objects.filter(sphere=sphere, user_id=user_id).exists():
        raise NotFound("Join the sphere before starting a conversation.", code=NOT_A_MEMBER)
    return sphere
