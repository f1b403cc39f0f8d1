"""Plans across time zones: two connections agree on a time for a call, and are reminded.

One person offers up to three times ("Plan a call"); the other accepts one
("Accept this time") or offers others ("Suggest other times"), and so on
until one is accepted. Either can cancel ("Cancel plan"). A confirmed plan
can be moved: a move is a new offer on the same plan, and the agreed time
stands until the other accepts one of the new times.

States (``Plan.TRANSITIONS``): proposed → confirmed | cancelled; confirmed →
kept | missed | cancelled, or confirmed again at a new time. A confirmed plan
becomes kept when a direct conversation between the two starts within the
join window, missed when the window passes without one: decided lazily when a
page of either of them reads their plans (``plans_settle``).

Reminders are tasks queued on agreement (``connections/tasks.py``). Queued
tasks cannot be withdrawn, so each carries the plan's ``version`` and does
nothing unless the plan is still confirmed at that version: a move or a
cancel (which both raise the version) silences the reminders queued before.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import (
    BAD_PLAN_TIMES,
    NO_SUCH_PERSON,
    NO_SUCH_PLAN,
    NOT_CONNECTED,
    PLAN_OVER,
    TIME_IN_GAP,
    ApplicationError,
    NotFound,
    PermissionDenied,
)
from chatspheres.common.events import ToMember, send_event_on_commit
from chatspheres.connections.events import PlanChanged
from chatspheres.connections.models import Plan, Ring
from chatspheres.connections.plan_times import (
    Offered,
    TimeInGap,
    offered,
    overlap_suggestions,
    wall_to_utc,
    when_label,
    zone_of,
)
from chatspheres.connections.selectors import access_person, are_connected
from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send
from chatspheres.safety.selectors import is_blocked_between

MAX_OPTIONS = 3
# How far ahead a call can be planned.
HORIZON = timedelta(days=60)
OPEN_STATES = (Plan.State.PROPOSED, Plan.State.CONFIRMED)


def join_early() -> timedelta:
    return timedelta(seconds=settings.PLAN_JOIN_EARLY_SECONDS)


def join_late() -> timedelta:
    return timedelta(seconds=settings.PLAN_JOIN_LATE_SECONDS)


# ---------------------------------------------------------------- who and when


def access_plan_partner(*, user_id: int, handle: str) -> Profile:
    """The connection behind a handle the member may plan a call with; others are refused."""
    # Strangers (and blocks) are "no such person", as on their page.
    profile = access_person(viewer_id=user_id, handle=handle.strip())
    if profile.user_id == user_id:
        raise NotFound(code=NO_SUCH_PERSON)
    if not are_connected(user_id=user_id, other_id=profile.user_id):
        raise PermissionDenied(
            "You can plan calls only with your connections: people you both want to talk with"
            " again.",
            code=NOT_CONNECTED,
        )
    return profile


def access_plan(*, user_id: int, public_id: str) -> Plan:
    """One of the member's plans, with both profiles; anyone else's is said not to exist."""
    plan = (
        Plan.objects.filter(Q(first_id=user_id) | Q(second_id=user_id), public_id=public_id)
        .select_related("first__profile", "second__profile")
        .first()
    )
    if plan is None or is_blocked_between(plan.first_id, plan.second_id):
        raise NotFound(code=NO_SUCH_PLAN)
    return plan


def zone_for(user_id: int) -> ZoneInfo:
    """The member's time zone, from their profile."""
    name = Profile.objects.filter(user_id=user_id).values_list("time_zone", flat=True).first()
    return zone_of(name or "UTC")


def times_from_form(values: Sequence[str], *, zone: ZoneInfo) -> list[datetime]:
    """Times a form sent: wall times in the member's zone, or instants with an offset.

    A wall time the member's clocks skip is refused (``time_in_gap``); one
    that happens twice is its first occurrence.
    """
    times: list[datetime] = []
    for value in values:
        value = value.strip()
        if not value:
            continue
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as bad:
            raise ApplicationError(code=BAD_PLAN_TIMES) from bad
        if parsed.tzinfo is None:
            try:
                parsed = wall_to_utc(parsed.replace(second=0, microsecond=0), zone)
            except TimeInGap as gap:
                raise ApplicationError(
                    f"{parsed:%a %d %b %H:%M} doesn't exist in {zone.key}: the clocks skip"
                    " that hour. Choose another time.",
                    code=TIME_IN_GAP,
                ) from gap
        times.append(parsed.astimezone(UTC))
    return times


