"""Writes: blocking and unblocking someone, and reporting them to the moderators."""

from __future__ import annotations

from django.db import transaction

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end
from chatspheres.common.errors import BAD_REASON, NOT_YOURSELF, REPORT_TOO_LONG, ApplicationError
from chatspheres.common.ratelimit import rate_limit_hit
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.safety.chatbuffer import ChatLine, chat_lines
from chatspheres.safety.models import Block, Report
from chatspheres.safety.selectors import conversation_for_report
from chatspheres.safety.signals import block_made

DETAILS_MAX_LENGTH = 2000


def _refuse_self(user_id: int, other_id: int) -> None:
    if user_id == other_id:
        raise ApplicationError(code=NOT_YOURSELF)


@transaction.atomic
def block_create(*, blocker_id: int, blocked_id: int) -> Block:
    """Block someone, silently: a live call between them ends, and nothing connects them again.

    The blocked person is told nothing: their call ends as any call the
    other person ends. Their follows, wishes to talk again and rings with
    the blocker end through ``block_made`` (the connections app).
    """
    _refuse_self(blocker_id, blocked_id)
    rate_limit_hit(action="block", key=blocker_id)
    block, _created = Block.objects.get_or_create(blocker_id=blocker_id, blocked_id=blocked_id)
    block_made.send(sender=Block, blocker_id=blocker_id, blocked_id=blocked_id)
    for conversation in Conversation.objects.active().between(blocker_id, blocked_id):
        conversation_end(
            conversation=conversation,
            by_user_id=blocker_id,
            reason=Conversation.EndReason.ENDED,
        )
    return block


@transaction.atomic
def block_remove(*, blocker_id: int, blocked_id: int) -> bool:
    """Unblock someone the member blocked; False if they had not. Nothing comes back with it."""
    _refuse_self(blocker_id, blocked_id)
    rate_limit_hit(action="block", key=blocker_id)
    deleted, _ = Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).delete()
    return deleted > 0


def excerpt_for(
    lines: list[ChatLine], *, reporter_id: int, subject_id: int
) -> list[dict[str, str]]:
    """The buffered lines as a report keeps them: said by the reporter or the subject, never ids."""
    sides = {reporter_id: "reporter", subject_id: "subject"}
    return [
        {"from": sides[line["user"]], "text": line["text"], "at": line["at"]}
        for line in lines
        if line.get("user") in sides
    ]


@transaction.atomic
def report_create(
    *,
    reporter_id: int,
    subject_id: int,
    reason: str,
    details: str = "",
    conversation_public_id: str = "",
    also_block: bool = False,
    extra_excerpt: list[dict[str, str]] | None = None,
) -> Report:
    """Report someone to the moderators; the server adds the conversation, its sphere and chat.

    The conversation is the one named, if it was between the two, else
    their latest; its last chat lines come from the short-lived buffer if
    they are still there. The reporter is told at once that it arrived.
    """
    _refuse_self(reporter_id, subject_id)
    if reason not in Report.Reason.values:
        raise ApplicationError(code=BAD_REASON)
    details = details.strip()
    if len(details) > DETAILS_MAX_LENGTH:
        raise ApplicationError(code=REPORT_TOO_LONG)
    rate_limit_hit(action="report", key=reporter_id)
    conversation = conversation_for_report(
        reporter_id=reporter_id, subject_id=subject_id, public_id=conversation_public_id
    )
    excerpt = (
        excerpt_for(
            chat_lines(conversation.public_id), reporter_id=reporter_id, subject_id=subject_id
        )
        if conversation is not None
        else []
    )
    label = (
        Profile.objects.filter(user_id=subject_id).values_list("display_name", flat=True).first()
        or ""
    )
    report = Report.objects.create(
        reporter_id=reporter_id,
        subject_id=subject_id,
        subject_label=label[:50],
        reason=reason,
        details=details,
        conversation=conversation,
        sphere_id=conversation.sphere_id if conversation is not None else None,
        # Reported messages (``extra_excerpt``, each line marked "where": "messages") come last.
        chat_excerpt=[*excerpt, *(extra_excerpt or [])],
    )
    notification_send(
        recipient_id=reporter_id,
        kind=Notification.Kind.REPORT_RECEIVED,
        data={"about": label or "someone"},
    )
    if also_block:
        block_create(blocker_id=reporter_id, blocked_id=subject_id)
    return report
