"""Who is online, and where, as members see it on each other's pages."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from chatspheres.common.models import BaseModel


class Presence(BaseModel):
    """One member's presence: online until when, the sphere they look at, when last seen.

    The server processes holding the member's tabs keep ``online_until`` a
    little ahead of now (``chatspheres.presence.tracker``); a member whose tabs
    all closed is set offline at once, and one whose process died simply runs
    out of time. ``sphere`` is the one their latest tab entered, if any.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    online_until = models.DateTimeField(null=True, blank=True)
    sphere = models.ForeignKey(
        "spheres.Sphere", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The last moment a tab of theirs was known to be open.
    last_seen = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["sphere", "online_until"], name="presence_by_sphere"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} online until {self.online_until}"
