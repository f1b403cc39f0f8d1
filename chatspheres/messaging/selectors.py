"""Reads of threads and messages, always from one member's side.

Whom a member may write to is decided here (``access_correspondent``), and a
thread is only ever reached through the member's own side of it: there is no
thread id a client can name, so no member can reach another pair's thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from chatspheres.accounts.models import Profile
from chatspheres.common.errors import CANNOT_WRITE, NO_SUCH_MESSAGE, NO_SUCH_PERSON, NotFound
from chatspheres.common.prepared import PreparedQuery
from chatspheres.connections.models import Bond, Follow
from chatspheres.messaging.links import cards_for, message_html, own_pages_in
from chatspheres.messaging.models import Message, MessagingSettings, ThreadMember
from chatspheres.safety.selectors import blocked_either_way, met_on_call

# Messages on a thread page, and in each "Load older messages".
PAGE_SIZE = 40


def _correspondents(*, viewer: int, handle: str) -> QuerySet[Any, Any]:
    """The profile behind a handle, with what decides whether the viewer may write to them."""
    other = OuterRef("user_id")
    bond = Bond.objects.filter(user_id=viewer, other_id=other)
    return Profile.objects.filter(handle=handle, user__is_active=True).annotate(
        blocked=blocked_either_way(viewer, other),
        met=Exists(bond.filter(Q(conversations__gt=0) | Q(connected_at__isnull=False))),
        talked=met_on_call(viewer, other),
        connected=Exists(bond.filter(connected_at__isnull=False)),
    )


_PROFILE_FIELDS = tuple(field.attname for field in Profile._meta.concrete_fields)
# Pages and sends ask this on every request: compiled to SQL once per process
# (building these subqueries costs the ORM more than the rest of a send).
_CORRESPONDENT = PreparedQuery(
    lambda viewer, handle: _correspondents(viewer=viewer, handle=handle).values(
        *_PROFILE_FIELDS, "blocked", "met", "talked", "connected"
    ),
    variables={"viewer": int, "handle": str},
)


def _refusal(*, viewer_id: int, other_id: int | None, blocked: bool, met: bool) -> NotFound | None:
    """Why the viewer may not write to someone (None: they may), from what was read about them."""
    if other_id is None or other_id == viewer_id or blocked:
        return NotFound(code=NO_SUCH_PERSON)
    if met:
        return None
    if not Follow.objects.filter(follower_id=viewer_id, followee_id=other_id).exists():
        return NotFound(code=NO_SUCH_PERSON)
    return NotFound(code=CANNOT_WRITE)


def access_correspondent(*, viewer_id: int, handle: str) -> Profile:
    """The person behind a handle, if the viewer may write to them.

    Someone whose page the viewer may not see (a stranger, a block either
    way, a handle nobody has) is "no such person", the same answer for all,
    so a block stays silent; someone they may see but not write to is told why.
    The profile comes with ``talked`` (they shared a call: Block and Report are
    offered) and ``connected`` (they are connections: "Plan a call" is), so the
    page need not ask again. One query.
    """
    rows = _CORRESPONDENT.rows(viewer=viewer_id, handle=handle.lower())
    row = rows[0] if rows else {}
    refusal = _refusal(
        viewer_id=viewer_id,
        other_id=row.get("user_id"),
        blocked=bool(row.get("blocked")),
        met=bool(row.get("met")),
    )
    if refusal is not None:
        raise refusal
    profile = Profile.from_db(DEFAULT_DB_ALIAS, _PROFILE_FIELDS, [row[f] for f in _PROFILE_FIELDS])
    profile.talked = bool(row["talked"])  # type: ignore[attr-defined]
    profile.connected = bool(row["connected"])  # type: ignore[attr-defined]
    return profile


@dataclass(frozen=True, slots=True)
class SendContext:
    """What sending needs to know, read at once: a send is the hot path of messages."""

    # The person written to, when the sender may write to them (else ``refusal`` says why).
    recipient_id: int | None
    recipient_handle: str
    refusal: NotFound | None
    # A message this sender already stored under the key (a retried send).
    already_sent_id: int | None
    # A suspension or ban keeps the sender out now.
    sender_restricted: bool
    sender_name: str
    sender_handle: str
    thread_id: int | None


def _send_context(*, viewer: int, handle: str, key: str, now: datetime) -> QuerySet[Any, Any]:
    from chatspheres.moderation.selectors import restrictions_in_force

    sender = Profile.objects.filter(user_id=viewer)
    return _correspondents(viewer=viewer, handle=handle).values(
        "user_id",
        "handle",
        "blocked",
        "met",
        already_sent_id=Subquery(
            Message.objects.filter(sender_id=viewer, client_key=key).values("id")[:1]
        ),
        thread_id=Subquery(
            ThreadMember.objects.filter(user_id=viewer, other_id=OuterRef("user_id")).values(
                "thread_id"
            )[:1]
        ),
        sender_restricted=Exists(restrictions_in_force(now).filter(subject_id=viewer)),
        sender_name=Subquery(sender.values("display_name")[:1]),
        sender_handle=Subquery(sender.values("handle")[:1]),
    )


_SEND_CONTEXT = PreparedQuery(
    _send_context, variables={"viewer": int, "handle": str, "key": str, "now": datetime}
)


def send_context(*, sender_id: int, handle: str, client_key: str) -> SendContext:
    """Whom a send goes to and whether it may, the key's earlier message, whether the sender is
    kept out, their name, and the pair's thread: one query (three for a handle nobody has)."""
    from chatspheres.moderation.selectors import is_restricted

    rows = _SEND_CONTEXT.rows(
        viewer=sender_id, handle=handle.lower(), key=client_key, now=timezone.now()
    )
    if not rows:
        # A handle nobody has (now): a retry of a message already stored still finds it.
        earlier = Message.objects.filter(sender_id=sender_id, client_key=client_key)
        return SendContext(
            recipient_id=None,
            recipient_handle="",
            refusal=NotFound(code=NO_SUCH_PERSON),
            already_sent_id=earlier.values_list("id", flat=True).first(),
            sender_restricted=is_restricted(user_id=sender_id),
            sender_name="",
            sender_handle="",
            thread_id=None,
        )
    row = rows[0]
    refusal = _refusal(
        viewer_id=sender_id,
        other_id=row["user_id"],
        blocked=bool(row["blocked"]),
        met=bool(row["met"]),
    )
    return SendContext(
        recipient_id=row["user_id"] if refusal is None else None,
        recipient_handle=row["handle"],
        refusal=refusal,
        already_sent_id=row["already_sent_id"],
        sender_restricted=bool(row["sender_restricted"]),
        sender_name=row["sender_name"] or "",
        sender_handle=row["sender_handle"] or "",
        thread_id=row["thread_id"],
    )


