"""Calling a connection now ("Call now"): the ring, from the caller's press to an answer.

The caller's call page opens and its tab sends ``ring.start``; every open tab
of the callee shows a ringing card (``ring.incoming``). The ring then leaves
``pending`` exactly once:

* **accepted**: the callee's answering tab and the caller's waiting tab are
  put in a direct conversation (``conversation_start(kind=DIRECT)``), in the
  sphere the two last met in; no queue, no no-repeat rule;
* **declined**: the caller is told "Ana can't talk right now";
* **missed**: ``RING_SECONDS`` went by (``rings_expire``, run every second on
  every process from the saved ``expires_at``): the caller is told "Ana
  didn't answer" and the callee gets a ``missed_ring`` notification;
* **cancelled**: the caller pressed Cancel or closed the page.

Every change is a conditional update from ``pending``, so two processes, or two
tabs of the callee, never both act on one ring; whoever comes second is told
the call has ended (``ring_over``). Events leave on commit: ``ring.stopped``
to every tab of the callee and to the caller's tab.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import msgspec
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chatspheres.accounts.models import Profile
from chatspheres.calls.direct import DirectCall
from chatspheres.calls.ice import hidden_ip_check
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_start
from chatspheres.common.errors import (
    ALREADY_IN_CALL,
    CALLEE_BUSY,
    CALLEE_OFFLINE,
    NO_SUCH_PERSON,
    NOT_CONNECTED,
    RING_OVER,
    ApplicationError,
    NotFound,
    PermissionDenied,
)
from chatspheres.common.events import ToMember, ToTab, send_event_on_commit
from chatspheres.common.ratelimit import rate_limit_hit
from chatspheres.connections.models import Bond, Ring
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.presence.selectors import is_online
from chatspheres.realtime.protocol import Event
from chatspheres.safety.selectors import is_blocked_between

# How long a ring rings before it counts as missed.
RING_SECONDS = 30
# At most this many rings are expired per check (the next check takes the rest).
EXPIRE_BATCH = 200

StopReason = Literal["accepted", "declined", "missed", "cancelled"]


# ---------------------------------------------------------------- events


class RingPerson(msgspec.Struct, kw_only=True):
    """Who is calling, or who is called: the name shown, and their page's handle."""

    name: str
    handle: str


class RingIncoming(Event, tag="ring.incoming"):
    """To every tab of the callee: someone wants to talk (show the ringing card)."""

    ring: str
    caller: RingPerson
    sphere: str
    seconds: int


class RingRinging(Event, tag="ring.ringing"):
    """To the caller's tab: the callee's tabs are ringing now."""

    ring: str
    callee: RingPerson
    sphere: str
    seconds: int


class RingStopped(Event, tag="ring.stopped"):
    """The ring stopped (``message``: what this side is told, in words; may be empty)."""

    ring: str
    reason: StopReason
    message: str


# ---------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class Callee:
    """A connection the member may ring, and where the two last met."""

    user_id: int
    name: str
    handle: str
    sphere_id: int


def access_callee(*, caller_id: int, handle: str) -> Callee:
    """The connection behind a handle, with the sphere they last met in; others are refused.

    A handle nobody has, or someone the caller has never talked with, is "no
    such person"; someone the caller knows but is not connected with may not
    be called (``not_connected``).
    """
    profile = Profile.objects.filter(handle=handle.strip().lower()).only(
        "user_id", "display_name", "handle"
    )
    callee = profile.first()
    if callee is None or callee.user_id == caller_id:
        raise NotFound(code=NO_SUCH_PERSON)
    bond = (
        Bond.objects.filter(user_id=caller_id, other_id=callee.user_id)
        .select_related("last_conversation")
        .first()
    )
    if bond is None or is_blocked_between(caller_id, callee.user_id):
        raise NotFound(code=NO_SUCH_PERSON)
    if bond.connected_at is None or bond.last_conversation is None:
        raise PermissionDenied(code=NOT_CONNECTED)
    return Callee(
        user_id=callee.user_id,
        name=callee.display_name,
        handle=callee.handle,
        sphere_id=bond.last_conversation.sphere_id,
    )


