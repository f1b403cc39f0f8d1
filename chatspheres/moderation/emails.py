"""Moderation's emails: a decision to its subject, the outcome to the reporter, an appeal's answer.

They name the site by ``settings.SITE_NAME`` and link to ``settings.SITE_URL``;
the services send them once their transaction has committed, through the
site's one email path (``notifications.emails.email_send``: a row per email
under a key, sent once by the worker). They have no unsubscribe link: a
member is always told what moderators decide.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from chatspheres.moderation.models import Appeal, Decision
from chatspheres.moderation.selectors import name_of, time_zone_of, until_words
from chatspheres.moderation.tokens import notice_url
from chatspheres.notifications.emails import email_send


def _send(*, to: str, subject: str, template: str, context: dict[str, Any], key: str) -> None:
    email_send(to=to, subject=subject, template=template, context=context, key=key)


# "A moderator … decided …", by action.
DECIDED: dict[str, str] = {
    Decision.Action.DISMISS: "that no action was needed",
    Decision.Action.WARN: "to send you a warning",
    Decision.Action.SUSPEND: "to suspend your account",
    Decision.Action.BAN: "to ban your account",
}


def decided_words(decision: Decision) -> str:
    """What the moderator decided, to follow "decided": "to suspend your account"."""
    return DECIDED[decision.action]


def meaning_of(decision: Decision, time_zone: str = "UTC") -> str:
    """What a decision means for its subject, in one or two sentences."""
    if decision.lifted_at is not None:
        return "This decision was withdrawn after an appeal: nothing of it applies any more."
    if decision.action == Decision.Action.WARN:
        return (
            "This is a warning. You can go on using the site as before, "
            "but a further breach may lead to a suspension or a ban."
        )
    if decision.action == Decision.Action.SUSPEND:
        return (
            f"Your account is suspended {until_words(decision.ends_at, time_zone)}. "
            "Until then you cannot sign in, join conversations or take calls; after that you "
            "can sign in again as before. Nothing of yours has been deleted."
        )
    return (
        "Your account is banned: you cannot sign in, join conversations or take calls. "
        "Nothing of yours has been deleted."
    )


def send_decision_notice(*, decision_id: int) -> None:
    """Email the person a decision is about: the statement, what it means, and the appeal link."""
    decision = Decision.objects.select_related("subject__profile").get(pk=decision_id)
    subject = decision.subject
    if subject is None or not subject.email:
        return
    _send(
        to=subject.email,
        subject="A moderator's decision about your account",
        template="moderation/email/decision.txt",
        key=f"moderation:decision:{decision.pk}",
        context={
            "name": name_of(subject),
            "decision": decision,
            "decided": decided_words(decision),
            "meaning": meaning_of(decision, time_zone_of(subject.pk)),
            "appeal_url": settings.SITE_URL + notice_url(decision.pk),
        },
    )


def send_report_outcome(*, decision_id: int) -> None:
    """Email the reporter what became of their report, without the decision's private details."""
    decision = Decision.objects.select_related("report__reporter__profile").get(pk=decision_id)
    report = decision.report
    reporter = report.reporter
    if reporter is None or not reporter.email:
        return
    _send(
        to=reporter.email,
        subject="What we decided about your report",
        template="moderation/email/report_outcome.txt",
        key=f"moderation:report-outcome:{decision.pk}",
        context={
            "name": name_of(reporter),
            "report": report,
            "about": report.subject_label or "someone",
            "took_action": decision.action != Decision.Action.DISMISS,
        },
    )


def send_appeal_outcome(*, appeal_id: int) -> None:
    """Email the appellant the answer to their appeal, with the moderator's statement."""
    appeal = Appeal.objects.select_related("decision", "appellant__profile").get(pk=appeal_id)
    appellant = appeal.appellant
    if appellant is None or not appellant.email:
        return
    _send(
        to=appellant.email,
        subject="The answer to your appeal",
        template="moderation/email/appeal_outcome.txt",
        key=f"moderation:appeal-outcome:{appeal.pk}",
        context={
            "name": name_of(appellant),
            "appeal": appeal,
            "overturned": appeal.state == Appeal.State.OVERTURNED,
            "notice_url": settings.SITE_URL + notice_url(appeal.decision_id),
        },
    )
