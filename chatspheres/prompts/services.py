"""Writes for prompts: drawing and passing a card, going deeper together, profile answers, decks."""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from django.db import transaction

from chatspheres.accounts.services import profiles_ensure
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import (
    BAD_ANSWER,
    DECK_EMPTY,
    DEEPEST,
    TOO_MANY_ANSWERS,
    ApplicationError,
)
from chatspheres.common.events import ToTab, send_event_on_commit
from chatspheres.prompts.events import PromptCard, PromptDepth
from chatspheres.prompts.models import (
    PROFILE_ANSWER_MAX_LENGTH,
    PROFILE_ANSWERS_MAX,
    Card,
    Deck,
    Depth,
    ProfileAnswer,
    ProfileQuestion,
    Prompt,
    Table,
    Wish,
)
from chatspheres.prompts.selectors import (
    access_active_call,
    drawable_prompts,
    pair_of,
    profile_card_text,
    unseen_profile_answers,
)
from chatspheres.prompts.shipped import HOUSE_DECK_NAME, HOUSE_PROMPTS, SPHERE_PROMPTS
from chatspheres.spheres.models import Sphere


def _locked_table(conversation: Conversation) -> Table:
    # The conversation's row is the lock: two taps at once (one from each
    # side) are decided one after the other.
    Conversation.objects.select_for_update().filter(pk=conversation.pk).first()
    table, _created = Table.objects.select_related("card").get_or_create(conversation=conversation)
    return table


def _sides(conversation: Conversation) -> list[ToTab]:
    return [ToTab(side.user_id, side.tab) for side in conversation.participants.all()]


def _new_card(
    *, conversation: Conversation, table: Table, drawn_by_id: int, how: str
) -> Card | None:
    """Put a fresh card on the table (None when nothing is left to draw), and tell both tabs."""
    low, high = pair_of(conversation)
    card: Card | None = None
    if how == Card.How.DRAW and table.card_id is None and table.depth == Depth.WARM_UP:
        # The opening card may be something the partner said on their profile.
        partner_id = conversation.partner_of(drawn_by_id)
        answer = (
            unseen_profile_answers(conversation=conversation, owner_id=partner_id)
            .select_related("profile")
            .first()
        )
        if answer is not None:
            card = Card(
                source=Card.Source.PROFILE,
                profile_answer=answer,
                text=profile_card_text(name=answer.profile.display_name, answer=answer),
            )
    if card is None:
        choices = list(
            drawable_prompts(conversation=conversation, depth=table.depth).values_list("pk", "text")
        )
        if not choices:
            return None
        prompt_id, text = secrets.choice(choices)
        card = Card(source=Card.Source.DECK, prompt_id=prompt_id, text=text)
    card.conversation = conversation
    card.pair_low_id, card.pair_high_id = low, high
    card.drawn_by_id = drawn_by_id
    card.how = how
    card.depth = table.depth
    card.save()
    table.card = card
    table.save(update_fields=["card", "updated"])
    for side in _sides(conversation):
        send_event_on_commit(
            PromptCard(
                conversation=conversation.public_id,
                text=card.text,
                depth=card.depth,
                source=card.source,  # type: ignore[arg-type]
                how=card.how,  # type: ignore[arg-type]
                by_me=side.user == drawn_by_id,
            ),
            to=side,
            meta=(conversation.public_id,),
        )
    return card


@transaction.atomic
def prompt_draw(*, user_id: int, tab: str, public_id: str, passing: bool = False) -> Card:
    """Draw a card for both people of the call ("Draw a prompt"; "Pass" draws at the same depth)."""
    conversation = access_active_call(user_id=user_id, tab=tab, public_id=public_id)
    table = _locked_table(conversation)
    how = Card.How.PASS if passing else Card.How.DRAW
    card = _new_card(conversation=conversation, table=table, drawn_by_id=user_id, how=how)
    if card is None:
        raise ApplicationError(code=DECK_EMPTY)
    return card


@transaction.atomic
def prompt_go_deeper(*, user_id: int, tab: str, public_id: str) -> Table:
    """One person's "Go deeper": the depth rises only once both have tapped, then taps reset."""
    conversation = access_active_call(user_id=user_id, tab=tab, public_id=public_id)
    table = _locked_table(conversation)
    if table.depth >= Depth.PERSONAL:
        raise ApplicationError(code=DEEPEST)
    Wish.objects.get_or_create(table=table, user_id=user_id)
    wishing = set(table.wishes.values_list("user_id", flat=True))
    rose = {conversation.user_a_id, conversation.user_b_id} <= wishing
    if rose:
        table.depth += 1
        table.save(update_fields=["depth", "updated"])
        table.wishes.all().delete()
        wishing = set()
    for side in _sides(conversation):
        partner_id = conversation.partner_of(side.user)
        send_event_on_commit(
            PromptDepth(
                conversation=conversation.public_id,
                depth=table.depth,
                you_want=side.user in wishing,
                partner_wants=partner_id in wishing,
                rose=rose,
            ),
            to=side,
            meta=(conversation.public_id,),
        )
    if rose:
        # Going deeper together deals the first deeper card (if any is left).
        _new_card(conversation=conversation, table=table, drawn_by_id=user_id, how=Card.How.DEEPER)
    return table


@transaction.atomic
def profile_answers_set(*, user_id: int, answers: Mapping[str, str]) -> list[ProfileAnswer]:
    """Replace a member's profile prompt answers; a blank answer removes that one."""
    cleaned = {
        question: " ".join(answer.split()) for question, answer in answers.items() if answer.strip()
    }
    for question, answer in cleaned.items():
        if question not in ProfileQuestion.values or len(answer) > PROFILE_ANSWER_MAX_LENGTH:
            raise ApplicationError(code=BAD_ANSWER)
    if len(cleaned) > PROFILE_ANSWERS_MAX:
        raise ApplicationError(code=TOO_MANY_ANSWERS)
    profile = profiles_ensure(user_ids=[user_id])[user_id]
    ProfileAnswer.objects.filter(profile=profile).exclude(question__in=cleaned).delete()
    for question, answer in cleaned.items():
        ProfileAnswer.objects.update_or_create(
            profile=profile, question=question, defaults={"answer": answer}
        )
    return list(ProfileAnswer.objects.filter(profile=profile))


@transaction.atomic
def prompts_load_shipped() -> int:
    """Make the house deck and the demo spheres' decks with the shipped prompts; safe to rerun.

    A prompt already there (even one retired in the admin) is left as it is;
    a demo sphere that does not exist gets no deck. Returns how many prompts
    were added.
    """
    added = 0
    house, _ = Deck.objects.get_or_create(house=True, defaults={"name": HOUSE_DECK_NAME})
    decks: list[tuple[Deck, list[tuple[int, str]]]] = [(house, HOUSE_PROMPTS)]
    for sphere in Sphere.objects.filter(slug__in=SPHERE_PROMPTS):
        deck, _ = Deck.objects.get_or_create(sphere=sphere, defaults={"name": sphere.name})
        decks.append((deck, SPHERE_PROMPTS[sphere.slug]))
    for deck, prompts in decks:
        have = set(Prompt.objects.filter(deck=deck).values_list("text", flat=True))
        fresh = [Prompt(deck=deck, depth=depth, text=text) for depth, text in prompts]
        fresh = [prompt for prompt in fresh if prompt.text not in have]
        Prompt.objects.bulk_create(fresh)
        added += len(fresh)
    return added
