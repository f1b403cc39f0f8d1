"""Writes to messages: send one (stored once per client key), mark a thread read, settings,
and reporting a message."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chatspheres.accounts.models import Profile
from chatspheres.common.errors import (
    ACCOUNT_RESTRICTED,
    BAD_MESSAGE_KEY,
    MESSAGE_EMPTY,
    MESSAGE_TOO_LONG,
    NOT_YOURSELF,
    ApplicationError,
)
from chatspheres.common.events import ToMember, send_event_on_commit
from chatspheres.common.ratelimit import rate_limit_hit
from chatspheres.messaging.events import MessageCard, MessageNew, MessageSeen, MessagesUnread
from chatspheres.messaging.links import cards_for, links_in, message_html, own_pages_in
from chatspheres.messaging.models import (
    MESSAGE_MAX_LENGTH,
    Message,
    MessagingSettings,
    Thread,
    ThreadMember,
)
from chatspheres.messaging.selectors import (
    SendContext,
    receipts_on,
    send_context,
    unread_total,
    unread_totals,
)
from chatspheres.realtime.protocol import CONTROL_CHARACTERS

# What a client key may look like (the page makes a UUID; anything of this shape will do).
CLIENT_KEY = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
# How many messages before a reported one go into the report with it.
REPORT_CONTEXT = 4

# Called with (recipient_id, message_id) inside the transaction that saves each
# new message, so what a listener schedules commits with it or not at all: the
# email batch for unread messages registers here (``message_listener_register``).
_listeners: list[Callable[[int, int], None]] = []


def message_listener_register(listener: Callable[[int, int], None]) -> None:
    """Hear of every new message as it is saved (the email batch schedules itself here)."""
    if listener not in _listeners:
        _listeners.append(listener)


def _thread_between(user_id: int, other_id: int) -> Thread:
    low, high = sorted((user_id, other_id))
    thread, _ = Thread.objects.get_or_create(low_id=low, high_id=high)
    ThreadMember.objects.bulk_create(
        [
            ThreadMember(thread=thread, user_id=user_id, other_id=other_id),
            ThreadMember(thread=thread, user_id=other_id, other_id=user_id),
        ],
        ignore_conflicts=True,
    )
    return thread


def _clean_body(body: str) -> str:
    # Control characters are invisible in a thread, and PostgreSQL refuses a NUL:
    # they are dropped before anything is checked.
    body = CONTROL_CHARACTERS.sub("", body.replace("\r\n", "\n")).strip()
    if not body:
        raise ApplicationError(code=MESSAGE_EMPTY)
    if len(body) > MESSAGE_MAX_LENGTH:
        raise ApplicationError(code=MESSAGE_TOO_LONG)
    return body


def card_for(message: Message, *, viewer_id: int, author: str) -> MessageCard:
    cards = cards_for(own_pages_in([message.body]), viewer_id=viewer_id)
    return MessageCard(
        id=message.pk,
        key=message.client_key if message.sender_id == viewer_id else "",
        mine=message.sender_id == viewer_id,
        author=author,
        html=message_html(message.body, cards),
        created=message.created,
    )


@dataclass(frozen=True, slots=True)
class Sent:
    message: Message
    created: bool
    # The message as the sender's own tabs show it.
    card: MessageCard


_SIDES_AFTER_SEND_SQL = """
UPDATE messaging_threadmember SET
  unread = CASE WHEN user_id = %(recipient)s THEN unread + 1 ELSE 0 END,
  read_upto = CASE WHEN user_id = %(recipient)s THEN read_upto ELSE %(message)s END,
  last_message_at = %(now)s,
  updated = %(now)s
