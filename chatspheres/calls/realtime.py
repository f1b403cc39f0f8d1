"""Call messages on the socket: signaling relay, chat, talk balance, soft start, ending a call.

The relay is the hot path: it touches no database. The target is never taken
from the client: it is the partner's tab of the sender's own active
conversation, learnt when the match was announced to this tab (or, for a tab
that reconnected, from the database).

A tab whose socket drops does not end its call at once: its partner is told
the connection dropped, and the tab has ``REALTIME_RECONNECT_GRACE_SECONDS``
to come back (on any process) before the call ends as ``disconnected``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Annotated, Literal

import msgspec
from django.conf import settings
from django.utils import timezone
from prometheus_client import Gauge

from chatspheres.calls.events import (
    CallEnded,
    CallState,
    ChatMessage,
    MatchFound,
    PartnerAway,
    PartnerBack,
    PartnerRevealed,
)
from chatspheres.calls.hooks import chat_line_relayed
from chatspheres.calls.models import Conversation
from chatspheres.calls.selectors import access_conversation, active_call_for_tab
from chatspheres.calls.services import (
    conversation_end,
    conversation_end_for_tab,
    conversations_end_orphaned,
    participant_reveal,
    participant_talk_record,
)
from chatspheres.common.errors import NOT_IN_CONVERSATION, TOO_LONG, ApplicationError
from chatspheres.common.events import ToTab, send_event, tab_channel
from chatspheres.matching.provider import matcher_of
from chatspheres.realtime import metrics
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.hub import Envelope
from chatspheres.realtime.protocol import Incoming, Token, text
from chatspheres.realtime.registry import TabClosed, registry
from chatspheres.realtime.runtime import Runtime
from chatspheres.realtime.tab import Tab

logger = logging.getLogger(__name__)

CHAT_MAX_LENGTH = 1000

ACTIVE_CALLS = Gauge(
    "chatspheres_active_calls",
    "Conversations in progress (counted once, by the tab that made the offer)",
    multiprocess_mode="livesum",
)

__all__ = ["CallTab", "MatchFound"]


class Signal(Incoming, tag="signal"):
    """WebRTC signaling for the partner: an SDP description or an ICE candidate."""

    conversation: Token
    # Left undecoded: the server relays the sender's text verbatim and the
    # partner's browser is the one that reads the SDP or candidate.
    data: msgspec.Raw


class MediaState(Incoming, tag="media.state"):
    """Whether the sender's microphone and camera are on, for the partner to show."""

    conversation: Token
    audio: bool
    video: bool


class ChatSend(Incoming, tag="chat.send"):
    """A line of in-call chat."""

    conversation: Token
    text: text(max_length=CHAT_MAX_LENGTH, too_long=TOO_LONG)  # type: ignore[valid-type]


class CallEnd(Incoming, tag="call.end"):
    """End call, or Next."""

    conversation: Token
    reason: Literal["ended", "next"]


# A day of talking: more than any call lasts, so a bigger count is a bad frame.
TalkSeconds = Annotated[float, msgspec.Meta(ge=0, le=86_400)]


class TalkTime(Incoming, tag="talk.time"):
    """The talk balance meter: how many seconds the sender has spoken in the call so far."""

    conversation: Token
    seconds: TalkSeconds


class Reveal(Incoming, tag="reveal"):
    """Soft start: the sender pressed "Reveal"."""

    conversation: Token


@registry.tab_state
@dataclass(slots=True)
class CallTab:
    """The call a tab is in: where its signals go."""

    conversation: str | None = None
    partner_tab: str | None = None
    partner_user: int | None = None
    offerer: bool = False
    # tab_channel(partner_tab), made once per call rather than once per relayed frame.
    partner_channel: str | None = None
    # The speaking seconds this tab last reported (talk.time), saved when it leaves the call.
    talk_seconds: float | None = None

    def enter(self, conversation: str, partner_tab: str, partner_user: int, offerer: bool) -> None:
        if self.conversation is None and offerer:
            ACTIVE_CALLS.inc()
        if conversation != self.conversation:
            self.talk_seconds = None
        self.conversation, self.partner_tab, self.partner_user = (
            conversation,
            partner_tab,
            partner_user,
        )
        self.partner_channel = tab_channel(partner_tab)
        self.offerer = offerer

    def leave(self) -> None:
        if self.conversation is not None and self.offerer:
            ACTIVE_CALLS.dec()
        self.conversation = self.partner_tab = self.partner_user = self.partner_channel = None
        self.offerer = False


# What the tab learns from the events it receives ---------------------------------