def ring_to_answer(*, callee_id: int, public_id: str) -> Ring:
    """A ring to the member that still rings; one that stopped says so (``ring_over``)."""
    ring = (
        Ring.objects.filter(public_id=public_id, callee_id=callee_id)
        .select_related("caller__profile")
        .first()
    )
    return _still_ringing(ring)


def _still_ringing(ring: Ring | None) -> Ring:
    """The ring, if it still rings; one that stopped says so (``ring_over``)."""
    if ring is None:
        raise NotFound(code=RING_OVER)
    if ring.state != Ring.State.PENDING or ring.expires_at <= timezone.now():
        raise ApplicationError(f"{_name(ring.caller.profile)}'s call has ended.", code=RING_OVER)
    return ring


def rings_ringing_for(*, callee_id: int) -> list[RingIncoming]:
    """The rings still ringing for the member, as a tab opened now should show them."""
    now = timezone.now()
    ringing = (
        Ring.objects.filter(callee_id=callee_id, state=Ring.State.PENDING, expires_at__gt=now)
        .select_related("caller__profile", "sphere")
        .order_by("created")
    )
    return [
        RingIncoming(
            ring=ring.public_id,
            caller=_person(ring.caller.profile),
            sphere=ring.sphere.name,
            # What is left of the ring, so the card stops when it does everywhere.
            seconds=max(1, math.ceil((ring.expires_at - now).total_seconds())),
        )
        for ring in ringing
    ]


def _name(profile: Profile | None) -> str:
    return profile.display_name if profile is not None and profile.display_name else "Someone"


def _person(profile: Profile) -> RingPerson:
    return RingPerson(name=profile.display_name, handle=profile.handle)


def _busy(user_id: int) -> bool:
    """In a conversation, or in a ring still ringing (calling or being called)."""
    if Conversation.objects.active().involving(user_id).exists():
        return True
    ringing = Ring.objects.filter(state=Ring.State.PENDING, expires_at__gt=timezone.now())
    return ringing.filter(Q(caller_id=user_id) | Q(callee_id=user_id)).exists()


# ---------------------------------------------------------------- writes


def _stop(ring: Ring, state: str, *, conversation: Conversation | None = None) -> bool:
    """Move a pending ring to ``state``; False if it had already left pending (someone else did)."""
    if not ring.can_become(state):
        return False
    now = timezone.now()
    changed = Ring.objects.filter(pk=ring.pk, state=Ring.State.PENDING).update(
        state=state, ended_at=now, conversation=conversation, updated=now
    )
    if changed:
        ring.state, ring.ended_at, ring.conversation = state, now, conversation
    return bool(changed)


def _tell_stopped(
    ring: Ring, reason: StopReason, *, to_caller: str | None, to_callee: str | None
) -> None:
    """``ring.stopped`` to the caller's tab and every tab of the callee (None: not told)."""
    if to_callee is not None:
        send_event_on_commit(
            RingStopped(ring=ring.public_id, reason=reason, message=to_callee),
            to=ToMember(ring.callee_id),
        )
    if to_caller is not None:
        send_event_on_commit(
            RingStopped(ring=ring.public_id, reason=reason, message=to_caller),
            to=ToTab(ring.caller_id, ring.caller_tab),
        )


