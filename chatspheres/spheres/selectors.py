"""Reads of spheres, with live online counts from the hub's presence."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse

from chatspheres.common.errors import NO_SUCH_SPHERE, NOT_A_MEMBER, NotFound
from chatspheres.common.events import sphere_channel
from chatspheres.realtime.runtime import presence_counts
from chatspheres.spheres.models import Membership, Sphere


@dataclass(frozen=True, slots=True)
class SphereListing:
    sphere: Sphere
    # None while the shared hub cannot be reached: the page still renders.
    online: int | None
    is_member: bool
    url: str


def _spheres_for_viewer(user_id: int | None) -> QuerySet[Sphere]:
    """Spheres with member counts and, for a signed-in viewer, ``is_member``."""
    spheres = Sphere.objects.with_member_counts()
    if user_id is None:
        return spheres
    return spheres.annotate(
        is_member=Exists(Membership.objects.filter(sphere=OuterRef("pk"), user_id=user_id))
    )


def sphere_listings(*, user_id: int | None) -> list[SphereListing]:
    """Every sphere with members and who is online now, in one query whatever the size."""
    # The cards show no description; a long one would only slow the query.
    spheres_list = list(_spheres_for_viewer(user_id).defer("description"))
    online = presence_counts(sphere_channel(sphere.pk) for sphere in spheres_list)
    # One reverse() for the page instead of one per card (bench/pages).
    sphere_url = reverse("spheres:detail", kwargs={"slug": "-"}).removesuffix("-/")
    return [
        SphereListing(
            sphere=sphere,
            online=online[sphere_channel(sphere.pk)],
            is_member=bool(getattr(sphere, "is_member", False)),
            url=f"{sphere_url}{sphere.slug}/",
        )
        for sphere in spheres_list
    ]


def sphere_by_slug(*, slug: str, user_id: int | None) -> SphereListing:
    """One sphere by its address, with its online count and the viewer's membership."""
    sphere = _spheres_for_viewer(user_id).filter(slug=slug).first()
    if sphere is None:
        raise NotFound("There is no such sphere.", code=NO_SUCH_SPHERE)
    channel = sphere_channel(sphere.pk)
    return SphereListing(
        sphere=sphere,
        online=presence_counts([channel])[channel],
        is_member=bool(getattr(sphere, "is_member", False)),
        url=sphere.get_absolute_url(),
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
