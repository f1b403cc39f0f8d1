"""Writes to conversations: start, end, and each side's "How was it?"."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from chatspheres.accounts.selectors import public_card
from chatspheres.accounts.services import profiles_ensure
from chatspheres.calls.events import CallEnded, MatchFound, PartnerRevealed, Recap
from chatspheres.calls.hooks import (
    conversation_rated,
    conversation_started,
    pairing_allowed,
    recap_between,
)
from chatspheres.calls.ice import IceConfig, ice_config_for
from chatspheres.calls.models import Conversation, Participant
from chatspheres.common.errors import (
    ALREADY_IN_CALL,
    BAD_RATING,
    NO_RELAY,
    NOT_ENDED,
    NOT_IN_CONVERSATION,
    PAIRING_FORBIDDEN,
    ApplicationError,
    PairingRefused,
)
from chatspheres.common.events import ToTab, send_event_on_commit
from chatspheres.spheres.services import sphere_activity_record


@transaction.atomic
def conversation_start(
    *,
    sphere_id: int,
    a_user_id: int,
    a_tab: str,
    b_user_id: int,
    b_tab: str,
    shared_interests: Iterable[str],
    kind: str = Conversation.Kind.MATCHED,
) -> Conversation:
    """Open a call between A (who waited, or called) and B, and tell both tabs."""
    busy: set[int] = set()
    for pair in (
        Conversation.objects.active()
        .involving_any((a_user_id, b_user_id))
        .values_list("user_a_id", "user_b_id")
    ):
        busy.update(pair)
    for user_id in (b_user_id, a_user_id):
        if user_id in busy:
            raise PairingRefused(
                "You are already in a conversation in another tab.",
                code=ALREADY_IN_CALL,
                user_id=user_id,
            )
    # The matcher decided from what it knew when each began waiting; a block
    # made since then still stops the pairing here (who arrived is named).
    if not pairing_allowed(a_user_id, b_user_id):
        raise PairingRefused(code=PAIRING_FORBIDDEN, user_id=b_user_id)
    talked_before = Conversation.objects.between(a_user_id, b_user_id).count()
    conversation = Conversation.objects.create(
        sphere_id=sphere_id,
        user_a_id=a_user_id,
        user_b_id=b_user_id,
        kind=kind,
        started_at=timezone.now(),
    )
    Participant.objects.bulk_create(
        [
            Participant(
                conversation=conversation, user_id=a_user_id, partner_id=b_user_id, tab=a_tab
            ),
            Participant(
                conversation=conversation, user_id=b_user_id, partner_id=a_user_id, tab=b_tab
            ),
        ]
    )
    if kind == Conversation.Kind.MATCHED:
        # How busy a sphere is counts the conversations people were matched in there.
        sphere_activity_record(sphere_id=sphere_id, started_at=conversation.started_at)
    profiles = profiles_ensure(user_ids=(a_user_id, b_user_id))
    # Each side's own choice sets its own policy; refused here (nothing saved)
    # if one hides their address and there is no relay to hide it behind.
    ice: dict[int, IceConfig] = {}
    for user_id in (b_user_id, a_user_id):
        try:
            ice[user_id] = ice_config_for(
                conversation=conversation, user_id=user_id, hide_ip=profiles[user_id].hide_ip
            )
        except ApplicationError as refusal:
            if refusal.code != NO_RELAY.name:
                raise
            raise PairingRefused(refusal.message, code=NO_RELAY, user_id=user_id) from None
    conversation_started.send(sender=Conversation, conversation=conversation)
    shared = sorted(shared_interests)
    # A first meeting in a sphere starts softly if either person wants it. A
    # direct call is always between connections, who have met: never soft.
    soft_start = (
        kind == Conversation.Kind.MATCHED
        and not talked_before
        and any(profiles[user_id].soft_start for user_id in (a_user_id, b_user_id))
    )
    # A waited longer (or called), so A's camera is surely ready: A makes the
    # offer (impolite), B answers (polite). Perfect negotiation covers any glare.
    for me, my_tab, partner, partner_tab, polite in (
        (a_user_id, a_tab, b_user_id, b_tab, False),
        (b_user_id, b_tab, a_user_id, a_tab, True),
    ):
        send_event_on_commit(
            MatchFound(
                conversation=conversation.public_id,
                sphere=sphere_id,
                polite=polite,
                partner=public_card(profiles[partner]),
                shared_interests=shared,
                talked_before=talked_before,
                ice_servers=ice[me].servers,
                ice_transport_policy=ice[me].transport_policy,
                ice_expires_at=ice[me].expires_at,
                # A first meeting has nothing to recall.
                recap=recap_between(viewer_id=me, partner_id=partner) if talked_before else Recap(),
                soft_start=soft_start,
                reveal_after_seconds=settings.SOFT_START_SECONDS if soft_start else 0,
            ),
            to=ToTab(me, my_tab),
            # The receiving tab relays to the partner's tab from now on.
            meta=(
                conversation.public_id,
                partner_tab,
                str(partner),
                "answer" if polite else "offer",
            ),
        )
    return conversation


@transaction.atomic
def conversation_end(*, conversation: Conversation, by_user_id: int, reason: str) -> bool:
    """End an active conversation and tell both tabs; False if it had already ended."""
    locked = Conversation.objects.select_for_update().get(pk=conversation.pk)
    if not locked.can_become(Conversation.State.ENDED):
        return False
    locked.state = Conversation.State.ENDED
    locked.ended_at = timezone.now()
    locked.end_reason = Conversation.EndReason(reason)
    locked.ended_by_id = by_user_id
    locked.save(update_fields=["state", "ended_at", "end_reason", "ended_by", "updated"])
    for target in locked.realtime_targets():
        send_event_on_commit(
            CallEnded(
                conversation=locked.public_id,
                reason=locked.end_reason,  # type: ignore[arg-type]
                by_me=target.user == by_user_id,
            ),
            to=target,
            meta=(locked.public_id,),
        )
    conversation.refresh_from_db()
    return True


def conversation_end_for_tab(*, tab: str, reason: str) -> Conversation | None:
    """End the conversation a tab that is gone was in, if any; return it when this ended it."""
    side = (
        Participant.objects.filter(tab=tab, conversation__state=Conversation.State.ACTIVE)
        .select_related("conversation")
        .first()
    )
    if side is None:
        return None
    conversation, by_user_id = side.conversation, side.user_id
    if not conversation_end(conversation=conversation, by_user_id=by_user_id, reason=reason):
        return None
    return conversation


@transaction.atomic
def conversations_end_orphaned() -> int:
    """End every conversation still marked active; run when no socket can be alive."""
    return Conversation.objects.active().update(
        state=Conversation.State.ENDED,
        ended_at=timezone.now(),
        end_reason=Conversation.EndReason.DISCONNECTED,
    )


@transaction.atomic
def conversation_reflect(*, conversation: Conversation, user_id: int, rating: str) -> Conversation:
    """Save one side's answer to "How was it?"; answering again replaces it."""
    if rating not in Conversation.Rating.values:
        raise ApplicationError(code=BAD_RATING)
    if conversation.state != Conversation.State.ENDED:
        raise ApplicationError(code=NOT_ENDED)
    Participant.objects.filter(conversation=conversation, user_id=user_id).update(
        rating=rating, updated=timezone.now()
    )
    conversation_rated.send(sender=Conversation, conversation=conversation, user_id=user_id)
    return conversation


