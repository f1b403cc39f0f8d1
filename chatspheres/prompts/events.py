"""What the prompts app tells the two tabs of a call, as typed events (docs/protocol.md)."""

from __future__ import annotations

from typing import Literal

from chatspheres.realtime.protocol import Event


class PromptCard(Event, tag="prompt.card"):
    """The card both people see now: the same words on both screens."""

    conversation: str
    text: str
    depth: int  # 1 warm-up, 2 deeper, 3 personal
    source: Literal["deck", "profile"]
    how: Literal["draw", "pass", "deeper"]
    by_me: bool  # this side drew it (or passed)


class PromptDepth(Event, tag="prompt.depth"):
    """Who has tapped "Go deeper" so far, and the depth now (``rose``: both had, it went up)."""

    conversation: str
    depth: int
    you_want: bool
    partner_wants: bool
    rose: bool
