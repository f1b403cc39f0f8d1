"""Writes of moderation: decisions on reports, appeals, interest names, and the audit log.

Each service checks the rules, writes in one transaction, adds its line to
the append-only :class:`AuditEntry` log, and tells the people concerned (in
the app, and by email once the transaction has committed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from chatspheres.accounts.models import Interest
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end
from chatspheres.common.errors import (
    APPEAL_CLOSED,
    APPEAL_DECIDED,
    APPEAL_EXISTS,
    BAD_APPEAL,
    BAD_DECISION,
    OWN_CASE,
    REPORT_DECIDED,
    SAME_MODERATOR,
    ApplicationError,
    PermissionDenied,
)
from chatspheres.moderation import emails
from chatspheres.moderation.models import Appeal, AuditEntry, Decision, InterestReview
from chatspheres.moderation.selectors import (
    MODERATORS_GROUP,
    RESTRICTING,
    can_moderate,
    name_of,
)
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.realtime.sessions import sessions_end_on_commit
from chatspheres.safety.models import Report

logger = logging.getLogger(__name__)

STATEMENT_MAX_LENGTH = 4000
SUSPENSION_DAYS_MAX = 365
# How long after a decision its subject may appeal (the DSA asks for at least 6 months).
APPEAL_WINDOW = timedelta(days=183)


def _label(user: Any) -> str:
    """How the log names a person: display name and email, kept even if the account goes."""
    if user is None:
        return ""
    return f"{name_of(user)} <{user.email}>"[:254]


def _audit(
    *,
    kind: str,
    action: str,
    actor: Any,
    reasons: str,
    subject: Any = None,
    subject_label: str = "",
    report_id: int | None = None,
    decision_id: int | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        kind=kind,
        action=action,
        actor_id=getattr(actor, "pk", None),
        actor_label=_label(actor) or "system",
        subject_id=getattr(subject, "pk", None),
        subject_label=(_label(subject) or subject_label)[:254],
        report_id=report_id,
        decision_id=decision_id,
        reasons=reasons,
    )


def _after_commit(send: Callable[[], None]) -> None:
    """Send an email once the transaction commits; a mail server's failure is logged, never raised.

    The decision is saved and the person told in the app whatever the mail
    server does, so an error there must not turn the moderator's page into a 500.
    """

    def run() -> None:
        try:
            send()
        except Exception:
            logger.exception("a moderation email could not be sent")

    transaction.on_commit(run)


def _require_moderator(moderator: Any, report: Report | None = None) -> None:
    sphere = report.sphere if report is not None else None
    if not can_moderate(moderator, sphere=sphere):
        raise PermissionDenied("Only moderators may do that.")


def _clean_statement(statement: str, code: Any = BAD_DECISION) -> str:
    statement = (statement or "").strip()
    if not statement or len(statement) > STATEMENT_MAX_LENGTH:
        raise ApplicationError(code=code)
    return statement


# ---------------------------------------------------------------- the log of reports


def audit_report_filed(*, report: Report) -> AuditEntry:
    """Log that a report arrived (its reporter, subject and reason), in the report's transaction."""
    return _audit(
        kind=AuditEntry.Kind.REPORT_FILED,
        action=report.reason,
        actor=report.reporter,
        subject=report.subject,
        subject_label=report.subject_label,
        report_id=report.pk,
        reasons=report.details or report.get_reason_display(),
    )


# ---------------------------------------------------------------- decisions


def _end_sessions(user_id: int) -> int:
    """Delete every saved session of the member, so none comes back when a suspension ends.

    Sessions are not indexed by member, so this reads each live one: a
    moderator's decision is rare, and it costs one pass over the session
    table. With sessions that are not in the database (cookies, a cache) the
    sign-in backends' refusal is what ends them, for as long as the decision
    is in force.
    """
    store_class = import_string(settings.SESSION_ENGINE + ".SessionStore")
    if not hasattr(store_class, "get_model_class"):
        return 0
    ended = 0
    model = store_class.get_model_class()
    for session in model.objects.filter(expire_date__gt=timezone.now()).iterator():
        if str(session.get_decoded().get(SESSION_KEY)) == str(user_id):
            store_class(session.session_key).delete()
            ended += 1
    return ended


