"""What matching needs to know about a member who wants to wait; what their waiting screen says."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef
from django.urls import reverse

from chatspheres.accounts.models import Interest, Profile
from chatspheres.calls.ice import hidden_ip_check
from chatspheres.calls.models import Conversation, Participant
from chatspheres.calls.selectors import user_in_active_conversation
from chatspheres.common.errors import ACCOUNT_RESTRICTED, ALREADY_IN_CALL, ApplicationError
from chatspheres.connections.selectors import (
    familiar_faces_for,
    never_again_for,
    visible_presence,
)
from chatspheres.moderation.selectors import is_restricted
from chatspheres.safety.selectors import blocked_ids_for
from chatspheres.spheres.selectors import access_sphere_for_queue

# At most one familiar pairing in every this many matches of a person.
FAMILIAR_EVERY = 4


@dataclass(frozen=True, slots=True)
class QueueRequest:
    sphere_id: int
    interests: frozenset[str]
    # People this member must never meet: those a conversation with was rated
    # okay or not for me (by either side), and those blocked either way.  Both
    # relations hold both ways, so this one side's set is complete.
    excluded: frozenset[int]
    # Connections with no neutral or negative conversation between them.
    familiar: frozenset[int]
    # Whether the next match may be one of them (see matching/engine.py).
    familiar_allowed: bool


def queue_request_for(*, user_id: int, sphere_id: int) -> QueueRequest:
    """Check the member may wait in the sphere now, and gather what matching uses."""
    sphere = access_sphere_for_queue(user_id=user_id, sphere_id=sphere_id)
    if user_in_active_conversation(user_id=user_id):
        raise ApplicationError(
            "You are already in a conversation in another tab.", code=ALREADY_IN_CALL
        )
    if is_restricted(user_id=user_id):
        raise ApplicationError(code=ACCOUNT_RESTRICTED)
    hidden_ip_check(user_id=user_id)
    interests = Interest.objects.filter(profiles__user_id=user_id).values_list("name", flat=True)
    return QueueRequest(
        sphere_id=sphere.pk,
        interests=frozenset(interests),
        excluded=never_again_for(user_id=user_id) | blocked_ids_for(user_id),
        familiar=familiar_faces_for(user_id=user_id),
        familiar_allowed=familiar_pairing_allowed(user_id=user_id),
    )


def familiar_pairing_allowed(*, user_id: int) -> bool:
    """Whether none of the member's last three matched conversations was a repeat.

    A repeat is a match with someone they had talked with before.  Every
    familiar pairing is one (a connection follows a conversation), and the
    history never changes afterwards, so this is recomputed from it at each
    join, in one query, rather than counted anywhere (matching/engine.py says why).
    """
    talked_before = Participant.objects.filter(
        user_id=OuterRef("user_id"),
        partner_id=OuterRef("partner_id"),
        created__lt=OuterRef("created"),
    )
    latest = (
        Participant.objects.filter(user_id=user_id, conversation__kind=Conversation.Kind.MATCHED)
        .order_by("-created")
        .annotate(repeat=Exists(talked_before))
        .values_list("repeat", flat=True)[: FAMILIAR_EVERY - 1]
    )
    return not any(latest)


@dataclass(frozen=True, slots=True)
class CallNow:
    """A connection waiting in the sphere, whom the member may call instead."""

    name: str
    url: str


@dataclass(frozen=True, slots=True)
class WaitingHint:
    """How many of those waiting with the member they talked with in the last 10 minutes.

    Only people the member may meet apart from that count: anyone in an
    exclusion (a block, a conversation that was not good) is never called
    "people you've talked with", so the hint never reveals one.
    """

    recent_partners: int = 0
    call_now: list[CallNow] = field(default_factory=list)


def waiting_hint_for(
    *,
    user_id: int,
    partner_ids: Iterable[int],
    excluded: frozenset[int] | None = None,
    familiar: frozenset[int] | None = None,
) -> WaitingHint:
    """The waiting screen's hint, from the member's recent partners who wait in the same sphere.

    ``excluded`` and ``familiar`` are the member's, when the caller has them
    (from ``queue_request_for``); otherwise they are read.  A fixed number of
    queries whatever the number of partners.
    """
    partners = frozenset(partner_ids)
    if not partners:
        return WaitingHint()
    if excluded is None:
        excluded = never_again_for(user_id=user_id) | blocked_ids_for(user_id)
    partners -= excluded
    if not partners:
        return WaitingHint()
    # A connection with a neutral or negative conversation is excluded above,
    # so the connections left are exactly the familiar faces.
    if familiar is None:
        familiar = familiar_faces_for(user_id=user_id)
    callable_ids = partners & familiar
    shown = {
        partner
        for partner, presence in visible_presence(viewer_id=user_id, user_ids=callable_ids).items()
        if presence is not None
    }
    call_now = [
        CallNow(name=name, url=reverse("calls:call_now", kwargs={"handle": handle}))
        for name, handle in Profile.objects.filter(user_id__in=shown)
        .order_by("display_name", "user_id")
        .values_list("display_name", "handle")
    ]
    return WaitingHint(recent_partners=len(partners), call_now=call_now)
