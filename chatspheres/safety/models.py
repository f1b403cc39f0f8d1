"""What members do to keep themselves safe: blocking someone, and reporting them to moderators."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from chatspheres.common.models import BaseModel


class Block(BaseModel):
    """``blocker`` never meets, hears from or sees ``blocked`` again; it holds both ways.

    Silent: nothing tells the blocked person. The row is the whole record;
    unblocking deletes it.
    """

    blocker = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_made"
    )
    blocked = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks_received"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["blocker", "blocked"], name="one_block_per_pair"),
            models.CheckConstraint(
                condition=~Q(blocker=models.F("blocked")), name="block_not_self"
            ),
        ]
        indexes = [models.Index(fields=["blocked", "blocker"], name="block_received")]

    def __str__(self) -> str:
        return f"{self.blocker_id} blocks {self.blocked_id}"


class Report(BaseModel):
    """A member's notice to the moderators about another member (DSA article 16).

    The server adds the context: the conversation, its sphere, and the last
    chat lines of that conversation if they are still in the short-lived
    buffer. Reports outlive accounts: when either person deletes theirs, the
    link to them is cleared and the label keeps the record readable.
    """

    class Reason(models.TextChoices):
        HARASSMENT = "harassment", "Harassment or bullying"
        SEXUAL = "sexual", "Nudity or sexual content"
        HATE = "hate", "Hate"
        MINOR = "minor", "Someone under 18"
        SPAM = "spam", "Spam or scam"
        THREAT = "threat", "Threat of harm"
        OTHER = "other", "Something else"

    class State(models.TextChoices):
        OPEN = "open", "Open"
        DECIDED = "decided", "Decided"

    TRANSITIONS = {State.OPEN: frozenset({State.DECIDED}), State.DECIDED: frozenset()}

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports_made",
    )
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports_received",
    )
    # The display name of the reported person when the report was made.
    subject_label = models.CharField(max_length=50, blank=True)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    details = models.TextField("What happened?", max_length=2000, blank=True)
    conversation = models.ForeignKey(
        "calls.Conversation",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="reports",
    )
    sphere = models.ForeignKey(
        "spheres.Sphere", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The last chat lines of the conversation, from the buffer, when one of
    # the two reported within its lifetime: [{"from": "reporter"|"subject",
    # "text": ..., "at": ISO time}, ...], oldest first.
    chat_excerpt = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.OPEN)

    class Meta:
        ordering = ["created"]
        indexes = [
            models.Index(fields=["state", "created"], name="report_queue"),
            models.Index(fields=["subject", "-created"], name="report_subject_history"),
        ]

    def __str__(self) -> str:
        return f"Report {self.pk} about {self.subject_label or self.subject_id} ({self.state})"
