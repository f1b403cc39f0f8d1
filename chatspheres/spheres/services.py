"""Joining and leaving spheres."""

from __future__ import annotations

from django.db import transaction

from chatspheres.accounts.models import User
from chatspheres.spheres.models import Membership, Sphere


@transaction.atomic
def sphere_join(*, user: User, sphere: Sphere) -> Membership:
    """Make ``user`` a member of ``sphere``; joining twice changes nothing."""
    membership, _created = Membership.objects.get_or_create(user=user, sphere=sphere)
    return membership


@transaction.atomic
def sphere_leave(*, user: User, sphere: Sphere) -> None:
    """End ``user``'s membership of ``sphere``, if any."""
    Membership.objects.filter(user=user, sphere=sphere).delete()


@transaction.atomic
def sphere_upsert(*, slug: str, name: str, tagline: str, description: str) -> Sphere:
    """Create a sphere or bring an existing one up to date (demo content, admin scripts)."""
    sphere, _created = Sphere.objects.update_or_create(
        slug=slug, defaults={"name": name, "tagline": tagline, "description": description}
    )
    return sphere
