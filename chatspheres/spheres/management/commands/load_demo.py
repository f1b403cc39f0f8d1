"""Load the demo spheres and interest suggestions; safe to run again."""

from typing import Any

from django.core.management.base import BaseCommand

from chatspheres.accounts.services import interests_ensure
from chatspheres.spheres.demo import DEMO_INTERESTS, DEMO_SPHERES
from chatspheres.spheres.services import sphere_upsert


class Command(BaseCommand):
    help = "Create or update the demo spheres and interest suggestions (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        for sphere in DEMO_SPHERES:
            sphere_upsert(**sphere)
        interests_ensure(names=DEMO_INTERESTS)
        self.stdout.write(
            f"Demo content ready: {len(DEMO_SPHERES)} spheres, "
            f"{len(DEMO_INTERESTS)} interest suggestions."
        )
