"""Follows, the blind wish to talk again, private notes, and how far a pair has come."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from chatspheres.calls.models import new_public_id
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
        indexes = [
            models.Index(fields=["followee", "-created"], name="follow_followers"),
            models.Index(fields=["follower", "-created"], name="follow_following"),
        ]

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


class Ring(BaseModel):
    """A "Call now": ``caller`` rings every open tab of ``callee``, a connection, for a while.

    The caller's tab waits on the call page; the callee accepts (a direct
    conversation starts between the caller's tab and the callee's answering
    tab), declines, or lets it ring out at ``expires_at`` (missed). The caller
    may cancel. A ring leaves ``pending`` exactly once, whichever process or
    tab gets there first (see ``connections/rings.py``).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Ringing"
        ACCEPTED = "accepted", "Accepted"
        DECLINED = "declined", "Declined"
        MISSED = "missed", "Not answered in time"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        State.PENDING: frozenset({State.ACCEPTED, State.DECLINED, State.MISSED, State.CANCELLED}),
        State.ACCEPTED: frozenset(),
        State.DECLINED: frozenset(),
        State.MISSED: frozenset(),
        State.CANCELLED: frozenset(),
    }

    # 192 random bits, like a conversation's: the answering page's address holds it.
    public_id = models.CharField(max_length=43, unique=True, default=new_public_id, editable=False)
    caller = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    callee = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The caller's tab, waiting on the call page: the conversation joins it.
    caller_tab = models.CharField(max_length=32)
    # Where the two last met: the direct conversation takes place there.
    sphere = models.ForeignKey("spheres.Sphere", on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    expires_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(
        "calls.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(caller=F("callee")), name="ring_not_self"),
        ]
        indexes = [
            models.Index(
                fields=["expires_at"], condition=Q(state="pending"), name="ring_pending_expiry"
            ),
            models.Index(fields=["callee", "state"], name="ring_callee"),
            models.Index(fields=["caller", "state"], name="ring_caller"),
        ]

    def __str__(self) -> str:
        return f"ring {self.public_id} ({self.state})"

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]


class Plan(BaseModel):
    """A call two connections plan for later: up to three times offered, one agreed.

    ``proposed_by`` offered ``options`` (UTC instants, ISO strings) and waits
    for the other to accept one or offer others. Once one is accepted the plan
    is ``confirmed`` at ``starts_at``; a move is a new offer on the confirmed
    plan, which keeps its time until the other accepts. ``version`` grows with
    every change of time or state, so a reminder queued for an older version
    knows it is stale (queued tasks cannot be withdrawn).
    """

    class State(models.TextChoices):
        PROPOSED = "proposed", "Proposed"
        CONFIRMED = "confirmed", "Confirmed"
        KEPT = "kept", "Kept"
        MISSED = "missed", "Missed"
        CANCELLED = "cancelled", "Cancelled"

    TRANSITIONS: ClassVar[dict[str, frozenset[str]]] = {
        State.PROPOSED: frozenset({State.PROPOSED, State.CONFIRMED, State.CANCELLED}),
        # Confirmed to confirmed: moved to a newly accepted time.
        State.CONFIRMED: frozenset({State.CONFIRMED, State.KEPT, State.MISSED, State.CANCELLED}),
        State.KEPT: frozenset(),
        State.MISSED: frozenset(),
        State.CANCELLED: frozenset(),
    }

    public_id = models.CharField(max_length=43, unique=True, default=new_public_id, editable=False)
    # The pair, in the order the plan was first made.
    first = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    second = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PROPOSED)
    # The open offer (empty when nothing waits for an answer) and who made it.
    options = models.JSONField(default=list, blank=True)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    starts_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    ended_at = models.DateTimeField(null=True, blank=True)
    conversation = models.ForeignKey(
        "calls.Conversation", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(first=F("second")), name="plan_not_self"),
        ]
        indexes = [
            models.Index(fields=["first", "state", "starts_at"], name="plan_first"),
            models.Index(fields=["second", "state", "starts_at"], name="plan_second"),
        ]

    def __str__(self) -> str:
        return f"plan {self.public_id} ({self.state})"

    def can_become(self, state: str) -> bool:
        return state in self.TRANSITIONS[self.state]

    def other_of(self, user_id: int) -> int:
        return self.second_id if user_id == self.first_id else self.first_id
