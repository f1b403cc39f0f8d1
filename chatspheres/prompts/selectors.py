"""Reads of decks, a call's prompts and profile answers, checked against who asks."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from chatspheres.calls.models import Conversation, Participant
from chatspheres.calls.selectors import access_conversation
from chatspheres.common.errors import NOT_IN_CONVERSATION, ApplicationError
from chatspheres.prompts.models import (
    PROFILE_CARD_LEADS,
    Card,
    ProfileAnswer,
    ProfileQuestion,
    Prompt,
    Table,
)


def access_active_call(*, user_id: int, tab: str, public_id: str) -> Conversation:
    """The active conversation this member's tab is in; anyone else is told it is not theirs.

    The id comes from the client, so it goes through the calls app's check
    first (someone else's conversation does not exist for this member); then
    only the tab the member is in the call from, while the call is on, may act.
    """
    conversation = access_conversation(user_id=user_id, public_id=public_id)
    in_call = (
        conversation.state == Conversation.State.ACTIVE
        and Participant.objects.filter(conversation=conversation, user_id=user_id, tab=tab).exists()
    )
    if not in_call:
        raise ApplicationError(code=NOT_IN_CONVERSATION)
    return conversation


def pair_of(conversation: Conversation) -> tuple[int, int]:
    """The two people's ids, lower first: how a pair's cards are indexed."""
    low, high = sorted((conversation.user_a_id, conversation.user_b_id))
    return low, high


def drawable_prompts(*, conversation: Conversation, depth: int) -> QuerySet[Prompt]:
    """Active prompts at ``depth`` from the house deck and this sphere's deck, unseen by the pair.

    Another sphere's deck is never drawn from; a prompt the two people saw
    together in any of their conversations is never drawn again for them.
    """
    low, high = pair_of(conversation)
    seen = Card.objects.filter(pair_low_id=low, pair_high_id=high, prompt__isnull=False).values(
        "prompt_id"
    )
    return (
        Prompt.objects.filter(active=True, depth=depth)
        .filter(Q(deck__house=True) | Q(deck__sphere_id=conversation.sphere_id))
        .exclude(pk__in=seen)
    )


def unseen_profile_answers(*, conversation: Conversation, owner_id: int) -> QuerySet[ProfileAnswer]:
    """``owner_id``'s profile answers the pair has not had as a card yet."""
    low, high = pair_of(conversation)
    seen = Card.objects.filter(
        pair_low_id=low, pair_high_id=high, profile_answer__isnull=False
    ).values("profile_answer_id")
    return ProfileAnswer.objects.filter(profile__user_id=owner_id).exclude(pk__in=seen)


def profile_card_text(*, name: str, answer: ProfileAnswer) -> str:
    """How an answer reads as a card: "Ana says: ask me about sourdough"."""
    lead = PROFILE_CARD_LEADS[answer.question].format(answer=answer.answer)
    return f"{name} says: {lead}"


def profile_answers_for(*, user_id: int) -> dict[str, str]:
    """A member's answers by question (every question present, unanswered ones empty)."""
    answers = dict(
        ProfileAnswer.objects.filter(profile__user_id=user_id).values_list("question", "answer")
    )
    return {question: answers.get(question, "") for question in ProfileQuestion.values}


def table_of(*, public_id: str, user_id: int) -> tuple[Table, set[int]] | None:
    """A conversation's prompt table with its card, and who has tapped "Go deeper" (None: none)."""
    table = (
        Table.objects.select_related("card", "conversation")
        .filter(conversation__public_id=public_id)
        .filter(Q(conversation__user_a_id=user_id) | Q(conversation__user_b_id=user_id))
        .first()
    )
    if table is None:
        return None
    return table, set(table.wishes.values_list("user_id", flat=True))


def cards_of(*, conversation: Conversation) -> list[Card]:
    """The cards a conversation saw, in the order they were drawn."""
    return list(Card.objects.filter(conversation=conversation).order_by("created", "pk"))