def _entered_call(tab: Tab, envelope: Envelope) -> bool:
    conversation, partner_tab, partner_user, role = envelope.meta
    tab.state(CallTab).enter(conversation, partner_tab, int(partner_user), offerer=role == "offer")
    return True


def _left_call(tab: Tab, envelope: Envelope) -> bool:
    state = tab.state(CallTab)
    if state.conversation == envelope.meta[0]:
        if state.talk_seconds is not None:
            tab.runtime.keep(
                asyncio.ensure_future(_save_talk(tab, state.conversation, state.talk_seconds))
            )
        state.leave()
    return True


async def _save_talk(tab: Tab, conversation: str, seconds: float | None) -> None:
    """Save the talk seconds this tab last reported for a call it is leaving."""
    if seconds is None:
        return
    try:
        await run_in_db(
            participant_talk_record, public_id=conversation, user_id=tab.user_id, seconds=seconds
        )
    except Exception:
        # The balance is a nicety: losing it must not disturb the call's ending.
        logger.warning("could not save the talk balance of tab %s", tab.id, exc_info=True)


def _for_this_call(tab: Tab, envelope: Envelope) -> bool:
    # Relayed frames and news of the partner reach the tab only while it is
    # still in that conversation.
    return tab.state(CallTab).conversation == envelope.meta[0]


registry.observe(MatchFound, _entered_call)
registry.observe(CallEnded, _left_call)
for relayed in (
    "signal",
    "media.state",
    "talk.time",
    ChatMessage,
    PartnerAway,
    PartnerBack,
    PartnerRevealed,
):
    registry.observe(relayed, _for_this_call)


# The relay ------------------------------------------------------------------------

_relay_decoder = msgspec.json.Decoder(Signal | MediaState)


@registry.relay_lane
def relay_now(tab: Tab, frame: str) -> bool:
    """Relay a signal or media state at once, from uvicorn's callback; False declines.

    Only a frame the ordinary route would relay without a word is taken here:
    anything else (another type, a bad frame, a conversation that is not this
    tab's, a partner who cannot take it right now) is declined and reaches
    :func:`relay_to_partner` as usual.
    """
    state = tab.state(CallTab)
    channel = state.partner_channel
    if channel is None:
        return False
    try:
        message = _relay_decoder.decode(frame)
    except msgspec.MsgspecError:
        return False
    if message.conversation != state.conversation:
        return False
    kind = "signal" if type(message) is Signal else "media.state"
    return tab.hub.publish_now(channel, Envelope(frame, kind, (message.conversation,)))


def _partner_tab(tab: Tab, conversation: str) -> tuple[int, str]:
    state = tab.state(CallTab)
    if (
        conversation != state.conversation
        or state.partner_tab is None
        or state.partner_user is None
    ):
        raise ApplicationError(code=NOT_IN_CONVERSATION)
    return state.partner_user, state.partner_tab


@registry.message(Signal)
@registry.message(MediaState)
async def relay_to_partner(tab: Tab, message: Signal | MediaState, frame: str) -> None:
    """Pass a signal or media state, verbatim, to the partner's tab."""
    _user, partner_tab = _partner_tab(tab, message.conversation)
    kind = "signal" if type(message) is Signal else "media.state"
    await tab.hub.publish(tab_channel(partner_tab), Envelope(frame, kind, (message.conversation,)))
    metrics.relays.pending += 1  # the relay lane counts its own (Tab.receive_now)


@registry.message(ChatSend)
async def chat_send(tab: Tab, message: ChatSend, _frame: str) -> None:
    """Pass a chat line to the partner, stamped with the server's time (kept for catch-up)."""
    partner_user, partner_tab = _partner_tab(tab, message.conversation)
    at = timezone.now()
    await send_event(
        ChatMessage(conversation=message.conversation, text=message.text, at=at),
        to=ToTab(partner_user, partner_tab),
        meta=(message.conversation,),
    )
    await chat_line_relayed(
        tab.runtime,
        conversation=message.conversation,
        user_id=tab.user_id,
        text=message.text,
        at=at,
    )


def _end_by_participant(*, user_id: int, public_id: str, reason: str) -> Conversation | None:
    conversation = access_conversation(user_id=user_id, public_id=public_id)
    if conversation_end(conversation=conversation, by_user_id=user_id, reason=reason):
        return conversation
    return None


@registry.message(CallEnd)
async def call_end(tab: Tab, message: CallEnd, _frame: str) -> None:
    """End the call (End call or Next); both tabs hear of it once it is saved."""
    state = tab.state(CallTab)
    talk_seconds = None
    if message.conversation == state.conversation:
        talk_seconds = state.talk_seconds
        # Stop relaying from this side at once, before the database answers.
        state.leave()
    ended = await run_in_db(
        _end_by_participant,
        user_id=tab.user_id,
        public_id=message.conversation,
        reason=message.reason,
    )
    await _save_talk(tab, message.conversation, talk_seconds)
    if ended is not None:
        await matcher_of(tab.runtime).note_parted(ended.user_a_id, ended.user_b_id)


