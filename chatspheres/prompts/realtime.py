"""Prompt messages on the socket: draw a card, pass it, go deeper.

The conversation named by the client goes through ``access_active_call`` (the
calls app's check, then: this member's tab in this call, while it is on), so
only the two people of an active conversation can act on its prompts. Cards
and depth changes reach both tabs once they are saved.
"""

from __future__ import annotations

from chatspheres.calls.realtime import CallTab
from chatspheres.prompts.events import PromptCard, PromptDepth
from chatspheres.prompts.selectors import table_of
from chatspheres.prompts.services import prompt_draw, prompt_go_deeper
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Envelope
from chatspheres.realtime.protocol import Incoming, Token
from chatspheres.realtime.registry import registry
from chatspheres.realtime.tab import Tab


class PromptDraw(Incoming, tag="prompt.draw"):
    """The "Draw a prompt" button: a card for both people of the call."""

    conversation: Token


class PromptPass(Incoming, tag="prompt.pass"):
    """The "Pass" button: another card at the same depth."""

    conversation: Token


class PromptDeeper(Incoming, tag="prompt.deeper"):
    """The "Go deeper" button: the depth rises once both people have tapped it."""

    conversation: Token


def _for_this_call(tab: Tab, envelope: Envelope) -> bool:
    # A tab that has left the call (Next, End call) hears nothing more of its cards.
    return tab.state(CallTab).conversation == envelope.meta[0]


registry.observe(PromptCard, _for_this_call)
registry.observe(PromptDepth, _for_this_call)


@registry.on_tab_resync
async def tab_resync(tab: Tab) -> None:
    """A tab that missed too much to catch up is shown its call's depth and card again."""
    conversation = tab.state(CallTab).conversation
    if conversation is None:
        return
    found = await run_in_db(table_of, public_id=conversation, user_id=tab.user_id)
    if found is None:
        return
    table, wishing = found
    partner = table.conversation.partner_of(tab.user_id)
    card = table.card
    if card is not None:
        await tab.send(
            PromptCard(
                conversation=conversation,
                text=card.text,
                depth=card.depth,
                source=card.source,  # type: ignore[arg-type]
                how=card.how,  # type: ignore[arg-type]
                by_me=card.drawn_by_id == tab.user_id,
            )
        )
    # After the card: the depth may be above the card's, when nothing was left to deal.
    await tab.send(
        PromptDepth(
            conversation=conversation,
            depth=table.depth,
            you_want=tab.user_id in wishing,
            partner_wants=partner in wishing,
            rose=False,
        )
    )


@registry.message(PromptDraw)
@registry.message(PromptPass)
async def draw(tab: Tab, message: PromptDraw | PromptPass, _frame: str) -> None:
    """Draw (or pass to) a card; both tabs are sent it once it is saved."""
    await run_in_db(
        prompt_draw,
        user_id=tab.user_id,
        tab=tab.id,
        public_id=message.conversation,
        passing=type(message) is PromptPass,
    )


@registry.message(PromptDeeper)
async def go_deeper(tab: Tab, message: PromptDeeper, _frame: str) -> None:
    """Count this person's "Go deeper"; both tabs hear who wants to, and the depth."""
    await run_in_db(
        prompt_go_deeper, user_id=tab.user_id, tab=tab.id, public_id=message.conversation
    )