@transaction.atomic
def ring_start(*, caller_id: int, caller_tab: str, callee_handle: str) -> Ring:
    """Ring every open tab of a connection from the caller's tab, for RING_SECONDS."""
    callee = access_callee(caller_id=caller_id, handle=callee_handle)
    if Conversation.objects.active().involving(caller_id).exists():
        raise ApplicationError(code=ALREADY_IN_CALL)
    rate_limit_hit(action="ring", key=caller_id)
    hidden_ip_check(user_id=caller_id)
    # The caller's earlier rings stop: one ring at a time, from the newest tab.
    for earlier in Ring.objects.select_for_update().filter(
        caller_id=caller_id, state=Ring.State.PENDING
    ):
        if _stop(earlier, Ring.State.CANCELLED):
            _tell_stopped(earlier, "cancelled", to_caller="", to_callee="")
    if _busy(callee.user_id):
        raise ApplicationError(f"{callee.name} is in a call right now.", code=CALLEE_BUSY)
    if not is_online(user_id=callee.user_id):
        raise ApplicationError(f"{callee.name} isn't online right now.", code=CALLEE_OFFLINE)
    caller = Profile.objects.only("display_name", "handle").get(user_id=caller_id)
    ring = Ring.objects.create(
        caller_id=caller_id,
        callee_id=callee.user_id,
        caller_tab=caller_tab,
        sphere_id=callee.sphere_id,
        expires_at=timezone.now() + timedelta(seconds=RING_SECONDS),
    )
    sphere_name = ring.sphere.name
    send_event_on_commit(
        RingIncoming(
            ring=ring.public_id, caller=_person(caller), sphere=sphere_name, seconds=RING_SECONDS
        ),
        to=ToMember(callee.user_id),
    )
    send_event_on_commit(
        RingRinging(
            ring=ring.public_id,
            callee=RingPerson(name=callee.name, handle=callee.handle),
            sphere=sphere_name,
            seconds=RING_SECONDS,
        ),
        to=ToTab(caller_id, caller_tab),
    )
    return ring


def _pending_for_callee(*, callee_id: int, public_id: str) -> Ring:
    ring = (
        Ring.objects.select_for_update(of=("self",))
        .select_related("caller__profile", "callee__profile")
        .filter(public_id=public_id, callee_id=callee_id)
        .first()
    )
    return _still_ringing(ring)


def _shared_interests(first_id: int, second_id: int) -> list[str]:
    names: dict[int, set[str]] = {first_id: set(), second_id: set()}
    for user_id, name in Profile.interests.through.objects.filter(
        profile__user_id__in=(first_id, second_id)
    ).values_list("profile__user_id", "interest__name"):
        names[user_id].add(name)
    return sorted(names[first_id] & names[second_id])


@transaction.atomic
def ring_accept(*, callee_id: int, callee_tab: str, public_id: str) -> Conversation:
    """The callee answers from this tab: a direct conversation with the caller's waiting tab."""
    ring = _pending_for_callee(callee_id=callee_id, public_id=public_id)
    conversation = conversation_start(
        sphere_id=ring.sphere_id,
        a_user_id=ring.caller_id,
        a_tab=ring.caller_tab,
        b_user_id=callee_id,
        b_tab=callee_tab,
        shared_interests=_shared_interests(ring.caller_id, callee_id),
        kind=Conversation.Kind.DIRECT,
    )
    _stop(ring, Ring.State.ACCEPTED, conversation=conversation)
    # The callee's other tabs stop ringing; the caller's tab hears match.found.
    _tell_stopped(ring, "accepted", to_caller=None, to_callee="")
    return conversation


@transaction.atomic
def ring_decline(*, callee_id: int, public_id: str) -> Ring:
    """The callee can't talk now: every tab of theirs stops ringing and the caller is told."""
    ring = _pending_for_callee(callee_id=callee_id, public_id=public_id)
    _stop(ring, Ring.State.DECLINED)
    _tell_stopped(
        ring,
        "declined",
        to_caller=f"{_name(ring.callee.profile)} can't talk right now.",
        to_callee="",
    )
    return ring


@transaction.atomic
def ring_cancel(*, caller_id: int, public_id: str, why: str = "") -> Ring:
    """The caller stops ringing (Cancel); the callee's tabs stop showing the card."""
    ring = (
        Ring.objects.select_for_update(of=("self",))
        .select_related("caller__profile")
        .filter(public_id=public_id, caller_id=caller_id)
        .first()
    )
    if ring is None or not _stop(ring, Ring.State.CANCELLED):
        raise ApplicationError(code=RING_OVER)
    _tell_stopped(
        ring,
        "cancelled",
        to_caller=why,
        to_callee=f"{_name(ring.caller.profile)} stopped calling.",
    )
    return ring