@transaction.atomic
def participant_talk_record(*, public_id: str, user_id: int, seconds: float) -> None:
    """Keep the speaking seconds a person's page last counted, never more than the call lasted."""
    side = (
        Participant.objects.filter(conversation__public_id=public_id, user_id=user_id)
        .select_related("conversation")
        .first()
    )
    if side is None:
        return
    conversation = side.conversation
    lasted = ((conversation.ended_at or timezone.now()) - conversation.started_at).total_seconds()
    side.talk_seconds = round(max(0.0, min(seconds, lasted)), 1)
    side.save(update_fields=["talk_seconds", "updated"])


@transaction.atomic
def participant_reveal(*, public_id: str, user_id: int) -> bool:
    """Soft start: the person pressed "Reveal", and the partner hears; False if they had already."""
    sides = list(
        Participant.objects.select_for_update().filter(
            conversation__public_id=public_id,
            conversation__state=Conversation.State.ACTIVE,
        )
    )
    mine = next((side for side in sides if side.user_id == user_id), None)
    partner = next((side for side in sides if side.user_id != user_id), None)
    if mine is None or partner is None:
        raise ApplicationError(code=NOT_IN_CONVERSATION)
    if mine.revealed_at is not None:
        return False
    mine.revealed_at = timezone.now()
    mine.save(update_fields=["revealed_at", "updated"])
    send_event_on_commit(
        PartnerRevealed(conversation=public_id),
        to=ToTab(partner.user_id, partner.tab),
        meta=(public_id,),
    )
    return True
