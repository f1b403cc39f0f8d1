"""Drawing prompts in a call: the same card for both, Pass, going deeper together, no repeats."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.common.errors import ApplicationError
from chatspheres.common.events import Captured, ToTab
from chatspheres.prompts.events import PromptCard, PromptDepth
from chatspheres.prompts.models import Card, Deck, Depth, Prompt, Table
from chatspheres.prompts.selectors import cards_of
from chatspheres.prompts.services import (
    profile_answers_set,
    prompt_draw,
    prompt_go_deeper,
    prompts_load_shipped,
)
from chatspheres.prompts.shipped import HOUSE_PROMPTS, SPHERE_PROMPTS
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_upsert
from tests.conftest import make_member

pytestmark = pytest.mark.django_db


def start(sphere: Sphere, a: Any, b: Any, n: int = 0) -> Conversation:
    return conversation_start(
        sphere_id=sphere.pk,
        a_user_id=a.pk,
        a_tab=f"tab-a{n}",
        b_user_id=b.pk,
        b_tab=f"tab-b{n}",
        shared_interests=[],
    )


def draw(conversation: Conversation, user: Any, *, passing: bool = False) -> Card:
    tab = conversation.participants.get(user=user).tab
    return prompt_draw(user_id=user.pk, tab=tab, public_id=conversation.public_id, passing=passing)


def deeper(conversation: Conversation, user: Any) -> Table:
    tab = conversation.participants.get(user=user).tab
    return prompt_go_deeper(user_id=user.pk, tab=tab, public_id=conversation.public_id)


@pytest.fixture
def pair(sphere: Sphere) -> tuple[Any, Any]:
    prompts_load_shipped()
    return make_member("ana@example.com", name="Ana"), make_member("ben@example.com", name="Ben")


def test_shipped_decks_hold_at_least_60_open_prompts_over_three_depths_and_load_once(
    sphere: Sphere,
) -> None:
    everything = HOUSE_PROMPTS + [p for deck in SPHERE_PROMPTS.values() for p in deck]
    assert len(everything) >= 60
    assert {depth for depth, _text in everything} == {1, 2, 3}
    yes_no = ("do ", "did ", "are ", "is ", "have ", "has ", "would ", "can ", "will ", "could ")
    assert [text for _d, text in everything if text.lower().startswith(yes_no)] == []
    assert len({text for _d, text in everything}) == len(everything)

    added = prompts_load_shipped()
    # The house deck and Book Club's (the only demo sphere here).
    assert added == len(HOUSE_PROMPTS) + len(SPHERE_PROMPTS["book-club"])
    assert prompts_load_shipped() == 0
    assert Deck.objects.count() == 2
    assert Deck.objects.get(sphere=sphere).prompts.count() == len(SPHERE_PROMPTS["book-club"])


def test_load_demo_makes_a_deck_for_every_demo_sphere(db: None) -> None:
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Deck.objects.filter(sphere__isnull=False).count() == len(SPHERE_PROMPTS)
    call_command("load_demo", stdout=open("/dev/null", "w"))  # noqa: SIM115
    assert Prompt.objects.count() == len(HOUSE_PROMPTS) + sum(map(len, SPHERE_PROMPTS.values()))


def test_a_draw_shows_the_same_card_to_both_tabs_and_is_kept_with_the_conversation(
    sphere: Sphere, pair: tuple[Any, Any], sent_events: Captured
) -> None:
    ana, ben = pair
    conversation = start(sphere, ana, ben)
    card = draw(conversation, ana)
    to_ana = [e for e in sent_events.to(ToTab(ana.pk, "tab-a0")) if isinstance(e, PromptCard)]
    to_ben = [e for e in sent_events.to(ToTab(ben.pk, "tab-b0")) if isinstance(e, PromptCard)]
    assert [(e.text, e.depth, e.by_me) for e in to_ana] == [(card.text, 1, True)]
    assert [(e.text, e.depth, e.by_me) for e in to_ben] == [(card.text, 1, False)]
    assert card.depth == Depth.WARM_UP and card.prompt is not None
    assert cards_of(conversation=conversation) == [card]


def test_pass_draws_another_card_at_the_same_depth(
    sphere: Sphere, pair: tuple[Any, Any], sent_events: Captured
) -> None:
    ana, ben = pair
    conversation = start(sphere, ana, ben)
    first = draw(conversation, ana)
    second = draw(conversation, ben, passing=True)
    assert second.text != first.text
    assert second.depth == first.depth == 1
    assert second.how == Card.How.PASS
    assert Table.objects.get(conversation=conversation).card == second
    assert [e.event.how for e in sent_events.of_type(PromptCard)] == ["draw"] * 2 + ["pass"] * 2


def test_going_deeper_needs_both_and_the_taps_reset_after_a_rise(
    sphere: Sphere, pair: tuple[Any, Any], sent_events: Captured
) -> None:
    ana, ben = pair
    conversation = start(sphere, ana, ben)
    card = draw(conversation, ana)

    table = deeper(conversation, ana)
    assert table.depth == Depth.WARM_UP
    told = {e.targets[0].user: e.event for e in sent_events.of_type(PromptDepth)}
    assert (told[ana.pk].you_want, told[ana.pk].partner_wants, told[ana.pk].rose) == (
        True,
        False,
        False,
    )
    assert (told[ben.pk].you_want, told[ben.pk].partner_wants) == (False, True)
    # Tapping again changes nothing; the card stays.
    assert deeper(conversation, ana).depth == Depth.WARM_UP
    assert Table.objects.get(conversation=conversation).card == card

    table = deeper(conversation, ben)
    assert table.depth == Depth.DEEPER
    last = {e.targets[0].user: e.event for e in sent_events.of_type(PromptDepth)}
    assert last[ana.pk].rose and last[ben.pk].rose
    assert not (last[ana.pk].you_want or last[ana.pk].partner_wants)
    # A deeper card is dealt at once.
    assert Table.objects.get(conversation=conversation).card.depth == Depth.DEEPER

    # The taps were reset: one more tap alone does not rise again.
    assert deeper(conversation, ben).depth == Depth.DEEPER
    assert deeper(conversation, ana).depth == Depth.PERSONAL
    with pytest.raises(ApplicationError) as refused:
        deeper(conversation, ana)
    assert refused.value.code == "deepest"


def test_a_pair_never_sees_a_prompt_twice_across_their_conversations(
    sphere: Sphere, pair: tuple[Any, Any]
) -> None:
    ana, ben = pair
    cleo = make_member("cleo@example.com", name="Cleo")
    warm_ups = Prompt.objects.filter(depth=1).count()
    seen: list[str] = []
    conversation = start(sphere, ana, ben)
    for n in range(warm_ups):
        if n == warm_ups // 2:
            # A new conversation of the same pair carries on where they were.
            conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
            conversation = start(sphere, ben, ana, n=1)
        seen.append(draw(conversation, ana if n % 2 else ben, passing=n % 3 == 0).text)
    assert len(set(seen)) == warm_ups
    with pytest.raises(ApplicationError) as refused:
        draw(conversation, ana)
    assert refused.value.code == "deck_empty"

    # Someone else meeting Ana draws from the whole deck again.
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    with_cleo = start(sphere, cleo, ana, n=2)
    assert draw(with_cleo, cleo).depth == 1


def test_another_spheres_deck_is_never_drawn(pair: tuple[Any, Any], sphere: Sphere) -> None:
    ana, ben = pair
    travel = sphere_upsert(
        slug="travel-stories", name="Travel Stories", tagline="", description="Trips."
    )
    prompts_load_shipped()
    travel_texts = set(Prompt.objects.filter(deck__sphere=travel).values_list("text", flat=True))
    assert travel_texts
    conversation = start(sphere, ana, ben)
    drawn: set[str] = set()
    for depth in (1, 2, 3):
        while True:
            try:
                drawn.add(draw(conversation, ana).text)
            except ApplicationError as refusal:
                assert refusal.code == "deck_empty"
                break
        if depth < 3:
            deeper(conversation, ana)
            deeper(conversation, ben)
            drawn.add(Table.objects.get(conversation=conversation).card.text)
    assert drawn.isdisjoint(travel_texts)
    book_club = set(Prompt.objects.filter(deck__sphere=sphere).values_list("text", flat=True))
    assert book_club <= drawn  # the sphere's own deck is drawn from, with the house deck


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(taps=st.lists(st.sampled_from(["ana", "ben"]), max_size=8))
def test_the_depth_is_one_more_for_each_time_both_had_tapped(
    sphere: Sphere, pair: tuple[Any, Any], taps: list[str]
) -> None:
    ana, ben = pair
    Conversation.objects.active().update(state=Conversation.State.ENDED)
    conversation = start(sphere, ana, ben)
    people = {"ana": ana, "ben": ben}
    expected, waiting = 1, set()
    for who in taps:
        if expected == 3:
            break
        waiting.add(who)
        if waiting == {"ana", "ben"}:
            expected, waiting = expected + 1, set()
        assert deeper(conversation, people[who]).depth == expected


def test_only_the_two_people_of_an_active_call_in_their_call_tab_can_draw(
    sphere: Sphere, pair: tuple[Any, Any]
) -> None:
    ana, ben = pair
    cleo = make_member("cleo@example.com", name="Cleo")
    conversation = start(sphere, ana, ben)
    for user_id, tab in ((cleo.pk, "tab-c"), (ana.pk, "another-tab-of-ana")):
        for act in (prompt_draw, prompt_go_deeper):
            with pytest.raises(ApplicationError) as refused:
                act(user_id=user_id, tab=tab, public_id=conversation.public_id)
            assert refused.value.code == "not_in_conversation"
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    with pytest.raises(ApplicationError) as refused:
        draw(conversation, ana)
    assert refused.value.code == "not_in_conversation"
    assert not Card.objects.exists()


def test_the_first_card_may_be_the_partners_profile_answer_once_per_pair(
    sphere: Sphere, pair: tuple[Any, Any], sent_events: Captured
) -> None:
    ana, ben = pair
    profile_answers_set(user_id=ana.pk, answers={"ask_me_about": "sourdough"})
    conversation = start(sphere, ana, ben)
    first = draw(conversation, ben)
    assert first.text == "Ana says: ask me about sourdough"
    assert first.source == Card.Source.PROFILE
    assert {e.event.text for e in sent_events.of_type(PromptCard)} == {first.text}
    # Only as the opening card, and never again for this pair.
    assert draw(conversation, ben).source == Card.Source.DECK
    conversation_end(conversation=conversation, by_user_id=ana.pk, reason="ended")
    again = start(sphere, ana, ben, n=1)
    assert draw(again, ben).source == Card.Source.DECK