def _checked_times(times: Sequence[datetime], *, now: datetime) -> list[datetime]:
    unique = sorted({moment.astimezone(UTC).replace(microsecond=0) for moment in times})
    if not 1 <= len(unique) <= MAX_OPTIONS:
        raise ApplicationError(code=BAD_PLAN_TIMES)
    for moment in unique:
        if moment <= now or moment > now + HORIZON:
            raise ApplicationError(code=BAD_PLAN_TIMES)
    return unique


def _check_pair(first_id: int, second_id: int) -> None:
    if is_blocked_between(first_id, second_id):
        raise NotFound(code=NO_SUCH_PLAN)
    if not are_connected(user_id=first_id, other_id=second_id):
        raise PermissionDenied(code=NOT_CONNECTED)


def _locked(*, user_id: int, public_id: str) -> Plan:
    found = access_plan(user_id=user_id, public_id=public_id)
    return (
        # Only the plan's row is locked: PostgreSQL refuses FOR UPDATE on
        # the nullable side of the profiles' outer joins.
        Plan.objects.select_for_update(of=("self",))
        .select_related("first__profile", "second__profile")
        .get(pk=found.pk)
    )


def _when_for(plan: Plan, user_id: int) -> str:
    assert plan.starts_at is not None
    return when_label(plan.starts_at, zone_for(user_id))


def _change_words(plan: Plan, change: str, *, recipient_id: int, actor_id: int | None) -> str:
    """What happened, as the recipient reads it: names, and the time in their own zone."""
    me = plan.first if recipient_id == plan.first_id else plan.second
    them = (plan.second if recipient_id == plan.first_id else plan.first).profile.display_name
    mine = actor_id == recipient_id
    who = "You" if mine else them
    when = ""
    if plan.starts_at is not None:
        when = when_label(plan.starts_at, zone_of(me.profile.time_zone))
    times = f"{len(plan.options)} time{'s' if len(plan.options) != 1 else ''}"
    if change == "proposed":
        return f"You offered {them} {times}" if mine else f"{them} offered {times} for a call"
    if change == "suggested":
        return f"You suggested other times to {them}" if mine else f"{them} suggested other times"
    if change == "move_asked":
        return f"You asked {them} to move the call" if mine else f"{them} asks to move the call"
    words = {
        "confirmed": f"{who} accepted {when}",
        "moved": f"{who} accepted the new time: {when}",
        "cancelled": f"{who} cancelled the plan",
        "kept": f"You and {them} talked as planned ({when})",
        "missed": f"The call planned with {them} for {when} passed without a call",
    }
    return words[change]


def _announce(plan: Plan, change: str, *, actor_id: int | None) -> None:
    """Tell both members' tabs, once the change commits, that the plan changed and how."""
    for recipient_id in (plan.first_id, plan.second_id):
        other = plan.second if recipient_id == plan.first_id else plan.first
        send_event_on_commit(
            PlanChanged(
                plan=plan.public_id,
                with_handle=other.profile.handle,
                state=str(plan.state),
                version=plan.version,
                change=change,
                words=_change_words(plan, change, recipient_id=recipient_id, actor_id=actor_id),
            ),
            to=ToMember(recipient_id),
        )


# ---------------------------------------------------------------- writes


@transaction.atomic
def plan_propose(*, proposer_id: int, other_id: int, times: Sequence[datetime]) -> Plan:
    """Offer a connection up to three times for a call; they are notified."""
    if proposer_id == other_id:
        raise NotFound(code=NO_SUCH_PERSON)
    _check_pair(proposer_id, other_id)
    chosen = _checked_times(times, now=timezone.now())
    plan = Plan.objects.create(
        first_id=proposer_id,
        second_id=other_id,
        options=[moment.isoformat() for moment in chosen],
        proposed_by_id=proposer_id,
    )
    notification_send(
        recipient_id=other_id,
        kind=Notification.Kind.PLAN_PROPOSED,
        actor_id=proposer_id,
        data={"plan": plan.public_id},
    )
    _announce(plan, "proposed", actor_id=proposer_id)
    return plan


