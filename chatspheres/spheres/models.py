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
