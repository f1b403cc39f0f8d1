"""Members, spheres, interests and memberships, bulk-loaded into the scratch database."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Loaded:
    members: int
    spheres: int
    memberships: int
    profile_interests: int


INTEREST_NAMES = [f"interest {index}" for index in range(1, 61)]
PASSWORD = "bench-password-not-secret"  # noqa: S105 - a throw-away scratch database


def grow_to(*, members: int, spheres: int, rng: random.Random) -> Loaded:
    """Add members and spheres until there are ``members`` and ``spheres`` in all.

    Each new member has 3 to 6 interests and belongs to 2 to 8 spheres, popular
    spheres more often (Zipf-like), so member counts differ from sphere to
    sphere as they do on a real site.
    """
    from django.contrib.auth.hashers import make_password
    from django.db import transaction
    from django.utils import timezone

    from chatspheres.accounts.models import Interest, Profile, User
    from chatspheres.spheres.models import Membership, Sphere

    now = timezone.now()
    with transaction.atomic():
        if not Interest.objects.exists():
            Interest.objects.bulk_create(Interest(name=name) for name in INTEREST_NAMES)
        interests = list(Interest.objects.order_by("pk"))
        have_spheres = Sphere.objects.count()
        Sphere.objects.bulk_create(
            Sphere(
                slug=f"sphere-{index}",
                name=f"Sphere {index:03d}",
                tagline=f"Everything about topic {index}, with people who care about it.",
                description=(
                    f"Sphere {index} is where people who care about topic {index} meet.\n\n"
                    "Say hello, say what brought you here, and what you would like to talk about."
                ),
            )
            for index in range(have_spheres + 1, spheres + 1)
        )
        all_spheres = list(Sphere.objects.order_by("pk"))
        sphere_weights = [1.0 / rank for rank in range(1, len(all_spheres) + 1)]
        have_members = User.objects.count()
        password = make_password(PASSWORD)
        new_users = User.objects.bulk_create(
            User(email=f"member{index}@bench.invalid", password=password, is_active=True)
            for index in range(have_members + 1, members + 1)
        )
        # SQLite returns the new primary keys from bulk_create.
        profiles = Profile.objects.bulk_create(
            Profile(
                user=user,
                display_name=f"Member {user.pk}",
                handle=f"member-{user.pk}",
                bio="I like talking about the things I care about.",
                time_zone=rng.choice(["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]),
                adult_confirmed_at=now,
            )
            for user in new_users
        )
        links = [
            Profile.interests.through(profile_id=profile.pk, interest_id=interest.pk)
            for profile in profiles
            for interest in rng.sample(interests, rng.randint(3, 6))
        ]
        Profile.interests.through.objects.bulk_create(links)
        memberships: list[Membership] = []
        for user in new_users:
            chosen: set[int] = set()
            wanted = min(rng.randint(2, 8), len(all_spheres))
            for _ in range(100):  # bounded: weighted draws until enough distinct spheres
                chosen.add(rng.choices(range(len(all_spheres)), weights=sphere_weights)[0])
                if len(chosen) >= wanted:
                    break
            memberships.extend(Membership(user=user, sphere=all_spheres[i]) for i in chosen)
        Membership.objects.bulk_create(memberships)
    return Loaded(
        members=User.objects.count(),
        spheres=Sphere.objects.count(),
        memberships=Membership.objects.count(),
        profile_interests=Profile.interests.through.objects.count(),
    )
