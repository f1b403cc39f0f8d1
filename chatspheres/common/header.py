"""The header's two unread counts (messages, notifications): one query, once per request.

Every signed-in page shows both. They are read together when the first of
the header's tags asks, and kept on the request for the other one (and for a
view that shows the same number). Nothing keeps them longer than the
request: the site runs several processes, and a count must be true on the
next page whichever process answers it.

What counts is the selectors' meaning (``messaging.selectors.unread_total``,
``notifications.selectors.unread_count``), built from the same models and
queryset methods; tests check the two agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from chatspheres.accounts.models import User
from chatspheres.common.prepared import PreparedQuery
from chatspheres.messaging.models import ThreadMember
from chatspheres.notifications.models import Notification

# Where a request keeps its counts once read.
_ON_REQUEST = "_chatspheres_header_counts"


@dataclass(frozen=True, slots=True)
class HeaderCounts:
    """How many messages and notifications wait unread for the member."""

    messages: int = 0
    notifications: int = 0


def _counts(*, user_id: int) -> QuerySet[Any, Any]:
    messages = (
        ThreadMember.objects.filter(user_id=user_id, unread__gt=0)
        .values("user_id")
        .annotate(total=Sum("unread"))
        .values("total")
    )
    notifications = (
        Notification.objects.for_member(user_id)
        .unread()
        .values("recipient_id")
        .annotate(total=Count("pk"))
        .values("total")
    )
    # The member's own row only carries the two subqueries: one row, one round trip.
    return User.objects.filter(pk=user_id).values(
        unread_messages=Coalesce(Subquery(messages), 0),
        unread_notifications=Coalesce(Subquery(notifications), 0),
    )


_COUNTS = PreparedQuery(_counts, variables={"user_id": int})


def counts_for(*, user_id: int) -> HeaderCounts:
    """Both counts for one member, in one query."""
    rows = _COUNTS.rows(user_id=user_id)
    if not rows:
        return HeaderCounts()
    row = rows[0]
    return HeaderCounts(
        messages=int(row["unread_messages"]), notifications=int(row["unread_notifications"])
    )


def header_counts(request: Any) -> HeaderCounts:
    """The signed-in member's counts for this request, read once however many tags ask."""
    known = getattr(request, _ON_REQUEST, None)
    if known is not None:
        return known
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return HeaderCounts()
    counts = counts_for(user_id=int(user.pk))
    setattr(request, _ON_REQUEST, counts)
    return counts
