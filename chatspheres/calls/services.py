"""Writes to conversations: start, end, and each side's "How was it?"."""

from __future__ import annotations

from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from chatspheres.accounts.models import Profile
from chatspheres.accounts.selectors import public_card
from chatspheres.calls.ice import ice_servers_for
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import ApplicationError
from chatspheres.common.events import connection_channel, send_event_on_commit
from chatspheres.realtime import protocol
from chatspheres.realtime.hub import Envelope, Kind


@transaction.atomic
def conversation_start(
    *,
    sphere_id: int,
    a_user_id: int,
    a_ticket: str,
    b_user_id: int,
    b_ticket: str,
    shared_interests: Iterable[str],
) -> Conversation:
    """Open a call between the waiting member A and the arriving member B, and tell both tabs."""
    if Conversation.objects.active().involving_any((a_user_id, b_user_id)).exists():
        raise ApplicationError("One of you is already in a conversation.", code="already_in_call")
    talked_before = Conversation.objects.between(a_user_id, b_user_id).count()
    conversation = Conversation.objects.create(
        sphere_id=sphere_id,
        user_a_id=a_user_id,
        a_ticket=a_ticket,
        user_b_id=b_user_id,
        b_ticket=b_ticket,
        started_at=timezone.now(),
    )
    profiles = {
        profile.user_id: profile
        for profile in Profile.objects.filter(user_id__in=(a_user_id, b_user_id)).prefetch_related(
            "interests"
        )
    }
    shared = sorted(shared_interests)
    # A waited longer, so A's camera is surely ready: A makes the offer
    # (impolite), B answers (polite). Perfect negotiation covers any glare.
    for me, my_ticket, partner, partner_ticket, polite in (
        (a_user_id, a_ticket, b_user_id, b_ticket, False),
        (b_user_id, b_ticket, a_user_id, a_ticket, True),
    ):
        frame = protocol.encode(
            {
                "type": "match.found",
                "conversation": conversation.public_id,
                "sphere": sphere_id,
                "polite": polite,
                "partner": public_card(profiles[partner]),
                "shared_interests": shared,
                "talked_before": talked_before,
                "ice_servers": ice_servers_for(me),
            }
        )
        send_event_on_commit(
            connection_channel(my_ticket),
            Envelope(frame, Kind.MATCHED, conversation.public_id, partner_ticket),
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
    for user_id, ticket in (
        (locked.user_a_id, locked.a_ticket),
        (locked.user_b_id, locked.b_ticket),
    ):
        frame = protocol.encode(
            {
                "type": "call.ended",
                "conversation": locked.public_id,
                "reason": locked.end_reason,
                "by_me": user_id == by_user_id,
            }
        )
        send_event_on_commit(
            connection_channel(ticket), Envelope(frame, Kind.ENDED, locked.public_id)
        )
    conversation.refresh_from_db()
    return True


def conversation_end_for_ticket(*, ticket: str, reason: str) -> Conversation | None:
    """End the conversation a closed tab was in, if any; returns it when this ended it."""
    conversation = (
        Conversation.objects.active().filter(a_ticket=ticket).first()
        or Conversation.objects.active().filter(b_ticket=ticket).first()
    )
    if conversation is None:
        return None
    by_user_id = (
        conversation.user_a_id if conversation.a_ticket == ticket else conversation.user_b_id
    )
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
        raise ApplicationError("Choose good, okay or not for me.", code="bad_rating")
    if conversation.state != Conversation.State.ENDED:
        raise ApplicationError(
            "You can say how it was once the conversation has ended.", code="not_ended"
        )
    field = "a_rating" if user_id == conversation.user_a_id else "b_rating"
    setattr(conversation, field, rating)
    conversation.save(update_fields=[field, "updated"])
    return conversation