def unread_total(*, user_id: int) -> int:
    """How many messages wait unread for the member, across their threads."""
    total = ThreadMember.objects.filter(user_id=user_id, unread__gt=0).aggregate(n=Sum("unread"))
    return int(total["n"] or 0)


_UNREAD_OF_TWO = PreparedQuery(
    lambda a, b: (
        ThreadMember.objects.filter(user_id__in=[a, b], unread__gt=0)
        .values("user_id")
        .annotate(n=Sum("unread"))
        .order_by()
    ),
    variables={"a": int, "b": int},
)


def unread_totals(*, user_ids: tuple[int, int]) -> dict[int, int]:
    """``unread_total`` for both people of a send, in one query (compiled once: every send asks)."""
    totals = dict.fromkeys(user_ids, 0)
    for row in _UNREAD_OF_TWO.rows(a=user_ids[0], b=user_ids[1]):
        totals[row["user_id"]] = int(row["n"] or 0)
    return totals


def receipts_on(*, user_id: int, other_id: int) -> bool:
    """Whether both people turned read receipts on (neither sees them otherwise)."""
    return (
        MessagingSettings.objects.filter(
            user_id__in=[user_id, other_id], read_receipts=True
        ).count()
        == 2
    )


def read_receipts_setting(*, user_id: int) -> bool:
    return MessagingSettings.objects.filter(user_id=user_id, read_receipts=True).exists()