@transaction.atomic
def plan_accept(*, user_id: int, public_id: str, at: datetime) -> Plan:
    """Accept one of the times the other offered: the plan is confirmed (or moved) to it."""
    plan = _locked(user_id=user_id, public_id=public_id)
    at = at.astimezone(UTC).replace(microsecond=0)
    if (
        plan.state not in OPEN_STATES
        or plan.proposed_by_id in (None, user_id)
        or at.isoformat() not in plan.options
        or at <= timezone.now()
    ):
        raise ApplicationError(code=PLAN_OVER)
    _check_pair(user_id, plan.other_of(user_id))
    change = "moved" if plan.state == Plan.State.CONFIRMED else "confirmed"
    plan.state = Plan.State.CONFIRMED
    plan.starts_at = at
    plan.options = []
    plan.proposed_by = None
    plan.version += 1
    plan.save(update_fields=["state", "starts_at", "options", "proposed_by", "version", "updated"])
    other_id = plan.other_of(user_id)
    for recipient_id, actor_id in ((other_id, user_id), (user_id, other_id)):
        notification_send(
            recipient_id=recipient_id,
            kind=Notification.Kind.PLAN_CONFIRMED,
            actor_id=actor_id,
            data={"plan": plan.public_id, "when": _when_for(plan, recipient_id)},
        )
    _schedule_reminders(plan)
    _announce(plan, change, actor_id=user_id)
    return plan


@transaction.atomic
def plan_suggest(*, user_id: int, public_id: str, times: Sequence[datetime]) -> Plan:
    """Offer other times: an answer to an offer, or a move of an agreed plan (which stands)."""
    plan = _locked(user_id=user_id, public_id=public_id)
    if plan.state not in OPEN_STATES:
        raise ApplicationError(code=PLAN_OVER)
    _check_pair(user_id, plan.other_of(user_id))
    chosen = _checked_times(times, now=timezone.now())
    plan.options = [moment.isoformat() for moment in chosen]
    plan.proposed_by_id = user_id
    plan.save(update_fields=["options", "proposed_by", "updated"])
    notification_send(
        recipient_id=plan.other_of(user_id),
        kind=Notification.Kind.PLAN_PROPOSED,
        actor_id=user_id,
        data={"plan": plan.public_id},
    )
    _announce(
        plan,
        "move_asked" if plan.state == Plan.State.CONFIRMED else "suggested",
        actor_id=user_id,
    )
    return plan


@transaction.atomic
def plan_cancel(*, user_id: int, public_id: str) -> Plan:
    """Either of the two calls the plan off; its reminders will do nothing."""
    plan = _locked(user_id=user_id, public_id=public_id)
    if not plan.can_become(Plan.State.CANCELLED):
        raise ApplicationError(code=PLAN_OVER)
    plan.state = Plan.State.CANCELLED
    plan.options = []
    plan.proposed_by = None
    plan.version += 1
    plan.ended_at = timezone.now()
    plan.save(update_fields=["state", "options", "proposed_by", "version", "ended_at", "updated"])
    notification_send(
        recipient_id=plan.other_of(user_id),
        kind=Notification.Kind.PLAN_CANCELLED,
        actor_id=user_id,
        data={"plan": plan.public_id},
    )
    _announce(plan, "cancelled", actor_id=user_id)
    return plan


@transaction.atomic
def plans_cancel_between(*, first_id: int, second_id: int) -> int:
    """A block calls off the pair's open plans, silently (the blocked side is never told).

    No ``plan.changed`` either: the event would tell the blocked side, and the
    blocker's pages stop showing the plan anyway.
    """
    now = timezone.now()
    open_plans = Plan.objects.filter(
        Q(first_id=first_id, second_id=second_id) | Q(first_id=second_id, second_id=first_id),
        state__in=OPEN_STATES,
    )
    cancelled = 0
    for plan in open_plans.select_for_update():
        plan.state, plan.options, plan.proposed_by = Plan.State.CANCELLED, [], None
        plan.version += 1
        plan.ended_at = now
        plan.save(
            update_fields=["state", "options", "proposed_by", "version", "ended_at", "updated"]
        )
        cancelled += 1
    return cancelled


def join_window(plan: Plan) -> tuple[datetime, datetime] | None:
    """When "Join" is offered for an agreed plan: from ``join_early()`` before its time to
    ``join_late()`` after (None for a plan that is not agreed)."""
    if plan.state != Plan.State.CONFIRMED or plan.starts_at is None:
        return None
    return plan.starts_at - join_early(), plan.starts_at + join_late()


def join_refusal(plan: Plan, *, now: datetime | None = None) -> str | None:
    """Why "Join" is not offered now, in words (None: it is)."""
    window = join_window(plan)
    if window is None:
        return "This call isn't agreed, so there is nothing to join."
    now = now or timezone.now()
    if now < window[0]:
        minutes = max(1, round(join_early().total_seconds() / 60))
        return f"You can join from {minutes} minute{'s' if minutes != 1 else ''} before the time."
    if now > window[1]:
        return "The time for this call has passed. Plan another, or call now if you're both online."
    return None


