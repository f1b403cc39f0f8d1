"""Reads for moderation: who moderates, who is kept out now, the queue, reports, the log."""

from __future__ import annotations

import zoneinfo
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.core.paginator import Page, Paginator
from django.db.models import Count, F, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from chatspheres.accounts.models import Interest, Profile
from chatspheres.common.errors import NotFound
from chatspheres.moderation.models import Appeal, AuditEntry, Decision
from chatspheres.safety.models import Report

MODERATORS_GROUP = "Moderators"
# Decisions that keep a person out while they are in force.
RESTRICTING = (Decision.Action.SUSPEND, Decision.Action.BAN)
HISTORY_SHOWN = 20
# The queue shows the oldest first; the rest come up as those are decided.
OPEN_REPORTS_SHOWN = 100
LOG_PER_PAGE = 50
INTERESTS_SHOWN = 50


def can_moderate(user: Any, *, sphere: Any = None) -> bool:
    """Whether ``user`` may see reports and decide them: staff, and the "Moderators" group.

    Every moderation page and service asks this one question. ``sphere`` is
    the room left for sphere moderators, who will come with the community
    features: they will be allowed for reports made in their own sphere only.
    Until then it changes nothing, and site moderators may act everywhere.
    """
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_staff:
        return True
    # The sign-in backend reads group membership with the user (backends.py).
    known = getattr(user, "moderation_moderator", None)
    if known is not None:
        return bool(known)
    return bool(user.groups.filter(name=MODERATORS_GROUP).exists())


def in_force(now: datetime | None = None) -> Q:
    """Decisions that restrict their subject at ``now``: a ban, or a suspension not yet over.

    Nothing ends a suspension but time: it is over once ``ends_at`` has passed.
    An overturned appeal sets ``lifted_at``, which ends either at once.
    """
    now = now or timezone.now()
    return Q(lifted_at__isnull=True) & (
        Q(action=Decision.Action.BAN) | Q(action=Decision.Action.SUSPEND, ends_at__gt=now)
    )


def restrictions_in_force(now: datetime | None = None) -> QuerySet[Decision]:
    """Every decision restricting someone now."""
    return Decision.objects.filter(in_force(now))


def restriction_for(*, user_id: int) -> Decision | None:
    """The decision keeping the member out now (a ban before the longest suspension), or None."""
    return (
        restrictions_in_force()
        .filter(subject_id=user_id)
        .order_by(F("ends_at").desc(nulls_first=True), "-created")
        .first()
    )


def is_restricted(*, user_id: int) -> bool:
    """Whether a suspension or a ban keeps the member out now."""
    return restrictions_in_force().filter(subject_id=user_id).exists()


def time_zone_of(user_id: int | None) -> str:
    """The member's time zone (from their profile), UTC when they have none."""
    if user_id is None:
        return "UTC"
    zone = Profile.objects.filter(user_id=user_id).values_list("time_zone", flat=True).first()
    return zone or "UTC"