@dataclass(frozen=True, slots=True)
class ShownMessage:
    id: int
    key: str
    mine: bool
    author: str
    html: str
    created: datetime
    report_url: str = ""

    def item(self) -> SafeString:
        """The message as the thread's list item.

        Built here with plain escaping, not in a template loop nor with
        ``format_html`` per piece: a thread's page shows forty of these, and
        this is the larger part of its time otherwise.
        """
        created = timezone.localtime(self.created)
        author = escape(self.author)
        report = (
            f'<a class="link-button message-report" href="{escape(self.report_url)}">Report'
            f'<span class="visually-hidden"> this message from {author}</span></a>'
            if not self.mine
            else ""
        )
        key = f' data-key="{escape(self.key)}"' if self.key else ""
        # self.html is escaped text with our own links, made by links.message_html.
        return mark_safe(  # noqa: S308
            f'<li class="message-item{" message-mine" if self.mine else ""}"'
            f' id="message-{self.id}" data-message-id="{self.id}"{key}>'
            f'<p class="message-meta"><span class="message-author">'
            f"{'You' if self.mine else author}</span> "
            f'<time datetime="{created.isoformat()}">{created:%-d %b, %H:%M}</time></p>'
            f'<div class="message-body">{self.html}</div>{report}</li>'
        )


def show_messages(
    messages: list[Message], *, viewer_id: int, names: dict[int, str]
) -> list[ShownMessage]:
    """Messages as the viewer sees them, oldest first, cards looked up for all at once."""
    cards = cards_for(own_pages_in(message.body for message in messages), viewer_id=viewer_id)
    report_url = reverse("messaging:report", kwargs={"message_id": 0})
    return [
        ShownMessage(
            id=message.pk,
            key=message.client_key if message.sender_id == viewer_id else "",
            mine=message.sender_id == viewer_id,
            author=names.get(message.sender_id, ""),
            html=message_html(message.body, cards),
            created=message.created,
            report_url=report_url.replace("/0/", f"/{message.pk}/"),
        )
        for message in messages
    ]


@dataclass(frozen=True, slots=True)
class ThreadPage:
    other: Profile
    side: ThreadMember | None
    messages: list[ShownMessage]
    older_cursor: int | None
    # The id of the viewer's newest message the other has read, when both show receipts.
    seen_upto: int | None


