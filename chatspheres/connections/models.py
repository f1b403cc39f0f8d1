"""Follows, the blind wish to talk again, private notes, and how far a pair has come."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from chatspheres.common.models import BaseModel

# Positive conversations (both said "Good") a pair needs to reach each stage.
FAMILIAR_FACE_AT = 2
FRIEND_AT = 5
NOTE_MAX_LENGTH = 2000


class Follow(BaseModel):
    """``follower`` follows ``followee``: public to the followee, like on most sites."""

    follower = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="following_rows"
    )
    followee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follower_rows"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["follower", "followee"], name="follow_once"),
            models.CheckConstraint(condition=~Q(follower=F("followee")), name="follow_not_self"),
        ]
        indexes = [models.Index(fields=["followee", "-created"], name="follow_followers")]

    def __str__(self) -> str:
        return f"{self.follower_id} follows {self.followee_id}"


class TalkAgainWish(BaseModel):
    """``wisher`` would like to talk with ``about`` again. Blind: only the wisher ever sees it.

    One per pair and direction; ``conversation`` is the one it was made after,
    when it was made from the reflection screen.
    """

    wisher = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    about = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "calls.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["wisher", "about"], name="wish_once_per_pair"),
            models.CheckConstraint(condition=~Q(wisher=F("about")), name="wish_not_self"),
        ]

    def __str__(self) -> str:
        return f"{self.wisher_id} would talk with {self.about_id} again"


class Stage(models.TextChoices):
    NEW = "new", "New"
    FAMILIAR_FACE = "familiar_face", "Familiar face"
    FRIEND = "friend", "Friend"


def stage_for(positive_conversations: int) -> Stage:
    """The stage a number of positive conversations reaches."""
    if positive_conversations >= FRIEND_AT:
        return Stage.FRIEND
    if positive_conversations >= FAMILIAR_FACE_AT:
        return Stage.FAMILIAR_FACE
    return Stage.NEW


class BondQuerySet(models.QuerySet["Bond"]):
    def of(self, user_id: int) -> BondQuerySet:
        """The member's own rows: one per person they have a stage or a connection with."""
        return self.filter(user_id=user_id)

    def connected(self) -> BondQuerySet:
        return self.filter(connected_at__isnull=False)


class Bond(BaseModel):
    """What ``user`` has with ``other``: their stage, and whether they are connected.

    Two rows per pair, one each way, always written together (like
    ``calls.Participant``), so a member's side is read from one indexed table.
    A pair is *connected* once both wished to talk again.
    ``positive_conversations`` and ``stage`` are recomputed from the
    conversation history by ``bond_recount``, never incremented, so nothing
    can count twice.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    other = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # All recomputed together from the pair's conversations by bond_recount.
    conversations = models.PositiveIntegerField(default=0)
    last_conversation = models.ForeignKey(
        "calls.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_talked_at = models.DateTimeField(null=True, blank=True)
    positive_conversations = models.PositiveIntegerField(default=0)
    stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NEW)
    # Some conversation of theirs was rated okay or not for me, by either side.
    lukewarm = models.BooleanField(default=False)
    # Both wished to talk again (set and cleared with the wishes).
    connected_at = models.DateTimeField(null=True, blank=True)

    objects = BondQuerySet.as_manager()

    STAGE_ORDER: ClassVar[dict[str, int]] = {Stage.NEW: 0, Stage.FAMILIAR_FACE: 1, Stage.FRIEND: 2}

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "other"], name="bond_once_each_way"),
            models.CheckConstraint(condition=~Q(user=F("other")), name="bond_not_self"),
        ]
        indexes = [
            models.Index(fields=["user", "-connected_at"], name="bond_connections"),
            models.Index(fields=["user", "-last_talked_at"], name="bond_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} with {self.other_id} ({self.stage})"


class Note(BaseModel):
    """A member's private note about someone: only its author ever sees it."""

    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    about = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    conversation = models.ForeignKey(
        "calls.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    text = models.TextField(max_length=NOTE_MAX_LENGTH)

    class Meta:
        indexes = [models.Index(fields=["author", "about", "-created"], name="note_about")]

    def __str__(self) -> str:
        return f"note {self.pk} by {self.author_id}"