@transaction.atomic
def rings_cancel_for_tab(*, caller_tab: str) -> int:
    """The caller's tab is gone for good (closed, or lost and not back): its ring stops."""
    cancelled = 0
    for ring in (
        Ring.objects.select_for_update(of=("self",))
        .select_related("caller__profile")
        .filter(caller_tab=caller_tab, state=Ring.State.PENDING)
    ):
        if _stop(ring, Ring.State.CANCELLED):
            cancelled += 1
            _tell_stopped(
                ring,
                "cancelled",
                to_caller=None,
                to_callee=f"{_name(ring.caller.profile)} stopped calling.",
            )
    return cancelled


@transaction.atomic
def rings_stop_between(*, blocker_id: int, blocked_id: int) -> int:
    """A block stops the pair's rings either way; the blocked side hears only an ordinary stop.

    The blocked caller is told the callee can't talk right now, as after a
    decline; a blocked callee's card just stops.
    """
    stopped = 0
    for ring in (
        Ring.objects.select_for_update(of=("self",))
        .select_related("caller__profile", "callee__profile")
        .filter(
            Q(caller_id=blocker_id, callee_id=blocked_id)
            | Q(caller_id=blocked_id, callee_id=blocker_id),
            state=Ring.State.PENDING,
        )
    ):
        if ring.caller_id == blocker_id:
            if _stop(ring, Ring.State.CANCELLED):
                _tell_stopped(ring, "cancelled", to_caller="", to_callee="")
                stopped += 1
        elif _stop(ring, Ring.State.DECLINED):
            _tell_stopped(
                ring,
                "declined",
                to_caller=f"{_name(ring.callee.profile)} can't talk right now.",
                to_callee="",
            )
            stopped += 1
    return stopped


def any_ring_due(*, now: datetime | None = None) -> bool:
    """Whether some ring's time ran out (read first: the check runs every second, mostly idle)."""
    return Ring.objects.filter(
        state=Ring.State.PENDING, expires_at__lte=now or timezone.now()
    ).exists()


@transaction.atomic
def rings_expire(*, now: datetime | None = None) -> int:
    """Rings whose time ran out become missed: the caller is told, the callee notified."""
    now = now or timezone.now()
    due = list(
        Ring.objects.filter(state=Ring.State.PENDING, expires_at__lte=now)
        .select_related("caller__profile", "callee__profile")
        .order_by("expires_at")[:EXPIRE_BATCH]
    )
    missed = 0
    for ring in due:
        # Another process may have got there first: only one of them moves it.
        if not _stop(ring, Ring.State.MISSED):
            continue
        missed += 1
        _tell_stopped(
            ring,
            "missed",
            to_caller=f"{_name(ring.callee.profile)} didn't answer.",
            to_callee=f"You missed a call from {_name(ring.caller.profile)}.",
        )
        notification_send(
            recipient_id=ring.callee_id,
            kind=Notification.Kind.MISSED_RING,
            actor_id=ring.caller_id,
            sphere_id=ring.sphere_id,
        )
    return missed


# ---------------------------------------------------------------- the call page's questions


class DirectCallRules:
    """What the calls app asks before it serves a direct call's page (``calls/direct.py``)."""

    def to_call(self, *, caller_id: int, handle: str) -> DirectCall:
        callee = access_callee(caller_id=caller_id, handle=handle)
        return DirectCall(name=callee.name, handle=callee.handle, sphere_id=callee.sphere_id)

    def to_answer(self, *, callee_id: int, ring: str) -> DirectCall:
        found = ring_to_answer(callee_id=callee_id, public_id=ring)
        caller = found.caller.profile
        return DirectCall(
            name=caller.display_name,
            handle=caller.handle,
            sphere_id=found.sphere_id,
            ring=found.public_id,
        )
