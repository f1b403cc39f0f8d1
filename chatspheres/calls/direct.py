"""Calling someone directly ("Call now"): where the app that owns connections plugs in.

The calls app serves the call page for a direct call but never imports the
connections app (which imports calls); the connections app registers the
rules here at start-up: who may be called, and which ring a tab answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from chatspheres.common.errors import NOT_FOUND, NotFound


@dataclass(frozen=True, slots=True)
class DirectCall:
    """The other person of a direct call, and the sphere it takes place in."""

    name: str
    handle: str
    sphere_id: int
    # The ring being answered (empty for the caller's page, which starts one).
    ring: str = ""


class DirectCalls(Protocol):
    def to_call(self, *, caller_id: int, handle: str) -> DirectCall:
        """Whom the caller may ring; raises NotFound or PermissionDenied otherwise."""
        ...

    def to_answer(self, *, callee_id: int, ring: str) -> DirectCall:
        """The ring the member answers; raises NotFound, or ApplicationError once it stopped."""
        ...


_provider: DirectCalls | None = None


def direct_calls_register(provider: DirectCalls | None) -> None:
    """Say who knows the rules of direct calls (None: nobody, they are refused)."""
    global _provider
    _provider = provider


def direct_calls() -> DirectCalls:
    """The registered rules; without any, nobody can be called."""
    if _provider is None:
        raise NotFound("Calling someone directly isn't available.", code=NOT_FOUND)
    return _provider
