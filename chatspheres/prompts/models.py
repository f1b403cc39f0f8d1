"""Prompts: decks of conversation prompts, the card two people share in a call, and profile prompts.

A *deck* is either the house deck (every conversation draws from it) or one
sphere's own deck. A *card* is a prompt (or a partner's profile answer) shown
to both people of a conversation; every card drawn is kept with the
conversation, and a pair never draws a prompt it has already seen together.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from chatspheres.common.models import BaseModel

PROMPT_MAX_LENGTH = 240
PROFILE_ANSWER_MAX_LENGTH = 120
# How many of the fixed profile prompts a member may answer.
PROFILE_ANSWERS_MAX = 3


class Depth(models.IntegerChoices):
    """How personal a prompt is; a call starts at the warm-up and goes deeper only by consent."""

    WARM_UP = 1, "Warm-up"
    DEEPER = 2, "Deeper"
    PERSONAL = 3, "Personal"


class Deck(BaseModel):
    """The house deck (``house``), or the deck of one sphere."""

    name = models.CharField(max_length=80)
    house = models.BooleanField(default=False, help_text="The deck every conversation draws from.")
    sphere = models.OneToOneField(
        "spheres.Sphere",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="prompt_deck",
        help_text="The sphere whose conversations also draw from this deck.",
    )

    class Meta:
        ordering = ["-house", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["house"], condition=Q(house=True), name="one_house_deck"
            ),
            # A deck is the house's or one sphere's, never both, never neither.
            models.CheckConstraint(
                condition=(Q(house=True) & Q(sphere__isnull=True))
                | (Q(house=False) & Q(sphere__isnull=False)),
                name="deck_is_house_or_sphere",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Prompt(BaseModel):
    """An open question or a story invitation, at one depth."""

    deck = models.ForeignKey(Deck, on_delete=models.CASCADE, related_name="prompts")
    text = models.CharField(max_length=PROMPT_MAX_LENGTH)
    depth = models.PositiveSmallIntegerField(choices=Depth.choices, default=Depth.WARM_UP)
    # Retired prompts are never drawn again, but stay in the history of the
    # conversations that saw them.
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["deck", "depth", "text"]
        constraints = [
            models.UniqueConstraint(fields=["deck", "text"], name="prompt_once_per_deck"),
        ]
        indexes = [models.Index(fields=["deck", "depth"], name="prompt_deck_depth")]

    def __str__(self) -> str:
        return self.text


class ProfileQuestion(models.TextChoices):
    """The fixed profile prompts a member may answer (up to PROFILE_ANSWERS_MAX)."""

    ASK_ME_ABOUT = "ask_me_about", "Ask me about…"
    LEARNING = "learning", "Lately I've been learning…"
    LOVE_BEING_ASKED = "love_being_asked", "A question I love being asked…"
    CHANGED_MIND = "changed_mind", "Something I changed my mind about…"
    SMALL_JOY = "small_joy", "A small thing that makes my day…"


# How an answer reads on a card: "Ana says: ask me about sourdough".
PROFILE_CARD_LEADS: dict[str, str] = {
    ProfileQuestion.ASK_ME_ABOUT: "ask me about {answer}",
    ProfileQuestion.LEARNING: "lately I've been learning {answer}",
    ProfileQuestion.LOVE_BEING_ASKED: "a question I love being asked: {answer}",
    ProfileQuestion.CHANGED_MIND: "something I changed my mind about: {answer}",
    ProfileQuestion.SMALL_JOY: "a small thing that makes my day: {answer}",
}


class ProfileAnswer(BaseModel):
    """A member's answer to one of the fixed profile prompts, shown on their partner card."""

    profile = models.ForeignKey(
        "accounts.Profile", on_delete=models.CASCADE, related_name="prompt_answers"
    )
    question = models.CharField(max_length=20, choices=ProfileQuestion.choices)
    answer = models.CharField(max_length=PROFILE_ANSWER_MAX_LENGTH)

    class Meta:
        ordering = ["created", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["profile", "question"], name="one_answer_per_question"),
        ]

    def __str__(self) -> str:
        return f"{self.get_question_display()} {self.answer}"


class Table(BaseModel):
    """The prompts of one conversation: its depth now, and the card both people see.

    Made with the first prompt drawn. ``Wish`` rows are the "Go deeper" taps
    not yet answered by the other person.
    """

    conversation = models.OneToOneField(
        "calls.Conversation", on_delete=models.CASCADE, related_name="prompt_table"
    )
    depth = models.PositiveSmallIntegerField(choices=Depth.choices, default=Depth.WARM_UP)
    card = models.ForeignKey(
        "Card", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"prompts of {self.conversation_id}"


class Wish(BaseModel):
    """One person tapped "Go deeper"; the depth rises once both have (then the wishes go)."""

    table = models.ForeignKey(Table, on_delete=models.CASCADE, related_name="wishes")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["table", "user"], name="one_wish_per_person"),
        ]


class Card(BaseModel):
    """A card shown to both people of a conversation, kept with it.

    ``pair_low``/``pair_high`` are the two people's ids in order, so that "has
    this pair seen this prompt?" is one indexed look-up across all their
    conversations.
    """

    class Source(models.TextChoices):
        DECK = "deck", "From a deck"
        PROFILE = "profile", "A partner's profile answer"

    class How(models.TextChoices):
        DRAW = "draw", "Draw a prompt"
        PASS = "pass", "Pass"
        DEEPER = "deeper", "Went deeper"

    conversation = models.ForeignKey(
        "calls.Conversation", on_delete=models.CASCADE, related_name="prompt_cards"
    )
    pair_low = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    pair_high = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    drawn_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.DECK)
    how = models.CharField(max_length=8, choices=How.choices, default=How.DRAW)
    prompt = models.ForeignKey(
        Prompt, on_delete=models.SET_NULL, null=True, blank=True, related_name="cards"
    )
    profile_answer = models.ForeignKey(
        ProfileAnswer, on_delete=models.SET_NULL, null=True, blank=True, related_name="cards"
    )
    # The words as both people saw them, kept even if the prompt is edited later.
    text = models.CharField(max_length=PROMPT_MAX_LENGTH + 80)
    depth = models.PositiveSmallIntegerField(choices=Depth.choices, default=Depth.WARM_UP)

    class Meta:
        ordering = ["created", "pk"]
        indexes = [
            models.Index(fields=["pair_low", "pair_high", "prompt"], name="card_pair_prompt"),
            models.Index(fields=["conversation", "created"], name="card_conversation"),
        ]

    def __str__(self) -> str:
        return self.text
