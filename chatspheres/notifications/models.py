"""Notifications: what a member is told happened, and which kinds they want to hear about."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q

from chatspheres.common.models import BaseModel


class NotificationQuerySet(models.QuerySet["Notification"]):
    def for_member(self, user_id: int) -> NotificationQuerySet:
        return self.filter(recipient_id=user_id)

    def unread(self) -> NotificationQuerySet:
        return self.filter(read_at__isnull=True)


class Notification(BaseModel):
    """One thing a member is told: who did what, where; read once they have seen it.

    The words are not stored: each kind renders them from ``actor``, ``sphere``
    and the small ``data`` it carries (``chatspheres.notifications.kinds``), so
    they follow a renamed person or sphere.
    """

    class Kind(models.TextChoices):
        NEW_FOLLOWER = "new_follower", "Someone follows you"
        CONNECTION_MADE = "connection_made", "You and someone both want to talk again"
        MISSED_RING = "missed_ring", "You missed a call"
        STAGE_REACHED = "stage_reached", "A friendship reaches a new stage"
        SOMEONE_WAITING = "someone_waiting", "Someone is waiting in a sphere you watch"
        REPORT_RECEIVED = "report_received", "We received your report"
        REPORT_OUTCOME = "report_outcome", "A moderator decided about your report"
        MODERATION_DECISION = "moderation_decision", "A moderator decided about your account"
        APPEAL_OUTCOME = "appeal_outcome", "A moderator decided your appeal"
        # Messages are counted in the navigation, not listed as notifications:
        # this kind exists for the batched email about them (EMAIL_ONLY_KINDS).
        NEW_MESSAGE = "new_message", "New messages"
        PLAN_PROPOSED = "plan_proposed", "A connection offers times for a call"
        PLAN_CONFIRMED = "plan_confirmed", "A planned call is agreed"
        PLAN_CANCELLED = "plan_cancelled", "A planned call is cancelled"
        PLAN_REMINDER = "plan_reminder", "A planned call starts soon"

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=24, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    sphere = models.ForeignKey(
        "spheres.Sphere", on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    # A few short strings a kind needs beyond actor and sphere (a stage's name).
    data = models.JSONField(default=dict, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    objects = NotificationQuerySet.as_manager()

    class Meta:
        ordering: ClassVar[list[str]] = ["-created", "-id"]
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["recipient", "-created"], name="notification_list"),
            models.Index(
                fields=["recipient"], condition=Q(read_at__isnull=True), name="notification_unread"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.recipient_id}"


# What moderators decide is always told (the notice-and-action duties of the
# EU Digital Services Act): these kinds have no preference to turn them off.
ALWAYS_SENT_KINDS = frozenset(
    {
        Notification.Kind.REPORT_OUTCOME,
        Notification.Kind.MODERATION_DECISION,
        Notification.Kind.APPEAL_OUTCOME,
    }
)


# Kinds that are only ever emailed (no in-app notification, no site switch).
EMAIL_ONLY_KINDS = frozenset({Notification.Kind.NEW_MESSAGE})

# Kinds emailed unless the member turns them off; every other kind is emailed
# only once they turn it on. What moderators decide is emailed by the
# moderation app itself, always.
EMAIL_ON_BY_DEFAULT = frozenset(
    {
        Notification.Kind.NEW_MESSAGE,
        Notification.Kind.PLAN_PROPOSED,
        Notification.Kind.PLAN_CONFIRMED,
        Notification.Kind.PLAN_CANCELLED,
        Notification.Kind.PLAN_REMINDER,
    }
)


class Channel(models.TextChoices):
    """Where a member may hear about something."""

    SITE = "site", "On ChatSpheres"
    EMAIL = "email", "By email"


class NotificationPreference(BaseModel):
    """A member's choice for one kind on one channel; no row means the default.

    The default is on for the site, and by email on for ``EMAIL_ON_BY_DEFAULT``.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=24, choices=Notification.Kind.choices)
    channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.SITE)
    enabled = models.BooleanField(default=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(
                fields=["user", "kind", "channel"], name="one_preference_per_kind_and_channel"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id} {self.kind} {self.channel}: {'on' if self.enabled else 'off'}"


class OutgoingEmail(BaseModel):
    """One email to send, rendered when it was asked for, sent at most once by a task.

    ``key`` is the sender's idempotency key: asking twice for the same key
    gives the same row and one email. The task claims the row by moving it
    from ``pending`` to ``sending`` in one conditional update, so a retried or
    duplicated task finds nothing to do (``chatspheres/notifications/emails.py``).
    """

    class State(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SENT = "sent", "Sent"
        FAILED = "failed", "Given up after every attempt"

    key = models.CharField(max_length=200, unique=True)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The notification kind it is about ("" for account emails and notices).
    kind = models.CharField(max_length=24, blank=True, default="")
    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=300)
    text = models.TextField()
    html = models.TextField(blank=True, default="")
    # Extra headers (Message-ID, List-Unsubscribe…), the same on every attempt.
    headers = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=8, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True, default="")
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes: ClassVar[list[models.Index]] = [
            models.Index(fields=["state", "created"], name="outgoing_email_state"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} to {self.to} ({self.state})"


class EmailBatch(BaseModel):
    """A member's pending batch of one kind (new messages): at most one email per window.

    ``due_at`` is when its task runs (None: nothing scheduled);
    ``last_sent_at`` is when its last email went, which the next one waits
    a whole window after (``chatspheres/notifications/batching.py``).
    """

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=Notification.Kind.choices)
    due_at = models.DateTimeField(null=True, blank=True)
    last_sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints: ClassVar[list[models.BaseConstraint]] = [
            models.UniqueConstraint(fields=["recipient", "kind"], name="one_batch_per_kind"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} batch for {self.recipient_id}"
