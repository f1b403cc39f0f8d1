"""Writes: follows, the blind wish to talk again, notes, and each pair's recount."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation, Participant
from chatspheres.common.errors import (
    BAD_NOTE,
    NO_SUCH_PERSON,
    NOT_YOURSELF,
    ApplicationError,
    NotFound,
)
from chatspheres.common.ratelimit import rate_limit_hit
from chatspheres.connections.models import (
    NOTE_MAX_LENGTH,
    Bond,
    Follow,
    Note,
    Stage,
    TalkAgainWish,
    stage_for,
)
from chatspheres.connections.selectors import access_note
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.safety.selectors import is_blocked_between

STAGE_RANK = {Stage.NEW: 0, Stage.FAMILIAR_FACE: 1, Stage.FRIEND: 2}
# How a stage_reached notification names the stage: "You and Ana are now friends".
STAGE_AS_PAIR = {Stage.FAMILIAR_FACE: "familiar faces", Stage.FRIEND: "friends"}
NEGATIVE_RATINGS = frozenset({Conversation.Rating.OKAY, Conversation.Rating.NOT_FOR_ME})


def _refuse_self(user_id: int, other_id: int) -> None:
    if user_id == other_id:
        raise ApplicationError(code=NOT_YOURSELF)


def _require_acquaintance(viewer_id: int, other_id: int) -> None:
    """The viewer may act on someone only if they may see their page (same 404 otherwise)."""
    if is_blocked_between(viewer_id, other_id):
        raise NotFound(code=NO_SUCH_PERSON)
    talked = Bond.objects.filter(user_id=viewer_id, other_id=other_id, conversations__gt=0)
    follows = Follow.objects.filter(follower_id=viewer_id, followee_id=other_id)
    if not (talked.exists() or follows.exists()):
        raise NotFound(code=NO_SUCH_PERSON)


def _pair_locked(user_id: int, other_id: int) -> tuple[Bond, Bond]:
    """Both bonds of a pair (made if missing), locked in one order so that two
    writers for the same pair (both wishing at once) take turns."""
    Bond.objects.bulk_create(
        [Bond(user_id=user_id, other_id=other_id), Bond(user_id=other_id, other_id=user_id)],
        ignore_conflicts=True,
    )
    rows = {
        bond.user_id: bond
        for bond in Bond.objects.select_for_update()
        .filter(Q(user_id=user_id, other_id=other_id) | Q(user_id=other_id, other_id=user_id))
        .order_by("user_id")
    }
    return rows[user_id], rows[other_id]


# ---------------------------------------------------------------- follows


@transaction.atomic
def follow_create(*, follower_id: int, followee_id: int) -> Follow:
    """Follow someone whose page the follower may see; they hear of it if the follower allows."""
    _refuse_self(follower_id, followee_id)
    _require_acquaintance(follower_id, followee_id)
    rate_limit_hit(action="follow", key=follower_id)
    follow, created = Follow.objects.get_or_create(follower_id=follower_id, followee_id=followee_id)
    announce = (
        Profile.objects.filter(user_id=follower_id)
        .values_list("announce_follows", flat=True)
        .first()
    )
    # Following again after unfollowing is not news: each follower is announced once.
    announced_before = Notification.objects.filter(
        recipient_id=followee_id, kind=Notification.Kind.NEW_FOLLOWER, actor_id=follower_id
    ).exists()
    if created and announce is not False and not announced_before:
        notification_send(
            recipient_id=followee_id, kind=Notification.Kind.NEW_FOLLOWER, actor_id=follower_id
        )
    return follow


@transaction.atomic
def follow_delete(*, follower_id: int, followee_id: int) -> bool:
    """Stop following someone; False if the member did not follow them."""
    deleted, _ = Follow.objects.filter(follower_id=follower_id, followee_id=followee_id).delete()
    return deleted > 0


# ---------------------------------------------------------------- talking again


@dataclass(frozen=True, slots=True)
class WishOutcome:
    """What the wisher may learn: whether the two are connected now (both wished)."""

    connected: bool
    newly_connected: bool


@transaction.atomic
def talk_again_wish(
    *, wisher_id: int, about_id: int, conversation_id: int | None = None
) -> WishOutcome:
    """Say "I'd like to talk again"; blind until both have said it, then both are told."""
    _refuse_self(wisher_id, about_id)
    _require_acquaintance(wisher_id, about_id)
    rate_limit_hit(action="talk_again", key=wisher_id)
    mine, theirs = _pair_locked(wisher_id, about_id)
    defaults = {"conversation_id": conversation_id} if conversation_id is not None else {}
    TalkAgainWish.objects.update_or_create(
        wisher_id=wisher_id, about_id=about_id, defaults=defaults
    )
    mutual = TalkAgainWish.objects.filter(wisher_id=about_id, about_id=wisher_id).exists()
    if not mutual:
        return WishOutcome(connected=False, newly_connected=False)
    if mine.connected_at is not None:
        return WishOutcome(connected=True, newly_connected=False)
    Bond.objects.filter(pk__in=(mine.pk, theirs.pk)).update(
        connected_at=timezone.now(), updated=timezone.now()
    )
    for recipient, actor in ((wisher_id, about_id), (about_id, wisher_id)):
        notification_send(
            recipient_id=recipient, kind=Notification.Kind.CONNECTION_MADE, actor_id=actor
        )
    return WishOutcome(connected=True, newly_connected=True)


@transaction.atomic
def talk_again_withdraw(*, wisher_id: int, about_id: int) -> None:
    """Take back "I'd like to talk again"; a connection it made ends with it."""
    _refuse_self(wisher_id, about_id)
    mine, theirs = _pair_locked(wisher_id, about_id)
    TalkAgainWish.objects.filter(wisher_id=wisher_id, about_id=about_id).delete()
    if mine.connected_at is not None:
        Bond.objects.filter(pk__in=(mine.pk, theirs.pk)).update(
            connected_at=None, updated=timezone.now()
        )


# ---------------------------------------------------------------- blocks


@transaction.atomic
def pair_part_for_block(*, blocker_id: int, blocked_id: int) -> None:
    """A block ends what ties the two: follows and wishes both ways, a connection, rings, plans.

    Runs inside ``block_create`` (through ``safety.signals.block_made``).
    Nobody is told: the blocked person's ring simply stops, as a declined one does.
    """
    from chatspheres.connections.plans import plans_cancel_between
    from chatspheres.connections.rings import rings_stop_between

    pair = Q(user_id=blocker_id, other_id=blocked_id) | Q(user_id=blocked_id, other_id=blocker_id)
    Follow.objects.filter(
        Q(follower_id=blocker_id, followee_id=blocked_id)
        | Q(follower_id=blocked_id, followee_id=blocker_id)
    ).delete()
    TalkAgainWish.objects.filter(
        Q(wisher_id=blocker_id, about_id=blocked_id) | Q(wisher_id=blocked_id, about_id=blocker_id)
    ).delete()
    Bond.objects.filter(pair, connected_at__isnull=False).update(
        connected_at=None, updated=timezone.now()
    )
    rings_stop_between(blocker_id=blocker_id, blocked_id=blocked_id)
    plans_cancel_between(first_id=blocker_id, second_id=blocked_id)


# ---------------------------------------------------------------- notes


def _clean_note(text: str) -> str:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > NOTE_MAX_LENGTH:
        raise ApplicationError(code=BAD_NOTE)
    return cleaned


@transaction.atomic
def note_create(
    *, author_id: int, about_id: int, text: str, conversation_id: int | None = None
) -> Note:
    """Write a private note about someone; only its author will ever see it."""
    _refuse_self(author_id, about_id)
    _require_acquaintance(author_id, about_id)
    return Note.objects.create(
        author_id=author_id,
        about_id=about_id,
        text=_clean_note(text),
        conversation_id=conversation_id,
    )


@transaction.atomic
def note_update(*, author_id: int, note_id: int, text: str) -> Note:
    """Change the text of one of the member's own notes."""
    note = access_note(author_id=author_id, note_id=note_id)
    note.text = _clean_note(text)
    note.save(update_fields=["text", "updated"])
    return note