def thread_messages(
    *, side: ThreadMember | None, before: int | None = None, limit: int = PAGE_SIZE
) -> tuple[list[Message], int | None]:
    """A page of the thread's messages older than ``before`` (an id), oldest first, and the
    cursor for the page before it (None at the start)."""
    if side is None:
        return [], None
    rows = Message.objects.filter(thread_id=side.thread_id)
    if before is not None:
        rows = rows.filter(id__lt=before)
    page = list(rows.order_by("-id")[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    page.reverse()
    return page, (page[0].pk if more and page else None)


_SIDE_FIELDS = tuple(field.attname for field in ThreadMember._meta.concrete_fields)


def _side(*, viewer: int, other: int) -> QuerySet[Any, Any]:
    receipts = MessagingSettings.objects.filter(read_receipts=True)
    return ThreadMember.objects.filter(user_id=viewer, other_id=other).values(
        *_SIDE_FIELDS,
        receipts_mine=Exists(receipts.filter(user_id=viewer)),
        receipts_theirs=Exists(receipts.filter(user_id=other)),
        other_read_upto=Subquery(
            ThreadMember.objects.filter(thread_id=OuterRef("thread_id"), user_id=other).values(
                "read_upto"
            )[:1]
        ),
    )


# The viewer's side of the thread with what read receipts need: one query,
# compiled once per process (the thread page asks it on every view).
_SIDE = PreparedQuery(_side, variables={"viewer": int, "other": int})


def thread_page(*, viewer: Profile, other: Profile, before: int | None = None) -> ThreadPage:
    """The viewer's thread with ``other``: the newest page, or the one before ``before``."""
    rows = _SIDE.rows(viewer=viewer.user_id, other=other.user_id)
    side = (
        ThreadMember.from_db(DEFAULT_DB_ALIAS, _SIDE_FIELDS, [rows[0][f] for f in _SIDE_FIELDS])
        if rows
        else None
    )
    messages, cursor = thread_messages(side=side, before=before)
    names = {viewer.user_id: viewer.display_name, other.user_id: other.display_name}
    seen_upto = None
    if rows and rows[0]["receipts_mine"] and rows[0]["receipts_theirs"]:
        seen_upto = rows[0]["other_read_upto"]
    return ThreadPage(
        other=other,
        side=side,
        messages=show_messages(messages, viewer_id=viewer.user_id, names=names),
        older_cursor=cursor,
        seen_upto=seen_upto,
    )


@dataclass(frozen=True, slots=True)
class ThreadRow:
    user_id: int
    handle: str
    name: str
    unread: int
    last_message_at: datetime | None
    last_text: str


def thread_list(*, user_id: int, limit: int = 100) -> list[ThreadRow]:
    """The member's threads, the latest first, with unread counts (blocked people left out)."""
    from chatspheres.safety.selectors import blocked_ids_for

    hidden = blocked_ids_for(user_id)
    newest_body = (
        Message.objects.filter(thread_id=OuterRef("thread_id")).order_by("-id").values("body")[:1]
    )
    sides = list(
        ThreadMember.objects.filter(user_id=user_id, last_message_at__isnull=False)
        .exclude(other_id__in=hidden)
        .annotate(last_text=Subquery(newest_body))
        .order_by("-last_message_at")[:limit]
    )
    profiles = {
        profile.user_id: profile
        for profile in Profile.objects.filter(user_id__in=[side.other_id for side in sides])
    }
    return [
        ThreadRow(
            user_id=side.other_id,
            handle=profiles[side.other_id].handle,
            name=profiles[side.other_id].display_name,
            unread=side.unread,
            last_message_at=side.last_message_at,
            last_text=(side.last_text or "")[:120],
        )
        for side in sides
        if side.other_id in profiles
    ]


def access_message(*, viewer_id: int, message_id: int) -> Message:
    """A message in one of the viewer's own threads; anything else is said not to exist."""
    message = (
        Message.objects.filter(pk=message_id, thread__members__user_id=viewer_id)
        .select_related("thread")
        .first()
    )
    if message is None:
        raise NotFound(code=NO_SUCH_MESSAGE)
    return message


@dataclass(frozen=True, slots=True)
class UnreadFrom:
    """Who wrote to the member and how many of their messages are still unread."""

    name: str
    handle: str
    count: int


def unread_from(*, user_id: int, since: datetime | None = None) -> list[UnreadFrom]:
    """Per person, the member's messages still unread now (only those after ``since``), for the
    email batch: a message read in the meantime is never emailed."""
    from django.db.models import Count, F

    from chatspheres.safety.selectors import blocked_ids_for

    rows = (
        Message.objects.filter(
            thread__members__user_id=user_id,
            thread__members__unread__gt=0,
            id__gt=F("thread__members__read_upto"),
        )
        .exclude(sender_id=user_id)
        .exclude(sender_id__in=blocked_ids_for(user_id))
    )
    if since is not None:
        rows = rows.filter(created__gt=since)
    counts = dict(rows.values_list("sender_id").annotate(n=Count("id")).order_by())
    profiles = Profile.objects.filter(user_id__in=counts).values_list(
        "user_id", "display_name", "handle"
    )
    return sorted(
        (UnreadFrom(name=name, handle=handle, count=counts[uid]) for uid, name, handle in profiles),
        key=lambda row: (-row.count, row.name),
    )