def _direct_call_in_window(plan: Plan) -> Conversation | None:
    window = join_window(plan)
    assert window is not None
    return (
        Conversation.objects.between(plan.first_id, plan.second_id)
        .filter(
            kind=Conversation.Kind.DIRECT,
            started_at__gte=window[0],
            started_at__lte=window[1],
        )
        .order_by("started_at")
        .first()
    )


def plans_settle(*, user_id: int, now: datetime | None = None) -> int:
    """The member's confirmed plans that were kept (a direct call in the window) or missed."""
    now = now or timezone.now()
    # Read first, outside a transaction: People and a person's page call this on
    # every view, and nearly always nothing is due. On SQLite a transaction takes
    # the database's write lock at once, so an empty one would still wait behind
    # the task worker's writes.
    due = list(
        Plan.objects.filter(
            Q(first_id=user_id) | Q(second_id=user_id),
            state=Plan.State.CONFIRMED,
            starts_at__lte=now + join_early(),
        ).select_related("first__profile", "second__profile")
    )
    if not due:
        return 0
    with transaction.atomic():
        return _settle(due, now=now)


def _settle(due: list[Plan], *, now: datetime) -> int:
    settled = 0
    for plan in due:
        conversation = _direct_call_in_window(plan)
        if conversation is not None:
            state = Plan.State.KEPT
        elif plan.starts_at is not None and plan.starts_at + join_late() < now:
            state = Plan.State.MISSED
        else:
            continue
        # Only the first reader moves it; the version silences what is still queued.
        moved = Plan.objects.filter(
            pk=plan.pk, state=Plan.State.CONFIRMED, version=plan.version
        ).update(
            state=state,
            conversation=conversation,
            ended_at=now,
            options=[],
            proposed_by=None,
            version=plan.version + 1,
            updated=now,
        )
        if moved:
            plan.state, plan.version, plan.options = state, plan.version + 1, []
            _announce(plan, str(state), actor_id=None)
        settled += moved
    return settled


def _schedule_reminders(plan: Plan) -> None:
    """Queue the reminders of a newly agreed time, after commit, tagged with its version."""
    from chatspheres.connections.tasks import plan_reminder_schedule

    plan_id, version = plan.pk, plan.version
    transaction.on_commit(lambda: plan_reminder_schedule(plan_id=plan_id, version=version))


# ---------------------------------------------------------------- reads


@dataclass(frozen=True, slots=True)
class PlanView:
    """A plan as one of the two sees it, every time in their own zone and in the other's."""

    plan: Plan
    public_id: str
    state: str
    state_label: str
    other_name: str
    other_handle: str
    when: Offered | None
    options: list[Offered]
    # The other offered times and waits for this viewer's answer.
    waiting_on_me: bool
    proposed_by_me: bool
    can_join: bool
    other_id: int

    @property
    def is_move(self) -> bool:
        return self.state == Plan.State.CONFIRMED and bool(self.options)

    @property
    def url(self) -> str:
        return reverse(
            "connections:plan", kwargs={"handle": self.other_handle, "public_id": self.public_id}
        )

    @property
    def part_url(self) -> str:
        return reverse(
            "connections:plan_part",
            kwargs={"handle": self.other_handle, "public_id": self.public_id},
        )

    def _window_edge(self, which: int) -> str:
        window = join_window(self.plan)
        if window is None:
            return ""
        return window[which].astimezone(UTC).isoformat().replace("+00:00", "Z")

    @property
    def join_opens(self) -> str:
        """When "Join" appears (UTC, ISO 8601) for the page's timer; empty unless agreed."""
        return self._window_edge(0)

    @property
    def join_closes(self) -> str:
        """When "Join" goes (UTC, ISO 8601); empty unless agreed."""
        return self._window_edge(1)


def plan_view(plan: Plan, *, viewer_id: int, now: datetime | None = None) -> PlanView:
    """How the plan reads for the viewer (profiles selected with it)."""
    now = now or timezone.now()
    other = plan.second if viewer_id == plan.first_id else plan.first
    mine = plan.first if viewer_id == plan.first_id else plan.second
    me_zone, other_zone = zone_of(mine.profile.time_zone), zone_of(other.profile.time_zone)
    name = other.profile.display_name

    def read(moment: datetime) -> Offered:
        return offered(moment, mine=me_zone, theirs=other_zone, their_name=name)

    options = [read(datetime.fromisoformat(value)) for value in plan.options]
    can_join = join_refusal(plan, now=now) is None
    return PlanView(
        plan=plan,
        public_id=plan.public_id,
        state=plan.state,
        state_label=Plan.State(plan.state).label,
        other_name=name,
        other_handle=other.profile.handle,
        other_id=other.pk,
        when=read(plan.starts_at) if plan.starts_at is not None else None,
        options=options,
        waiting_on_me=bool(options) and plan.proposed_by_id not in (None, viewer_id),
        proposed_by_me=plan.proposed_by_id == viewer_id,
        can_join=can_join,
    )