@transaction.atomic
def note_delete(*, author_id: int, note_id: int) -> None:
    """Delete one of the member's own notes."""
    access_note(author_id=author_id, note_id=note_id).delete()


# ---------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class PairHistory:
    """What a pair's conversations add up to."""

    conversations: int
    positive: int
    lukewarm: bool
    last_conversation_id: int | None
    last_talked_at: datetime | None


def pair_history(user_id: int, other_id: int) -> PairHistory:
    """Count a pair's conversations from both sides' rows.

    A conversation is positive when both sides rated it good: one row per
    person per conversation, so a rating given again replaces the first and
    never counts twice, and one person's "good" alone never counts.
    """
    ratings: dict[int, dict[int, str]] = {}
    started: dict[int, datetime] = {}
    for conversation_id, side_user_id, rating, created in Participant.objects.filter(
        Q(user_id=user_id, partner_id=other_id) | Q(user_id=other_id, partner_id=user_id)
    ).values_list("conversation_id", "user_id", "rating", "created"):
        ratings.setdefault(conversation_id, {})[side_user_id] = rating
        started[conversation_id] = created
    positive = sum(
        1
        for sides in ratings.values()
        if sides.get(user_id) == Conversation.Rating.GOOD
        and sides.get(other_id) == Conversation.Rating.GOOD
    )
    lukewarm = any(
        rating in NEGATIVE_RATINGS for sides in ratings.values() for rating in sides.values()
    )
    last_id = max(started, key=lambda cid: (started[cid], cid)) if started else None
    return PairHistory(
        conversations=len(ratings),
        positive=positive,
        lukewarm=lukewarm,
        last_conversation_id=last_id,
        last_talked_at=started[last_id] if last_id is not None else None,
    )


@transaction.atomic
def bond_recount(*, user_id: int, other_id: int) -> Stage:
    """Recompute a pair's counts and stage from their conversations; tell both when it rises."""
    _refuse_self(user_id, other_id)
    mine, theirs = _pair_locked(user_id, other_id)
    history = pair_history(user_id, other_id)
    stage = stage_for(history.positive)
    Bond.objects.filter(pk__in=(mine.pk, theirs.pk)).update(
        conversations=history.conversations,
        positive_conversations=history.positive,
        stage=stage,
        lukewarm=history.lukewarm,
        last_conversation_id=history.last_conversation_id,
        last_talked_at=history.last_talked_at,
        updated=timezone.now(),
    )
    if STAGE_RANK[stage] > STAGE_RANK[Stage(mine.stage)]:
        for recipient, actor in ((user_id, other_id), (other_id, user_id)):
            notification_send(
                recipient_id=recipient,
                kind=Notification.Kind.STAGE_REACHED,
                actor_id=actor,
                data={"stage": STAGE_AS_PAIR[stage]},
            )
    return stage
