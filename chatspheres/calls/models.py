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
        return self.active().filter(participants__tab=tab).first()

    def between(self, first_id: int, second_id: int) -> ConversationQuerySet:
        return self.filter(
            Q(user_a_id=first_id, user_b_id=second_id) | Q(user_a_id=second_id, user_b_id=first_id)
        )


class Conversation(BaseModel):
    """A call between ``user_a`` and ``user_b``; each one's own side is a :class:`Participant`.

    In a matched conversation A is who was waiting and B who arrived; in a
    direct one (a connection's "Call now") A is the caller. A makes the offer.
    """

    class Kind(models.TextChoices):
        MATCHED = "matched", "Matched in a sphere"
        DIRECT = "direct", "Called directly"

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
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.MATCHED)
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

    objects = ConversationQuerySet.as_manager()

    class Meta:
        ordering = ["-started_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(user_a=models.F("user_b")), name="conversation_has_two_people"
            ),
        ]
        indexes = [
            models.Index(fields=["user_a", "user_b"], name="conversation_pair"),
            models.Index(fields=["state"], name="conversation_state"),
        ]

    def __str__(self) -> str:
        return f"{self.public_id} ({self.state})"

    def realtime_targets(self) -> list[ToTab]:
        """The two tabs in the call: events about it reach exactly these."""
        return [ToTab(side.user_id, side.tab) for side in self.participants.all()]

    def partner_of(self, user_id: int) -> int:
        """The other person in the conversation."""
        return self.user_b_id if user_id == self.user_a_id else self.user_a_id

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class ParticipantQuerySet(models.QuerySet["Participant"]):
    def of(self, user_id: int) -> ParticipantQuerySet:
        """The member's own sides: one per conversation they took part in."""
        return self.filter(user_id=user_id)

    def with_partner(self, user_id: int, partner_id: int) -> ParticipantQuerySet:
        """The member's sides of the conversations they had with one person."""
        return self.filter(user_id=user_id, partner_id=partner_id)


class Participant(BaseModel):
    """One person's side of a conversation: the tab they took part from, and how it was for them.

    Everything that belongs to one of the two people (and not to the pair)
    lives here, one row each, rather than in ``a_*``/``b_*`` columns.
    ``partner`` repeats the other person so that a member's history ("people
    you've talked with") is read from this one table.
    """

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="conversation_sides"
    )
    partner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # The browser tab in the call: events reach exactly this tab, and a tab
    # that is gone (closed, or lost and not back in time) ends the conversation.
    tab = models.CharField(max_length=32)
    rating = models.CharField(max_length=10, choices=Conversation.Rating.choices, blank=True)
    # Seconds this person spoke, as their own page last counted it (the talk
    # balance meter); saved when they leave the call. None: never reported.
    talk_seconds = models.FloatField(null=True, blank=True)
    # When this person pressed "Reveal" in a soft start (None: never did).
    revealed_at = models.DateTimeField(null=True, blank=True)

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "user"], name="one_side_per_person"),
        ]
        indexes = [
            models.Index(fields=["tab"], name="participant_tab"),
            models.Index(fields=["user", "-created"], name="participant_history"),
            models.Index(fields=["user", "partner", "-created"], name="participant_pair_history"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.conversation_id}"