def until_words(ends_at: datetime | None, time_zone: str = "UTC") -> str:
    """When a restriction ends, in the person's time zone and in UTC: "until …", or "for good"."""
    if ends_at is None:
        return "with no end date"
    try:
        zone = zoneinfo.ZoneInfo(time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    local = ends_at.astimezone(zone)
    utc = ends_at.astimezone(zoneinfo.ZoneInfo("UTC"))
    text = f"until {local:%A %-d %B %Y, %H:%M} ({zone.key.replace('_', ' ')} time)"
    if zone.key != "UTC":
        text += f", that is {utc:%-d %B %Y, %H:%M} UTC"
    return text


def name_of(user: Any, fallback: str = "") -> str:
    """A person's display name, as moderators and notices show it."""
    if user is None:
        return fallback or "a deleted account"
    profile = getattr(user, "profile", None)
    if profile is not None and profile.display_name:
        return str(profile.display_name)
    return fallback or str(user.email).split("@", 1)[0]


# ---------------------------------------------------------------- the queue


@dataclass(frozen=True, slots=True)
class ReportRow:
    """One report as the moderators' table shows it, with how often its subject came up before."""

    report: Report
    reporter_name: str
    subject_name: str
    earlier_reports: int
    earlier_decisions: int
    conversation_length: str


def _reports_with_names() -> QuerySet[Report]:
    return Report.objects.select_related(
        "reporter__profile", "subject__profile", "sphere", "conversation"
    )


def open_report_count() -> int:
    """How many reports wait for a decision."""
    return Report.objects.filter(state=Report.State.OPEN).count()


def open_reports(*, limit: int = OPEN_REPORTS_SHOWN) -> list[ReportRow]:
    """The oldest open reports, with their subject's other reports and decisions (3 queries)."""
    reports = list(
        _reports_with_names().filter(state=Report.State.OPEN).order_by("created", "id")[:limit]
    )
    subjects = {report.subject_id for report in reports if report.subject_id is not None}
    report_counts = Counter(
        dict(
            Report.objects.filter(subject_id__in=subjects)
            .values_list("subject_id")
            .annotate(count=Count("id"))
            .values_list("subject_id", "count")
        )
    )
    decision_counts = Counter(
        dict(
            Decision.objects.filter(subject_id__in=subjects)
            .exclude(action=Decision.Action.DISMISS)
            .values_list("subject_id")
            .annotate(count=Count("id"))
            .values_list("subject_id", "count")
        )
    )
    return [
        ReportRow(
            report=report,
            reporter_name=name_of(report.reporter),
            subject_name=name_of(report.subject, report.subject_label),
            earlier_reports=max(0, report_counts[report.subject_id or 0] - 1),
            earlier_decisions=decision_counts[report.subject_id or 0],
            conversation_length=length_words(
                report.conversation.ended_at - report.conversation.started_at
                if report.conversation and report.conversation.ended_at
                else None
            ),
        )
        for report in reports
    ]


def access_report(*, report_id: int) -> Report:
    """One report with its people, sphere and conversation; NotFound if there is none."""
    found = _reports_with_names().filter(pk=report_id).first()
    if found is None:
        raise NotFound("There is no such report.")
    return found


@dataclass(frozen=True, slots=True)
class ConversationFacts:
    """What a report's conversation was: when, where and for how long."""

    started_at: datetime
    sphere: str
    duration: timedelta | None
    still_on: bool

    @property
    def length(self) -> str:
        """How long it lasted, in words: "under a minute", "12 minutes", "1 h 5 min"."""
        return length_words(self.duration)


def length_words(duration: timedelta | None) -> str:
    """A conversation's length as moderators read it; "still going" without an end."""
    if duration is None:
        return "still going"
    minutes = int(duration.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    return f"{minutes // 60} h {minutes % 60} min"


def conversation_facts(report: Report) -> ConversationFacts | None:
    """The facts of the reported conversation, if the report names one."""
    conversation = report.conversation
    if conversation is None:
        return None
    ended = conversation.ended_at
    return ConversationFacts(
        started_at=conversation.started_at,
        sphere=report.sphere.name if report.sphere else "",
        duration=(ended - conversation.started_at) if ended else None,
        still_on=ended is None,
    )


@dataclass(frozen=True, slots=True)
class ExcerptLine:
    """One chat line attached to a report: who said it (by name), what, and when."""

    who: str
    said_by_subject: bool
    text: str
    at: datetime | None
    # Where it was said: "" in the call's chat, "messages" in their messages.
    where: str = ""


def chat_excerpt_of(report: Report) -> list[ExcerptLine]:
    """The report's chat lines, oldest first, with the two people named."""
    names = {
        "reporter": name_of(report.reporter),
        "subject": name_of(report.subject, report.subject_label),
    }
    lines = []
    for line in report.chat_excerpt or []:
        side = str(line.get("from", ""))
        lines.append(
            ExcerptLine(
                who=names.get(side, "someone"),
                said_by_subject=side == "subject",
                text=str(line.get("text", "")),
                at=parse_datetime(str(line.get("at", ""))),
                where=str(line.get("where", "")),
            )
        )
    return lines


@dataclass
class SubjectHistory:
    """The reported person's other reports and every decision about them, newest first."""

    reports: list[Report] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    restriction: Decision | None = None


def subject_history(*, report: Report) -> SubjectHistory:
    """What moderators need to know about the reported person's past (3 queries)."""
    if report.subject_id is None:
        return SubjectHistory()
    reports = list(
        _reports_with_names()
        .filter(subject_id=report.subject_id)
        .exclude(pk=report.pk)
        .order_by("-created")[:HISTORY_SHOWN]
    )
    decisions = list(
        Decision.objects.filter(subject_id=report.subject_id)
        .select_related("report", "appeal")
        .order_by("-created")[:HISTORY_SHOWN]
    )
    return SubjectHistory(
        reports=reports,
        decisions=decisions,
        restriction=restriction_for(user_id=report.subject_id),
    )


def decisions_about_report(*, report: Report) -> list[Decision]:
    """The decision taken on this report (there is at most one), with its appeal."""
    return list(
        Decision.objects.filter(report=report).select_related("moderator__profile", "appeal")
    )


# ---------------------------------------------------------------- appeals


def pending_appeals() -> list[Appeal]:
    """Appeals waiting for a moderator, oldest first."""
    return list(
        Appeal.objects.filter(state=Appeal.State.PENDING)
        .select_related(
            "decision__report", "decision__subject__profile", "decision__moderator__profile"
        )
        .order_by("created", "id")
    )


def access_appeal(*, appeal_id: int) -> Appeal:
    """One appeal with its decision and report; NotFound if there is none."""
    found = (
        Appeal.objects.select_related(
            "decision__report__reporter__profile",
            "decision__report__sphere",
            "decision__report__conversation",
            "decision__subject__profile",
            "decision__moderator__profile",
            "decided_by__profile",
        )
        .filter(pk=appeal_id)
        .first()
    )
    if found is None:
        raise NotFound("There is no such appeal.")
    return found


def access_decision_notice(*, decision_id: int | None) -> Decision:
    """The decision a notice link names, with its appeal; NotFound for a dismissal or none."""
    found = (
        Decision.objects.select_related("report", "subject__profile")
        .exclude(action=Decision.Action.DISMISS)
        .filter(pk=decision_id)
        .first()
        if decision_id is not None
        else None
    )
    if found is None:
        raise NotFound("This link does not lead to a decision.")
    return found


def appeal_of(decision: Decision) -> Appeal | None:
    """The appeal against a decision, if one was made."""
    try:
        return decision.appeal
    except Appeal.DoesNotExist:
        return None


# ---------------------------------------------------------------- the log


def audit_log_page(*, number: int = 1) -> Page[AuditEntry]:
    """One page of the audit log, newest first."""
    entries = AuditEntry.objects.order_by("-at", "-id")
    return Paginator(entries, LOG_PER_PAGE).get_page(number)


# ---------------------------------------------------------------- interest names


@dataclass(frozen=True, slots=True)
class InterestCandidate:
    """An interest name members typed, waiting for a moderator, and how many chose it."""

    id: int
    name: str
    chosen: int


def interests_to_approve(*, limit: int = INTERESTS_SHOWN) -> list[InterestCandidate]:
    """Names members typed that no moderator has answered yet, most chosen first (one query)."""
    rows = (
        Interest.objects.filter(approved=False, moderation_review__isnull=True)
        .annotate(chosen=Count("profiles"))
        .filter(chosen__gt=0)
        .order_by("-chosen", "name")
        .values_list("id", "name", "chosen")[:limit]
    )
    return [InterestCandidate(id=pk, name=name, chosen=chosen) for pk, name, chosen in rows]


def access_interest_to_review(*, interest_id: int) -> Interest:
    """An interest name still waiting for a moderator; NotFound otherwise."""
    found = Interest.objects.filter(
        pk=interest_id, approved=False, moderation_review__isnull=True
    ).first()
    if found is None:
        raise NotFound("That interest name is not waiting for a moderator.")
    return found