@registry.message(TalkTime)
async def talk_time(tab: Tab, message: TalkTime, frame: str) -> None:
    """Pass the sender's talk count, verbatim, to the partner's tab; kept to save at the end."""
    _user, partner_tab = _partner_tab(tab, message.conversation)
    tab.state(CallTab).talk_seconds = message.seconds
    await tab.hub.publish(
        tab_channel(partner_tab), Envelope(frame, "talk.time", (message.conversation,))
    )


@registry.message(Reveal)
async def reveal(tab: Tab, message: Reveal, _frame: str) -> None:
    """Soft start: save that this side revealed; the partner's tab is told (call.revealed)."""
    _partner_tab(tab, message.conversation)
    await run_in_db(participant_reveal, public_id=message.conversation, user_id=tab.user_id)


# Tabs that go away, and come back -------------------------------------------------


@registry.on_tab_closed
async def tab_closed(tab: Tab, how: TabClosed) -> None:
    """A dropped socket: tell the partner to hold on. (A closed tab ends its call: tab_ended.)"""
    state = tab.state(CallTab)
    conversation, partner_user, partner_tab = (
        state.conversation,
        state.partner_user,
        state.partner_tab,
    )
    talk_seconds = state.talk_seconds
    state.leave()
    if conversation:
        await _save_talk(tab, conversation, talk_seconds)
    if how is TabClosed.LOST and conversation and partner_user and partner_tab:
        await send_event(
            PartnerAway(
                conversation=conversation,
                grace_seconds=round(settings.REALTIME_RECONNECT_GRACE_SECONDS),
            ),
            to=ToTab(partner_user, partner_tab),
            meta=(conversation,),
        )


@registry.on_tab_ended
async def tab_ended(runtime: Runtime, tab: str, _user: int, why: str) -> None:
    """A tab that is gone for good ends the call it was in: "left", or "disconnected"."""
    reason = Conversation.EndReason.LEFT if why == "left" else Conversation.EndReason.DISCONNECTED
    ended = await run_in_db(conversation_end_for_tab, tab=tab, reason=reason)
    if ended is not None:
        await matcher_of(runtime).note_parted(ended.user_a_id, ended.user_b_id)


@registry.on_tab_resumed
async def tab_resumed(tab: Tab) -> None:
    """A tab that came back picks up its call where it was, and its partner hears it is back."""
    found = await run_in_db(active_call_for_tab, tab=tab.id)
    if found is None:
        return
    conversation, partner = found
    partner_user, partner_tab = partner.user_id, partner.tab
    # A (who waited, or called) makes the offer: see conversation_start.
    offerer = conversation.user_a_id == tab.user_id
    tab.state(CallTab).enter(conversation.public_id, partner_tab, partner_user, offerer=offerer)
    await send_event(
        PartnerBack(conversation=conversation.public_id),
        to=ToTab(partner_user, partner_tab),
        meta=(conversation.public_id,),
    )


@registry.on_tab_resync
async def tab_resync(tab: Tab) -> None:
    """A tab that missed too much learns which call (if any) it is still in."""
    await tab.send(CallState(conversation=tab.state(CallTab).conversation))


@registry.on_tabs_lost
async def tabs_lost(runtime: Runtime, tabs: list[tuple[str, int]]) -> None:
    """Tabs lost with a process that died: tell their partners to hold on."""
    for tab, _user in tabs:
        found = await run_in_db(active_call_for_tab, tab=tab)
        if found is None:
            continue
        conversation, partner_side = found
        partner = ToTab(partner_side.user_id, partner_side.tab)
        await send_event(
            PartnerAway(
                conversation=conversation.public_id,
                grace_seconds=round(settings.REALTIME_RECONNECT_GRACE_SECONDS),
            ),
            to=partner,
            meta=(conversation.public_id,),
        )


@registry.on_startup
async def end_orphans(runtime: Runtime) -> None:
    """A lone process starting anew: every conversation still active lost its sockets."""
    if runtime.single_process:
        ended = await run_in_db(conversations_end_orphaned)
        if ended:
            logger.info("ended %s conversations left open by the last run", ended)


@registry.on_shutdown
async def end_all(runtime: Runtime) -> None:
    """A lone process stopping: nobody can come back to its calls, so they end now."""
    if runtime.single_process:
        await run_in_db(conversations_end_orphaned)
