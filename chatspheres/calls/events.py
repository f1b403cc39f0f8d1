"""What the calls app tells tabs, as typed events (docs/protocol.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from chatspheres.accounts.selectors import PublicCard
from chatspheres.realtime.protocol import Event


class MatchFound(Event, tag="match.found"):
    """A partner was found; ``polite: false`` means this side makes the offer."""

    conversation: str
    sphere: int
    polite: bool
    partner: PublicCard
    shared_interests: list[str]
    talked_before: int
    ice_servers: list[dict[str, Any]]


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


class CallState(Event, tag="call.state"):
    """The call this tab is in now (None: none), for a tab that missed too much to catch up."""

    logged = False
    conversation: str | None