WHERE thread_id = %(thread)s
"""


def _already_sent(message_id: int) -> Sent:
    message = Message.objects.select_related("sender__profile").get(pk=message_id)
    author = getattr(getattr(message.sender, "profile", None), "display_name", "")
    return Sent(message, False, card_for(message, viewer_id=message.sender_id, author=author))


def message_send(*, sender_id: int, handle: str, body: str, client_key: str) -> Sent:
    """Send a message to a person the sender may write to; a key already used returns its message.

    The answer (and every tab's ``message.new``) comes only after the commit,
    so a message acknowledged is a message saved.
    """
    if not CLIENT_KEY.match(client_key or ""):
        raise ApplicationError(code=BAD_MESSAGE_KEY)
    context = send_context(sender_id=sender_id, handle=handle, client_key=client_key)
    if context.already_sent_id is not None:
        return _already_sent(context.already_sent_id)
    if context.sender_restricted:
        # Their sessions end with the decision; this covers a request already on its way.
        raise ApplicationError(
            "Your account is suspended or banned, so you can't send messages.",
            code=ACCOUNT_RESTRICTED,
        )
    if context.refusal is not None:
        raise context.refusal
    body = _clean_body(body)
    rate_limit_hit(action="message", key=sender_id)
    for _link in links_in(body):
        rate_limit_hit(action="message_link", key=sender_id)
    try:
        with transaction.atomic():
            return _store(context, sender_id=sender_id, body=body, key=client_key)
    except IntegrityError:
        # The same key sent twice at once: the other attempt stored it.
        stored = Message.objects.filter(sender_id=sender_id, client_key=client_key)
        return _already_sent(stored.values_list("id", flat=True).get())


def _store(context: SendContext, *, sender_id: int, body: str, key: str) -> Sent:
    recipient_id = context.recipient_id
    assert recipient_id is not None
    thread = (
        Thread(pk=context.thread_id)
        if context.thread_id is not None
        else _thread_between(sender_id, recipient_id)
    )
    message = Message.objects.create(thread=thread, sender_id=sender_id, body=body, client_key=key)
    now = message.created
    # Both sides in one statement: the recipient has one more unread; the sender
    # has read everything up to their own message (writing is reading). One
    # statement also takes the two rows' locks in one order for every send, so
    # two people writing to each other at once never deadlock on PostgreSQL.
    # SQL, not the ORM's Case/When: every send runs it, and building those cost
    # the ORM more than the statement itself (as send_context's reads did).
    with connection.cursor() as cursor:
        cursor.execute(
            _SIDES_AFTER_SEND_SQL,
            {
                "recipient": recipient_id,
                "message": message.pk,
                "now": connection.ops.adapt_datetimefield_value(now),
                "thread": thread.pk,
            },
        )
    author = context.sender_name
    unread = unread_totals(user_ids=(recipient_id, sender_id))
    own_card = card_for(message, viewer_id=sender_id, author=author)
    send_event_on_commit(
        MessageNew(
            with_handle=context.sender_handle,
            message=card_for(message, viewer_id=recipient_id, author=author),
            unread=unread[recipient_id],
        ),
        to=ToMember(recipient_id),
    )
    send_event_on_commit(
        MessageNew(
            with_handle=context.recipient_handle, message=own_card, unread=unread[sender_id]
        ),
        to=ToMember(sender_id),
    )
    for listener in list(_listeners):
        listener(recipient_id, message.pk)
    return Sent(message, True, own_card)


@transaction.atomic
def thread_mark_read(*, user_id: int, other: Profile, upto: int | None = None) -> int:
    """Mark the member's thread with ``other`` read (up to a message id); return unread total."""
    side = (
        ThreadMember.objects.select_for_update()
        .filter(user_id=user_id, other_id=other.user_id)
        .first()
    )
    if side is None:
        return unread_total(user_id=user_id)
    newest = (
        Message.objects.filter(thread_id=side.thread_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )
    upto = newest if upto is None else min(upto, newest)
    if upto <= side.read_upto:
        return unread_total(user_id=user_id)
    unread = (
        Message.objects.filter(thread_id=side.thread_id, id__gt=upto)
        .exclude(sender_id=user_id)
        .count()
    )
    now = timezone.now()
    ThreadMember.objects.filter(pk=side.pk).update(read_upto=upto, unread=unread, updated=now)
    total = unread_total(user_id=user_id)
    send_event_on_commit(MessagesUnread(unread=total), to=ToMember(user_id))
    if receipts_on(user_id=user_id, other_id=other.user_id):
        handle = Profile.objects.filter(user_id=user_id).values_list("handle", flat=True).first()
        send_event_on_commit(
            MessageSeen(with_handle=handle or "", upto=upto), to=ToMember(other.user_id)
        )
    return total


@transaction.atomic
def messaging_settings_set(*, user_id: int, read_receipts: bool) -> MessagingSettings:
    """Save the member's choice about read receipts (shown only when both turn them on)."""
    settings_row, _ = MessagingSettings.objects.update_or_create(
        user_id=user_id, defaults={"read_receipts": read_receipts}
    )
    return settings_row


def message_report(
    *, reporter_id: int, message: Message, reason: str, details: str = "", also_block: bool = False
) -> object:
    """Report the person who wrote a message; the message and a few before it go with the report."""
    from chatspheres.safety.services import report_create

    if message.sender_id == reporter_id:
        raise ApplicationError(code=NOT_YOURSELF)
    before = list(
        Message.objects.filter(thread_id=message.thread_id, id__lt=message.pk).order_by("-id")[
            :REPORT_CONTEXT
        ]
    )
    lines = [
        {
            "from": "subject" if line.sender_id == message.sender_id else "reporter",
            "text": line.body,
            "at": line.created.isoformat(),
            "where": "messages",
        }
        for line in [*reversed(before), message]
    ]
    return report_create(
        reporter_id=reporter_id,
        subject_id=message.sender_id,
        reason=reason,
        details=details,
        also_block=also_block,
        extra_excerpt=lines,
    )
