"""Reads of conversations, checked against who asks."""

from __future__ import annotations

from chatspheres.calls.models import Conversation, Participant
from chatspheres.common.errors import NOT_IN_CONVERSATION, NotFound


def access_conversation(*, user_id: int, public_id: str) -> Conversation:
    """A conversation ``user_id`` took part in; anyone else is told it does not exist."""
    conversation = (
        Conversation.objects.involving(user_id)
        .select_related("sphere")
        .filter(public_id=public_id)
        .first()
    )
    if conversation is None:
        raise NotFound("There is no such conversation.", code=NOT_IN_CONVERSATION)
    return conversation


def user_in_active_conversation(*, user_id: int) -> bool:
    """Whether the member is in a call right now (in any tab)."""
    return Conversation.objects.active().involving(user_id).exists()


def active_call_for_tab(*, tab: str) -> tuple[Conversation, Participant] | None:
    """The conversation a browser tab is in now and the partner's side of it (their tab), if any."""
    conversation = Conversation.objects.active_for_tab(tab)
    if conversation is None:
        return None
    partner = conversation.participants.exclude(tab=tab).first()
    if partner is None:
        return None
    return conversation, partner
