"""Load the demo spheres, their past activity and interest suggestions; safe to run again."""

from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from chatspheres.accounts.services import interests_ensure
from chatspheres.prompts.services import prompts_load_shipped
from chatspheres.spheres.activity import RECENT_HALF_LIFE, recent_rank_of
from chatspheres.spheres.demo import (
    DEMO_HISTORY,
    DEMO_HISTORY_WEEKS,
    DEMO_INTERESTS,
    DEMO_SPHERES,
    demo_week_hours,
)
from chatspheres.spheres.services import sphere_activity_seed, sphere_upsert


class Command(BaseCommand):
    help = (
        "Create or update the demo spheres and interest suggestions, and give spheres "
        "without history a plausible one (idempotent)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        seeded = 0
        for details in DEMO_SPHERES:
            sphere = sphere_upsert(**details)
            peak_hour, conversations = DEMO_HISTORY.get(details["slug"], (0, 0))
            if not conversations:
                continue
            # What the history weighs now: each week back counts half as much.
            weight = sum(
                conversations / DEMO_HISTORY_WEEKS * 0.5 ** (week * 7 / RECENT_HALF_LIFE.days)
                for week in range(DEMO_HISTORY_WEEKS)
            )
            seeded += sphere_activity_seed(
                sphere_id=sphere.pk,
                week_hours=demo_week_hours(peak_hour, conversations),
                recent_rank=recent_rank_of(weight, now),
            )
        # Shipped names are offered to every member as suggestions.
        interests_ensure(names=DEMO_INTERESTS, approved=True)
        prompts = prompts_load_shipped()
        self.stdout.write(
            f"Demo content ready: {len(DEMO_SPHERES)} spheres ({seeded} given a past), "
            f"{len(DEMO_INTERESTS)} interest suggestions, {prompts} new prompts."
        )
