"""Where other apps plug into calls, so calls never imports them.

- ``conversation_started`` and ``conversation_rated`` are sent inside the
  service's transaction (a receiver that fails undoes the change);
- the recap shown on a partner card comes from the provider registered with
  :func:`recap_provider_register` (the connections app's, once it is ready);
- every chat line relayed is offered to the listeners registered with
  :func:`chat_listener_register` (the safety app's short-lived report buffer);
- every pairing is first put to the checks registered with
  :func:`pairing_check_register` (the safety app's blocks), inside the
  transaction that would start the conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from django.dispatch import Signal

from chatspheres.calls.events import Recap

if TYPE_CHECKING:
    from chatspheres.realtime.runtime import Runtime

logger = logging.getLogger(__name__)

# Both sent with sender=Conversation; kwargs: conversation, and user_id for a rating.
conversation_started = Signal()
conversation_rated = Signal()

RecapProvider = Callable[[int, int], Recap]
_recap_provider: RecapProvider | None = None


def recap_provider_register(provider: RecapProvider | None) -> None:
    """Say who tells a viewer what they shared with a partner before (None: nobody)."""
    global _recap_provider
    _recap_provider = provider


def recap_between(*, viewer_id: int, partner_id: int) -> Recap:
    """The viewer's recap of the partner, or an empty one when no app provides it."""
    if _recap_provider is None:
        return Recap()
    return _recap_provider(viewer_id, partner_id)


# Called with the runtime, the conversation's public id, the sender's id, the text and the time.
ChatListener = Callable[["Runtime", str, int, str, datetime], Awaitable[None]]
_chat_listeners: list[ChatListener] = []


def chat_listener_register(listener: ChatListener) -> None:
    """Have ``listener`` hear of every chat line this process relays (once per listener)."""
    if listener not in _chat_listeners:
        _chat_listeners.append(listener)


async def chat_line_relayed(
    runtime: Runtime, *, conversation: str, user_id: int, text: str, at: datetime
) -> None:
    """Tell the listeners of a relayed line; one that fails is logged and never stops the chat."""
    for listener in _chat_listeners:
        try:
            await listener(runtime, conversation, user_id, text, at)
        except Exception:
            logger.warning("a chat listener failed", exc_info=True)


# Called with the two people's ids; True when they may be put in a call together.
PairingCheck = Callable[[int, int], bool]
_pairing_checks: list[PairingCheck] = []


def pairing_check_register(check: PairingCheck) -> None:
    """Have every new conversation first pass ``check`` (once per check)."""
    if check not in _pairing_checks:
        _pairing_checks.append(check)


def pairing_allowed(a_user_id: int, b_user_id: int) -> bool:
    """Whether every registered check lets the two talk now."""
    return all(check(a_user_id, b_user_id) for check in _pairing_checks)
