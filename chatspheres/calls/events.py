"""What the calls app tells tabs, as typed events (docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from chatspheres.accounts.selectors import PublicCard
from chatspheres.realtime.protocol import Event


class RecapNote(msgspec.Struct, frozen=True):
    """One of the viewer's own private notes about the partner."""

    text: str
    created: str  # ISO 8601, in the viewer's time zone


class Recap(msgspec.Struct, frozen=True):
    """What the viewer and the partner have shared before, for the viewer's eyes only.

    ``times`` is 0 (and the rest empty) for a first meeting.
    """

    times: int = 0
    last_at: str = ""  # ISO date of their last conversation, in the viewer's time zone
    last_sphere: str = ""
    notes: list[RecapNote] = msgspec.field(default_factory=list)  # newest first


class MatchFound(Event, tag="match.found"):
    """A partner was found; ``polite: false`` means this side makes the offer."""

    conversation: str
    sphere: int
    polite: bool
    partner: PublicCard
    shared_interests: list[str]
    talked_before: int
    ice_servers: list[dict[str, Any]]
    recap: Recap = msgspec.field(default_factory=Recap)
    # Soft start: the partner's video stays blurred until both press "Reveal",
    # or ``reveal_after_seconds`` pass (0 when there is no soft start).
    soft_start: bool = False
    reveal_after_seconds: int = 0
    # "relay" when this side hides its IP address: its browser gathers relay
    # candidates only. ``ice_expires_at``: when the TURN credential in
    # ``ice_servers`` stops working (unix time), 0 without one.
    ice_transport_policy: Literal["all", "relay"] = "all"
    ice_expires_at: int = 0


class CallEnded(Event, tag="call.ended"):
    """The conversation ended; nothing more is relayed for it."""

    conversation: str
    reason: Literal["ended", "next", "left", "disconnected"]
    by_me: bool


class ChatMessage(Event, tag="chat.message"):
    """The partner wrote in the chat."""

    conversation: str
    text: str
    at: datetime


class PartnerAway(Event, tag="call.partner_away"):
    """The partner's connection dropped; the call waits a little for them to come back."""

    conversation: str
    grace_seconds: int


class PartnerBack(Event, tag="call.partner_back"):
    """The partner's connection is back."""

    conversation: str


class PartnerRevealed(Event, tag="call.revealed"):
    """In a soft start, the partner pressed "Reveal"."""

    conversation: str


class CallState(Event, tag="call.state"):
    """The call this tab is in now (None: none), for a tab that missed too much to catch up."""

    logged = False
    conversation: str | None
