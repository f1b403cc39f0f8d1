"""Filling the hooks calls offers, so calls never imports connections."""

from __future__ import annotations

from typing import Any

from chatspheres.calls import hooks as calls_hooks
from chatspheres.calls.events import Recap
from chatspheres.calls.models import Conversation


def _recount_started(sender: Any, conversation: Conversation, **kwargs: Any) -> None:
    from chatspheres.connections.services import bond_recount

    bond_recount(user_id=conversation.user_a_id, other_id=conversation.user_b_id)


def _recount_rated(sender: Any, conversation: Conversation, user_id: int, **kwargs: Any) -> None:
    from chatspheres.connections.services import bond_recount

    bond_recount(user_id=conversation.user_a_id, other_id=conversation.user_b_id)


def _recap(viewer_id: int, partner_id: int) -> Recap:
    from chatspheres.connections.selectors import recap_for

    return recap_for(viewer_id=viewer_id, partner_id=partner_id)


def install() -> None:
    """A pair's stage follows each conversation and rating; the partner card gets its recap."""
    calls_hooks.conversation_started.connect(_recount_started, dispatch_uid="connections.started")
    calls_hooks.conversation_rated.connect(_recount_rated, dispatch_uid="connections.rated")
    calls_hooks.recap_provider_register(_recap)