def _enforce(subject_id: int) -> None:
    """Keep a suspended or banned person out now: their calls end, their sessions and sockets too.

    The call ends as if they had left, so the partner sees the words of a
    partner leaving and never learns why. Their sessions are deleted (and
    refused by moderation/backends.py while the decision is in force); every
    tab of theirs, on every process, is told to check its session and closes
    when it finds it over.
    """
    for conversation in Conversation.objects.active().involving(subject_id):
        conversation_end(
            conversation=conversation,
            by_user_id=subject_id,
            reason=Conversation.EndReason.LEFT,
        )
    _end_sessions(subject_id)
    sessions_end_on_commit(user_id=subject_id)


@transaction.atomic
def decision_make(
    *,
    report: Report,
    moderator: Any,
    action: str,
    statement: str,
    days: int | None = None,
) -> Decision:
    """Decide an open report: save the decision, log it, enforce it, tell both people."""
    _require_moderator(moderator, report)
    locked = Report.objects.select_for_update().get(pk=report.pk)
    if Report.State.DECIDED not in Report.TRANSITIONS[Report.State(locked.state)]:
        raise ApplicationError(code=REPORT_DECIDED)
    if moderator.pk in (locked.reporter_id, locked.subject_id):
        raise ApplicationError(code=OWN_CASE)
    if action not in Decision.Action.values:
        raise ApplicationError(code=BAD_DECISION)
    statement = _clean_statement(statement)
    now = timezone.now()
    ends_at = None
    if action == Decision.Action.SUSPEND:
        if days is None or not 1 <= days <= SUSPENSION_DAYS_MAX:
            raise ApplicationError(code=BAD_DECISION)
        ends_at = now + timedelta(days=days)
    decision = Decision.objects.create(
        report=locked,
        subject_id=locked.subject_id,
        moderator=moderator,
        action=action,
        statement=statement,
        ends_at=ends_at,
    )
    locked.state = Report.State.DECIDED
    locked.save(update_fields=["state", "updated"])
    _audit(
        kind=AuditEntry.Kind.DECISION,
        action=action + (f" {days} days" if ends_at else ""),
        actor=moderator,
        subject=locked.subject,
        subject_label=locked.subject_label,
        report_id=locked.pk,
        decision_id=decision.pk,
        reasons=statement,
    )
    if locked.subject_id is not None and action in RESTRICTING:
        _enforce(locked.subject_id)
    if locked.subject_id is not None and action != Decision.Action.DISMISS:
        notification_send(
            recipient_id=locked.subject_id,
            kind=Notification.Kind.MODERATION_DECISION,
            data={"action": action, "decision": str(decision.pk)},
        )
        _after_commit(lambda: emails.send_decision_notice(decision_id=decision.pk))
    if locked.reporter_id is not None:
        notification_send(
            recipient_id=locked.reporter_id,
            kind=Notification.Kind.REPORT_OUTCOME,
            data={
                "about": locked.subject_label or "someone",
                "outcome": "no_breach" if action == Decision.Action.DISMISS else "action",
            },
        )
        _after_commit(lambda: emails.send_report_outcome(decision_id=decision.pk))
    return decision


# ---------------------------------------------------------------- appeals


