"""The starting words of each statement of reasons, per decision and report reason.

A moderator starts from these and edits them; what is sent is what they
saved. Each statement names what was reported, what the moderator found and
what follows from it (DSA article 17): the notice adds the dates and the way to
appeal, so the words here never repeat them.
"""

from __future__ import annotations

from django.conf import settings

from chatspheres.moderation.models import Appeal, Decision
from chatspheres.safety.models import Report

Action = Decision.Action
Reason = Report.Reason

# What the reported conduct was, as a statement names it.
CONDUCT: dict[str, str] = {
    Reason.HARASSMENT: "harassing or bullying the person you talked with",
    Reason.SEXUAL: "showing nudity or sexual content",
    Reason.HATE: "attacking someone for who they are (hate)",
    Reason.MINOR: "being under 18, the minimum age on the site",
    Reason.SPAM: "spam or a scam",
    Reason.THREAT: "threatening to harm someone",
    Reason.OTHER: "behaviour against the community guidelines",
}

_FOUND = (
    "A member reported you for {conduct} during a conversation. A moderator looked at the "
    "report, the details of the conversation and any chat lines attached to it, and found "
    "that it broke the community guidelines of {site}."
)

_TEMPLATES: dict[str, str] = {
    Action.DISMISS: (
        "A moderator looked at the report of {conduct}, the details of the conversation and "
        "any chat lines attached to it, and found no breach of the community guidelines. "
        "No action was taken."
    ),
    Action.WARN: (
        _FOUND + " This is a warning: nothing changes on your account now, but a further "
        "breach may lead to a suspension or a ban."
    ),
    Action.SUSPEND: (
        _FOUND + " Your account is suspended: until the suspension ends you cannot sign in, "
        "join conversations or take calls. Nothing of yours is deleted."
    ),
    Action.BAN: (
        _FOUND + " Because of how serious this is, your account is banned: you cannot sign "
        "in, join conversations or take calls. Nothing of yours is deleted."
    ),
}

_APPEAL_TEMPLATES: dict[str, str] = {
    Appeal.State.UPHELD: (
        "A moderator who did not take the first decision looked at your appeal, the report "
        "and the decision again, and found the decision right. It stands."
    ),
    Appeal.State.OVERTURNED: (
        "A moderator who did not take the first decision looked at your appeal, the report "
        "and the decision again, and found that the decision should not have been taken. "
        "It is withdrawn, and any suspension or ban is lifted."
    ),
}


def statement_template(*, action: str, reason: str) -> str:
    """The starting words of a statement of reasons for this decision about this reason."""
    conduct = CONDUCT.get(reason, CONDUCT[Reason.OTHER])
    return _TEMPLATES[action].format(conduct=conduct, site=settings.SITE_NAME)


def statement_templates(*, reason: str) -> dict[str, str]:
    """The starting words for every decision about a report with this reason."""
    return {action: statement_template(action=action, reason=reason) for action in Action.values}


def appeal_statement_template(*, outcome: str) -> str:
    """The starting words of the answer to an appeal: upheld or overturned."""
    return _APPEAL_TEMPLATES[outcome]


def appeal_statement_templates() -> dict[str, str]:
    """The starting words for both outcomes of an appeal."""
    return {outcome: appeal_statement_template(outcome=outcome) for outcome in _APPEAL_TEMPLATES}
