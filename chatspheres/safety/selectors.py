"""Reads about blocks and reports, always from one member's side.

Other apps ask :func:`is_blocked_between` and :func:`blocked_ids_for` before
they let two people meet, follow, wish, ring or write: a block holds both
ways, whoever made it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import NO_SUCH_PERSON, NotFound
from chatspheres.safety.models import Block


def _blocks_between(a: Any, b: Any) -> QuerySet[Block]:
    """Blocks either of the two made of the other (each an id, or an ``OuterRef`` to one)."""
    return Block.objects.filter(Q(blocker_id=a, blocked_id=b) | Q(blocker_id=b, blocked_id=a))


def is_blocked_between(a: int, b: int) -> bool:
    """Whether either of the two blocked the other."""
    return _blocks_between(a, b).exists()


def may_meet(a: int, b: int) -> bool:
    """Whether two people may be put in a call together: neither blocked the other."""
    return not is_blocked_between(a, b)


def blocked_ids_for(user_id: int) -> frozenset[int]:
    """Everyone the member blocked or was blocked by: the people they never meet or see."""
    made = Block.objects.filter(blocker_id=user_id).values_list("blocked_id", flat=True)
    received = Block.objects.filter(blocked_id=user_id).values_list("blocker_id", flat=True)
    return frozenset(made.union(received))


def has_blocked(*, blocker_id: int, blocked_id: int) -> bool:
    """Whether the member themselves blocked this person (only what they did, never the reverse)."""
    return Block.objects.filter(blocker_id=blocker_id, blocked_id=blocked_id).exists()


@dataclass(frozen=True, slots=True)
class BlockedPerson:
    """One line of "Blocked people": who, and their handle for Unblock."""

    name: str
    handle: str


def blocked_people_for(*, user_id: int) -> list[BlockedPerson]:
    """The people the member blocked, newest first (never who blocked them)."""
    rows = (
        Block.objects.filter(blocker_id=user_id)
        .order_by("-created", "-pk")
        .values_list("blocked__profile__display_name", "blocked__profile__handle")
    )
    return [BlockedPerson(name=name or "Member", handle=handle or "") for name, handle in rows]


@dataclass(frozen=True, slots=True)
class SafetyTarget:
    """Someone a member may block or report: a person they have talked with."""

    user_id: int
    name: str
    handle: str


def access_safety_target(*, viewer_id: int, handle: str) -> SafetyTarget:
    """The person behind a handle, if the viewer talked with them or blocked them.

    Anyone else, like a handle nobody has, is "no such person": blocking and
    reporting are for people one has met, and the pages must not confirm
    that a handle exists. The viewer's own handle is no one to block.
    """
    profile = (
        Profile.objects.filter(handle=handle.strip().lower())
        .only("user_id", "display_name", "handle")
        .first()
    )
    if profile is None or profile.user_id == viewer_id:
        raise NotFound(code=NO_SUCH_PERSON)
    other_id = profile.user_id
    met = Conversation.objects.between(viewer_id, other_id).exists()
    if not (met or has_blocked(blocker_id=viewer_id, blocked_id=other_id)):
        raise NotFound(code=NO_SUCH_PERSON)
    return SafetyTarget(user_id=other_id, name=profile.display_name, handle=profile.handle)


def conversation_for_report(
    *, reporter_id: int, subject_id: int, public_id: str = ""
) -> Conversation | None:
    """The conversation a report is about: the one named, if it was theirs, else their latest."""
    between = Conversation.objects.between(reporter_id, subject_id).select_related("sphere")
    if public_id:
        named = between.filter(public_id=public_id).first()
        if named is not None:
            return named
    return between.order_by("-created", "-pk").first()


def met_on_call(viewer_id: int, other: Any) -> Exists:
    """Whether the viewer and ``other`` (an id, or an ``OuterRef`` to one) ever shared a call.

    For a page's own query to annotate, so it knows whom to offer Block and
    Report without asking again: with :func:`blocked_either_way`, the same
    answer :func:`safety_targets_among` gives.
    """
    return Exists(Conversation.objects.between(viewer_id, other))


def blocked_either_way(viewer_id: int, other: Any) -> Exists:
    """Whether either of the viewer and ``other`` (an id, or an ``OuterRef``) blocked the other."""
    return Exists(_blocks_between(viewer_id, other))


def safety_targets_among(*, viewer_id: int, user_ids: Iterable[int | None]) -> frozenset[int]:
    """Of the people a page names, those the viewer may block or report now (one query).

    The same people :func:`access_safety_target` lets through, less anyone
    blocked either way: a page already hides those, and shows no actions for them.
    """
    wanted = {int(user_id) for user_id in user_ids if user_id} - {viewer_id}
    if not wanted:
        return frozenset()
    other = OuterRef("user_id")
    rows = (
        Profile.objects.filter(user_id__in=wanted)
        .annotate(
            met=met_on_call(viewer_id, other),
            blocked=blocked_either_way(viewer_id, other),
        )
        .filter(met=True, blocked=False)
        .values_list("user_id", flat=True)
    )
    return frozenset(rows)