@transaction.atomic
def appeal_make(*, decision: Decision, text: str) -> Appeal:
    """The decision's subject asks for it to be looked at again (once per decision)."""
    locked = Decision.objects.select_for_update().get(pk=decision.pk)
    if locked.action == Decision.Action.DISMISS:
        raise ApplicationError(code=APPEAL_CLOSED)
    if Appeal.objects.filter(decision=locked).exists():
        raise ApplicationError(code=APPEAL_EXISTS)
    if timezone.now() - locked.created > APPEAL_WINDOW:
        raise ApplicationError(code=APPEAL_CLOSED)
    text = (text or "").strip()
    if not text or len(text) > STATEMENT_MAX_LENGTH:
        raise ApplicationError(code=BAD_APPEAL)
    appeal = Appeal.objects.create(decision=locked, appellant_id=locked.subject_id, text=text)
    _audit(
        kind=AuditEntry.Kind.APPEAL_MADE,
        action=locked.action,
        actor=locked.subject,
        subject=locked.subject,
        report_id=locked.report_id,
        decision_id=locked.pk,
        reasons=text,
    )
    return appeal


@transaction.atomic
def appeal_decide(*, appeal: Appeal, moderator: Any, outcome: str, statement: str) -> Appeal:
    """Another moderator upholds or overturns a decision; overturning lifts a suspension or ban."""
    locked = Appeal.objects.select_for_update().select_related("decision").get(pk=appeal.pk)
    decision = locked.decision
    _require_moderator(moderator)
    if outcome not in Appeal.TRANSITIONS[Appeal.State(locked.state)]:
        if locked.state != Appeal.State.PENDING:
            raise ApplicationError(code=APPEAL_DECIDED)
        raise ApplicationError("Choose Uphold or Overturn.", code=BAD_APPEAL)
    if moderator.pk == decision.moderator_id:
        raise PermissionDenied(code=SAME_MODERATOR)
    if moderator.pk == locked.appellant_id:
        raise PermissionDenied(code=OWN_CASE)
    statement = _clean_statement(statement, BAD_APPEAL)
    now = timezone.now()
    locked.state = outcome
    locked.decided_by = moderator
    locked.decided_at = now
    locked.statement = statement
    locked.save(update_fields=["state", "decided_by", "decided_at", "statement", "updated"])
    if outcome == Appeal.State.OVERTURNED:
        Decision.objects.filter(pk=decision.pk, lifted_at__isnull=True).update(
            lifted_at=now, updated=now
        )
    _audit(
        kind=AuditEntry.Kind.APPEAL_OUTCOME,
        action=outcome,
        actor=moderator,
        subject=decision.subject,
        report_id=decision.report_id,
        decision_id=decision.pk,
        reasons=statement,
    )
    if locked.appellant_id is not None:
        notification_send(
            recipient_id=locked.appellant_id,
            kind=Notification.Kind.APPEAL_OUTCOME,
            data={"outcome": outcome, "decision": str(decision.pk)},
        )
        _after_commit(lambda: emails.send_appeal_outcome(appeal_id=locked.pk))
    return locked


# ---------------------------------------------------------------- interest names


@transaction.atomic
def interest_review(*, interest: Interest, moderator: Any, approve: bool) -> InterestReview:
    """Approve a typed interest name as a suggestion for everyone, or keep it private for good."""
    _require_moderator(moderator)
    review, _ = InterestReview.objects.get_or_create(
        interest=interest, defaults={"approved": approve, "moderator": moderator}
    )
    if approve:
        Interest.objects.filter(pk=interest.pk).update(approved=True, updated=timezone.now())
    _audit(
        kind=AuditEntry.Kind.INTEREST_REVIEW,
        action="approve" if approve else "reject",
        actor=moderator,
        reasons=f"Interest name “{interest.name}”",
    )
    return review


# ---------------------------------------------------------------- who moderates


@transaction.atomic
def moderator_set(*, user: Any, moderator: bool, by: str) -> bool:
    """Add the member to the "Moderators" group or take them out; False if nothing changed."""
    group, _ = Group.objects.get_or_create(name=MODERATORS_GROUP)
    already = user.groups.filter(pk=group.pk).exists()
    if already == moderator:
        return False
    if moderator:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    _audit(
        kind=AuditEntry.Kind.MODERATOR_CHANGE,
        action="add" if moderator else "remove",
        actor=None,
        subject=user,
        reasons=f"By {by}",
    )
    return True
