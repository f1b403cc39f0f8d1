"""Spheres: topic communities, and who belongs to them."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse

from chatspheres.common.models import BaseModel


class SphereQuerySet(models.QuerySet["Sphere"]):
    def with_member_counts(self) -> SphereQuerySet:
        """Each sphere with ``member_count``, in one query."""
        return self.annotate(member_count=models.Count("memberships"))


class Sphere(BaseModel):
    """A topic community people meet in."""

    slug = models.SlugField(max_length=60, unique=True)
    name = models.CharField(max_length=80)
    tagline = models.CharField(max_length=140, blank=True)
    description = models.TextField()

    objects = SphereQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("spheres:detail", kwargs={"slug": self.slug})


class Membership(BaseModel):
    """A member belongs to a sphere; only members are matched in it."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    sphere = models.ForeignKey(Sphere, on_delete=models.CASCADE, related_name="memberships")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "sphere"], name="one_membership_per_sphere")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.sphere_id}"


HOURS_IN_WEEK = 7 * 24
# Below this many conversations a sphere's busiest hour would be noise: say nothing.
ENOUGH_HISTORY = 10


def empty_week() -> list[int]:
    return [0] * HOURS_IN_WEEK


class SphereActivity(BaseModel):
    """How busy a sphere has been, kept up to date as conversations start.

    Pages read these few numbers as they are: nothing here is computed from
    the conversation history when a page is shown.
    """

    sphere = models.OneToOneField(
        Sphere, on_delete=models.CASCADE, related_name="activity", primary_key=True
    )
    conversations = models.PositiveIntegerField(default=0)
    # Conversations started in each hour of the week in UTC, Monday 00:00 first.
    week_hours = models.JSONField(default=empty_week)
    # The hour of the day (UTC) when most conversations start, over every weekday.
    busiest_hour_utc = models.PositiveSmallIntegerField(null=True, blank=True)
    # Recent conversations, each weighing half as much per half-life that has
    # passed since it started, stored as log2(weight) + started / half-life: at
    # any moment, ordering by it is ordering by the weight, so nothing decays
    # when it is read (spheres/activity.py).
    recent_rank = models.FloatField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "sphere activity"

    def __str__(self) -> str:
        return f"{self.sphere_id}: {self.conversations} conversations"


class SphereWatch(BaseModel):
    """A member asked to be told when someone starts waiting in a sphere."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sphere_watches"
    )
    sphere = models.ForeignKey(Sphere, on_delete=models.CASCADE, related_name="watches")
    # When the member was last told, for the once-an-hour limit.
    notified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Sphere first: telling a sphere's watchers reads by sphere.
            models.UniqueConstraint(fields=["sphere", "user"], name="one_watch_per_sphere")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} watches {self.sphere_id}"
