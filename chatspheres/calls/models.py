"""Conversations: one 1:1 call between two members, from match to end."""

from __future__ import annotations

import secrets
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from chatspheres.common.events import ToTab
from chatspheres.common.models import BaseModel


def new_public_id() -> str:
    """192 random bits, URL-safe: the only id of a conversation a browser ever sees."""
    return secrets.token_urlsafe(24)


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def active(self) -> ConversationQuerySet:
        return self.filter(state=Conversation.State.ACTIVE)

    def involving(self, user_id: int) -> ConversationQuerySet:
        return self.involving_any((user_id,))

    def involving_any(self, user_ids: tuple[int, ...]) -> ConversationQuerySet:
        return self.filter(Q(user_a_id__in=user_ids) | Q(user_b_id__in=user_ids))

    def active_for_tab(self, tab: str) -> Conversation | None:
        """The active conversation a browser tab is in, if any."""
        active = self.active()
        return active.filter(a_tab=tab).first() or active.filter(b_tab=tab).first()

    def between(self, first_id: int, second_id: int) -> ConversationQuerySet:
        return self.filter(
            Q(user_a_id=first_id, user_b_id=second_id) | Q(user_a_id=second_id, user_b_id=first_id)
        )


class Conversation(BaseModel):
    """A call between ``user_a`` (who was waiting) and ``user_b`` (who arrived)."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        ENDED = "ended", "Ended"

    # The only transitions a conversation makes.
    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        State.ACTIVE: frozenset({State.ENDED}),
        State.ENDED: frozenset(),
    }

    class EndReason(models.TextChoices):
        ENDED = "ended", "Ended the call"
        NEXT = "next", "Moved on to the next person"
        LEFT = "left", "Closed the page"
        DISCONNECTED = "disconnected", "Lost the connection"

    class Rating(models.TextChoices):
        GOOD = "good", "Good"
        OKAY = "okay", "Okay"
        NOT_FOR_ME = "not_for_me", "Not for me"

    public_id = models.CharField(max_length=43, unique=True, default=new_public_id, editable=False)
    sphere = models.ForeignKey(
        "spheres.Sphere", on_delete=models.PROTECT, related_name="conversations"
    )
    user_a = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    user_b = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The browser tabs in the call: events reach exactly these tabs, and a tab
    # that is gone (closed, or lost and not back in time) ends the conversation.
    a_tab = models.CharField(max_length=32)
    b_tab = models.CharField(max_length=32)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=12, choices=EndReason.choices, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    a_rating = models.CharField(max_length=10, choices=Rating.choices, blank=True)
    b_rating = models.CharField(max_length=10, choices=Rating.choices, blank=True)

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(user_a=models.F("user_b")), name="conversation_has_two_people"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "a_tab"], name="conversation_active_a_tab"),
            models.Index(fields=["state", "b_tab"], name="conversation_active_b_tab"),
            models.Index(fields=["user_a", "user_b"], name="conversation_pair"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.state})"

    def realtime_targets(self) -> list[ToTab]:
        """The two tabs in the call: events about it reach exactly these."""
        return [ToTab(self.user_a_id, self.a_tab), ToTab(self.user_b_id, self.b_tab)]

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()