def _viewable(viewer_id: int) -> Q:
    return Q(first_id=viewer_id) | Q(second_id=viewer_id)


def plans_with(*, viewer_id: int, other_id: int) -> list[PlanView]:
    """The pair's open plans (offered or agreed), soonest first, as the viewer reads them."""
    if is_blocked_between(viewer_id, other_id):
        return []
    plans = (
        Plan.objects.filter(
            Q(first_id=viewer_id, second_id=other_id) | Q(first_id=other_id, second_id=viewer_id),
            state__in=OPEN_STATES,
        )
        .select_related("first__profile", "second__profile")
        .order_by("starts_at", "created")
    )
    return [plan_view(plan, viewer_id=viewer_id) for plan in plans]


def upcoming_plans_for(*, viewer_id: int, limit: int = 20) -> list[PlanView]:
    """The member's agreed calls still to come (or going on), soonest first."""
    plans = (
        Plan.objects.filter(
            _viewable(viewer_id),
            state=Plan.State.CONFIRMED,
            starts_at__gte=timezone.now() - join_late(),
        )
        .select_related("first__profile", "second__profile")
        .order_by("starts_at")[: limit * 2]
    )
    views = [
        plan_view(plan, viewer_id=viewer_id)
        for plan in plans
        if not is_blocked_between(plan.first_id, plan.second_id)
    ]
    return views[:limit]


def suggestions_for(
    *, viewer_id: int, other: Profile, now: datetime | None = None
) -> list[Offered]:
    """Times in waking hours for both in the next 7 days, as the viewer reads them."""
    mine, theirs = zone_for(viewer_id), zone_of(other.time_zone)
    return [
        offered(moment, mine=mine, theirs=theirs, their_name=other.display_name)
        for moment in overlap_suggestions(mine, theirs, now=now or timezone.now())
    ]


def join_url(*, user_id: int, plan: Plan) -> str:
    """Where "Join" leads: the other's ring to answer if they are ringing, else a ring to them."""
    other_id = plan.other_of(user_id)
    ring = (
        Ring.objects.filter(
            caller_id=other_id,
            callee_id=user_id,
            state=Ring.State.PENDING,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created")
        .values_list("public_id", flat=True)
        .first()
    )
    if ring:
        return reverse("calls:call_answer", kwargs={"ring": ring})
    handle = Profile.objects.filter(user_id=other_id).values_list("handle", flat=True).get()
    return reverse("calls:call_now", kwargs={"handle": handle})


def plan_calendar(*, plan: Plan, viewer_id: int) -> bytes:
    """The agreed call as an .ics file for the viewer: their zone's TZID, the other's name.

    DTSTART is the viewer's wall time with a TZID and the matching VTIMEZONE,
    so calendars show it right whatever zone the device is in; DTSTAMP is in
    UTC. The UID stays the same for the plan, so importing it again after a
    move updates the one event.
    """
    from icalendar import Calendar, Event

    if plan.state != Plan.State.CONFIRMED or plan.starts_at is None:
        raise ApplicationError(code=PLAN_OVER)
    view = plan_view(plan, viewer_id=viewer_id)
    me = plan.first if viewer_id == plan.first_id else plan.second
    zone = zone_of(me.profile.time_zone)
    calendar = Calendar()
    calendar.add("prodid", f"-//{settings.SITE_NAME}//Planned calls//EN")
    calendar.add("version", "2.0")
    event = Event()
    event.add("uid", f"plan-{plan.public_id}@{settings.SITE_NAME.lower().replace(' ', '-')}")
    event.add("dtstamp", timezone.now().astimezone(UTC))
    event.add("sequence", plan.version)
    event.add("dtstart", plan.starts_at.astimezone(zone))
    event.add("dtend", (plan.starts_at + timedelta(minutes=30)).astimezone(zone))
    event.add("summary", f"Call with {view.other_name} on {settings.SITE_NAME}")
    event.add(
        "description",
        f"Open the plan and press Join when it's time: {settings.SITE_URL.rstrip('/')}{view.url}",
    )
    event.add("url", f"{settings.SITE_URL.rstrip('/')}{view.url}")
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return bytes(calendar.to_ical())
