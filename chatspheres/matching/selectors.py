"""What the matcher needs to know about a member who wants to wait."""

from __future__ import annotations

from dataclasses import dataclass

from chatspheres.accounts.models import Interest
from chatspheres.calls.selectors import user_in_active_conversation
from chatspheres.common.errors import ALREADY_IN_CALL, ApplicationError
from chatspheres.spheres.selectors import access_sphere_for_queue


@dataclass(frozen=True, slots=True)
class QueueRequest:
    sphere_id: int
    interests: frozenset[str]
    # People this member must never meet. Blocks (either way) will feed it
    # when the safety app arrives; today nobody is excluded.
    excluded: frozenset[int]


def queue_request_for(*, user_id: int, sphere_id: int) -> QueueRequest:
    """Check the member may wait in the sphere now, and gather what matching uses."""
    sphere = access_sphere_for_queue(user_id=user_id, sphere_id=sphere_id)
    if user_in_active_conversation(user_id=user_id):
        raise ApplicationError(
            "You are already in a conversation in another tab.", code=ALREADY_IN_CALL
        )
    interests = Interest.objects.filter(profiles__user_id=user_id).values_list("name", flat=True)
    return QueueRequest(sphere_id=sphere.pk, interests=frozenset(interests), excluded=frozenset())
