"""Filling the hooks calls offers, so calls never imports connections."""

from __future__ import annotations

from typing import Any

from chatspheres.calls import hooks as calls_hooks
from chatspheres.calls.events import Recap
from chatspheres.calls.models import Conversation
from chatspheres.safety.signals import block_made


def _recount_started(sender: Any, conversation: Conversation, **kwargs: Any) -> None:
    from chatspheres.connections.services import bond_recount

    bond_recount(user_id=conversation.user_a_id, other_id=conversation.user_b_id)


def _recount_rated(sender: Any, conversation: Conversation, user_id: int, **kwargs: Any) -> None:
    from chatspheres.connections.services import bond_recount

    bond_recount(user_id=conversation.user_a_id, other_id=conversation.user_b_id)


def _recap(viewer_id: int, partner_id: int) -> Recap:
    from chatspheres.connections.selectors import recap_for

    return recap_for(viewer_id=viewer_id, partner_id=partner_id)


def _part_for_block(sender: Any, blocker_id: int, blocked_id: int, **kwargs: Any) -> None:
    from chatspheres.connections.services import pair_part_for_block

    pair_part_for_block(blocker_id=blocker_id, blocked_id=blocked_id)


def install() -> None:
    """A pair's stage follows each conversation and rating; the partner card gets its recap."""
    calls_hooks.conversation_started.connect(_recount_started, dispatch_uid="connections.started")
    calls_hooks.conversation_rated.connect(_recount_rated, dispatch_uid="connections.rated")
    calls_hooks.recap_provider_register(_recap)
    # safety may not import connections either: a block ends the pair's ties through its signal.
    block_made.connect(_part_for_block, dispatch_uid="connections.block_made")
