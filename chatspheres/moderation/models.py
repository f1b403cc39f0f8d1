"""What moderators decide about reports, the appeals against it, and the append-only audit log."""

from __future__ import annotations

from typing import Any, NoReturn

from django.conf import settings
from django.db import models

from chatspheres.common.models import BaseModel


class Decision(BaseModel):
    """A moderator's answer to a report, with the statement of reasons the person is sent (DSA 17).

    A suspension runs until ``ends_at``; a ban has none. ``lifted_at`` is set
    when an appeal overturns the decision. The decision itself is never edited
    otherwise; :class:`AuditEntry` keeps who did what and why.
    """

    class Action(models.TextChoices):
        DISMISS = "dismiss", "Dismiss"
        WARN = "warn", "Warn"
        SUSPEND = "suspend", "Suspend"
        BAN = "ban", "Ban"

    report = models.ForeignKey("safety.Report", on_delete=models.PROTECT, related_name="decisions")
    subject = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="moderation_decisions",
    )
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    action = models.CharField(max_length=8, choices=Action.choices)
    statement = models.TextField("Statement of reasons", max_length=4000)
    ends_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        indexes = [models.Index(fields=["subject", "action", "-created"], name="decision_subject")]

    def __str__(self) -> str:
        return f"{self.get_action_display()} on report {self.report_id}"


class Appeal(BaseModel):
    """The one appeal a person may make against a decision; another moderator decides it."""

    class State(models.TextChoices):
        PENDING = "pending", "Waiting for a moderator"
        UPHELD = "upheld", "Decision upheld"
        OVERTURNED = "overturned", "Decision overturned"

    TRANSITIONS = {
        State.PENDING: frozenset({State.UPHELD, State.OVERTURNED}),
        State.UPHELD: frozenset(),
        State.OVERTURNED: frozenset(),
    }

    decision = models.OneToOneField(Decision, on_delete=models.PROTECT, related_name="appeal")
    appellant = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    text = models.TextField("Why should this be looked at again?", max_length=4000)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    statement = models.TextField(max_length=4000, blank=True)

    def __str__(self) -> str:
        return f"Appeal against decision {self.decision_id} ({self.state})"


class AppendOnlyQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise PermissionError("The moderation audit log is append-only.")

    def delete(self) -> NoReturn:
        raise PermissionError("The moderation audit log is append-only.")


class AuditEntry(models.Model):
    """One line of the moderation record: who decided what, about whom, when and why.

    Append-only: saving an existing entry, deleting one, and bulk updates or
    deletes all raise. The people are kept as plain ids and labels, not
    foreign keys, so that deleting an account never rewrites the log.
    """

    class Kind(models.TextChoices):
        REPORT_FILED = "report_filed", "Report filed"
        DECISION = "decision", "Decision"
        APPEAL_MADE = "appeal_made", "Appeal made"
        APPEAL_OUTCOME = "appeal_outcome", "Appeal outcome"
        INTEREST_REVIEW = "interest_review", "Interest name reviewed"
        MODERATOR_CHANGE = "moderator_change", "Moderator added or removed"

    at = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    action = models.CharField(max_length=16)
    actor_id = models.BigIntegerField(null=True)
    actor_label = models.CharField(max_length=254)
    subject_id = models.BigIntegerField(null=True)
    subject_label = models.CharField(max_length=254, blank=True)
    report_id = models.BigIntegerField(null=True)
    decision_id = models.BigIntegerField(null=True)
    reasons = models.TextField()

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label}: {self.kind} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise PermissionError("The moderation audit log is append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise PermissionError("The moderation audit log is append-only.")


class InterestReview(BaseModel):
    """A moderator's answer about an interest name a member typed.

    Approving also marks the :class:`~chatspheres.accounts.models.Interest`
    approved, so it becomes a suggestion for everyone; rejecting keeps it private
    to those who chose it and takes it off the moderators' list for good.
    """

    interest = models.OneToOneField(
        "accounts.Interest", on_delete=models.CASCADE, related_name="moderation_review"
    )
    approved = models.BooleanField()
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    def __str__(self) -> str:
        return f"{self.interest_id}: {'approved' if self.approved else 'rejected'}"
