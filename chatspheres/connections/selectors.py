"""Reads of follows, connections, stages and notes, always from one member's side."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from chatspheres.accounts.models import PresenceAudience, Profile
from chatspheres.calls.events import Recap, RecapNote
from chatspheres.calls.models import Conversation, Participant
from chatspheres.common.errors import NO_SUCH_NOTE, NO_SUCH_PERSON, NotFound
from chatspheres.connections.models import (
    FAMILIAR_FACE_AT,
    FRIEND_AT,
    Bond,
    Follow,
    Note,
    Stage,
    TalkAgainWish,
    stage_for,
)
from chatspheres.presence.selectors import MemberPresence, presence_of

# A connection with no conversation for this long gets a nudge on People.
STALLED_AFTER = timedelta(days=14)
NUDGES_SHOWN = 3
PEOPLE_PER_PAGE = 12
HISTORY_PER_PAGE = 20
RECAP_NOTES = 5


# ---------------------------------------------------------------- access


def _can_see_person(viewer_id: int) -> dict[str, Exists]:
    """Annotations saying whether ``viewer_id`` may see a profile's page."""
    return {
        "viewer_talked": Exists(
            Bond.objects.filter(
                user_id=viewer_id, other_id=OuterRef("user_id"), conversations__gt=0
            )
        ),
        "viewer_follows": Exists(
            Follow.objects.filter(follower_id=viewer_id, followee_id=OuterRef("user_id"))
        ),
    }


def access_person(*, viewer_id: int, handle: str) -> Profile:
    """The profile behind a handle, if the viewer has talked with them or follows them.

    Anyone else, like a handle nobody has, is told there is no such person:
    there is no directory of strangers to crawl. A member's own handle is theirs.
    """
    profile = (
        Profile.objects.filter(handle=handle.lower())
        .annotate(**_can_see_person(viewer_id))
        .select_related("user")
        .prefetch_related("interests")
        .first()
    )
    if profile is None or not (
        profile.user_id == viewer_id
        or profile.viewer_talked  # type: ignore[attr-defined]
        or profile.viewer_follows  # type: ignore[attr-defined]
    ):
        raise NotFound(code=NO_SUCH_PERSON)
    return profile


def access_note(*, author_id: int, note_id: int) -> Note:
    """One of the member's own notes; anyone else's is said not to exist."""
    note = Note.objects.filter(pk=note_id, author_id=author_id).first()
    if note is None:
        raise NotFound(code=NO_SUCH_NOTE)
    return note


# ---------------------------------------------------------------- the matcher's questions


def are_connected(*, user_id: int, other_id: int) -> bool:
    """Whether both wished to talk with the other again."""
    return Bond.objects.of(user_id).connected().filter(other_id=other_id).exists()


def familiar_faces_for(*, user_id: int) -> frozenset[int]:
    """The member's connections with no neutral or negative conversation between them."""
    return frozenset(
        Bond.objects.of(user_id)
        .connected()
        .filter(lukewarm=False)
        .values_list("other_id", flat=True)
    )


def never_again_for(*, user_id: int) -> frozenset[int]:
    """People a conversation with the member was rated okay or not for me (by either side)."""
    return frozenset(
        Bond.objects.of(user_id).filter(lukewarm=True).values_list("other_id", flat=True)
    )


# ---------------------------------------------------------------- presence


def visible_presence(
    *, viewer_id: int, user_ids: Iterable[int]
) -> dict[int, MemberPresence | None]:
    """Each member's presence as the viewer may see it: None where their setting hides it.

    Two queries whatever the number of members: their settings with whether
    each is connected to the viewer or follows the viewer, then the presence
    of those who let the viewer see it.
    """
    wanted = {int(user_id) for user_id in user_ids} - {viewer_id}
    if not wanted:
        return {}
    rows = (
        Profile.objects.filter(user_id__in=wanted)
        .annotate(
            connected=Exists(
                Bond.objects.filter(
                    user_id=OuterRef("user_id"), other_id=viewer_id, connected_at__isnull=False
                )
            ),
            follows_viewer=Exists(
                Follow.objects.filter(follower_id=OuterRef("user_id"), followee_id=viewer_id)
            ),
        )
        .values_list("user_id", "presence_visible_to", "connected", "follows_viewer")
    )
    allowed = {
        user_id
        for user_id, audience, connected, follows_viewer in rows
        if (audience == PresenceAudience.CONNECTIONS and connected)
        or (audience == PresenceAudience.FOLLOWING and follows_viewer)
    }
    seen = presence_of(user_ids=allowed) if allowed else {}
    return {user_id: seen.get(user_id) for user_id in wanted}


def presence_words(presence: MemberPresence | None, *, now: datetime | None = None) -> str:
    """ "Online now in Book Club", "Last seen 2 days ago", or nothing when hidden or unknown."""
    if presence is None:
        return ""
    if presence.online:
        return f"Online now in {presence.sphere_name}" if presence.sphere_name else "Online now"
    if presence.last_seen is None:
        return ""
    return f"Last seen {time_ago(presence.last_seen, now=now)}"


def time_ago(moment: datetime, *, now: datetime | None = None) -> str:
    """A rough, friendly distance in the past: "just now", "5 minutes ago", "2 weeks ago"."""
    seconds = max(0, int(((now or timezone.now()) - moment).total_seconds()))
    for size, one, many in (
        (365 * 86400, "a year ago", "years ago"),
        (30 * 86400, "a month ago", "months ago"),
        (7 * 86400, "a week ago", "weeks ago"),
        (86400, "yesterday", "days ago"),
        (3600, "an hour ago", "hours ago"),
        (60, "a minute ago", "minutes ago"),
    ):
        count = seconds // size
        if count >= 2:
            return f"{count} {many}"
        if count == 1:
            return one
    return "just now"


# ---------------------------------------------------------------- stages


@dataclass(frozen=True, slots=True)
class StageView:
    """A pair's stage with the numbers its progress bar shows."""

    stage: Stage
    positive: int

    @property
    def label(self) -> str:
        return self.stage.label

    @property
    def next_label(self) -> str:
        return {Stage.NEW: Stage.FAMILIAR_FACE.label, Stage.FAMILIAR_FACE: Stage.FRIEND.label}.get(
            self.stage, ""
        )

    @property
    def goal(self) -> int:
        """The count the bar fills towards (the last stage's own once it is reached)."""
        return FAMILIAR_FACE_AT if self.stage == Stage.NEW else FRIEND_AT

    @property
    def bar_value(self) -> int:
        return min(self.positive, self.goal)

    @property
    def words(self) -> str:
        good = f"{self.positive} good conversation{'s' if self.positive != 1 else ''}"
        if not self.next_label:
            return good
        more = self.goal - self.positive
        return f"{good} · {more} more to {self.next_label}"


def stage_view(bond: Bond | None) -> StageView:
    positive = bond.positive_conversations if bond is not None else 0
    return StageView(stage=stage_for(positive), positive=positive)


# ---------------------------------------------------------------- a person's page


@dataclass(frozen=True, slots=True)
class PersonPage:
    """Everything a person's page shows the viewer about them."""

    profile: Profile
    interests: list[str]
    stage: StageView
    conversations: int
    last_talked_at: datetime | None
    last_sphere: str
    following: bool
    wished: bool
    connected: bool
    presence: MemberPresence | None
    notes: list[Note]

    @property
    def presence_text(self) -> str:
        return presence_words(self.presence)

    @property
    def can_call(self) -> bool:
        return self.connected and self.presence is not None and self.presence.online


def person_page(*, viewer_id: int, profile: Profile) -> PersonPage:
    """The viewer's view of one person (a profile access_person returned)."""
    other_id = profile.user_id
    bond = (
        Bond.objects.of(viewer_id)
        .filter(other_id=other_id)
        .select_related("last_conversation__sphere")
        .first()
    )
    following = Follow.objects.filter(follower_id=viewer_id, followee_id=other_id).exists()
    # Only the viewer's own wish: never whether the other wished.
    wished = TalkAgainWish.objects.filter(wisher_id=viewer_id, about_id=other_id).exists()
    notes = list(Note.objects.filter(author_id=viewer_id, about_id=other_id).order_by("-created"))
    last = bond.last_conversation if bond is not None else None
    return PersonPage(
        profile=profile,
        interests=sorted(interest.name for interest in profile.interests.all()),
        stage=stage_view(bond),
        conversations=bond.conversations if bond is not None else 0,
        last_talked_at=bond.last_talked_at if bond is not None else None,
        last_sphere=last.sphere.name if last is not None else "",
        following=following,
        wished=wished,
        connected=bond is not None and bond.connected_at is not None,
        presence=visible_presence(viewer_id=viewer_id, user_ids=[other_id]).get(other_id),
        notes=notes,
    )


# ---------------------------------------------------------------- People


@dataclass(frozen=True, slots=True)
class PersonRow:
    """One person in a list on People."""

    user_id: int
    name: str
    handle: str
    stage: StageView
    connected: bool
    presence: MemberPresence | None

    @property
    def presence_text(self) -> str:
        return presence_words(self.presence)

    @property
    def online(self) -> bool:
        return self.presence is not None and self.presence.online


@dataclass(frozen=True, slots=True)
class Nudge:
    """A connection gone quiet: "It's been 2 weeks since you talked with Ana"."""

    person: PersonRow
    since: datetime

    @property
    def words(self) -> str:
        quiet_for = time_ago(self.since).removesuffix(" ago")
        return f"It's been {quiet_for} since you talked with {self.person.name}"


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One past conversation, from the viewer's side."""

    person: PersonRow
    when: datetime
    sphere: str
    rating: str


@dataclass(frozen=True, slots=True)
class Section:
    """One list on People: a page of its rows, and how to reach the others."""

    key: str
    title: str
    rows: list[PersonRow] | list[HistoryRow]
    page: Page
    empty: str


@dataclass(frozen=True, slots=True)
class PeoplePage:
    nudges: list[Nudge]
    sections: list[Section]


def _profile_fields(prefix: str) -> tuple[str, str]:
    return (f"{prefix}__profile__display_name", f"{prefix}__profile__handle")


def people_page(*, viewer_id: int, pages: Mapping[str, int | str | None]) -> PeoplePage:
    """The viewer's People: nudges, then connections, following, followers and history.

    A fixed number of queries whatever the numbers of people and
    conversations: each list is one page (a count and a slice), and the
    stages and presence of everyone shown are read in one go.
    """
    now = timezone.now()
    mine = Bond.objects.of(viewer_id)
    name, handle = _profile_fields("other")
    stalled = list(
        mine.connected()
        .filter(
            Q(last_talked_at__lt=now - STALLED_AFTER)
            | Q(last_talked_at__isnull=True, connected_at__lt=now - STALLED_AFTER)
        )
        .order_by("last_talked_at")
        .values_list("other_id", name, handle, "last_talked_at", "connected_at")[:NUDGES_SHOWN]
    )
    connections = Paginator(
        mine.connected()
        .order_by("-last_talked_at", "-connected_at", "pk")
        .values_list("other_id", name, handle),
        PEOPLE_PER_PAGE,
    ).get_page(pages.get("connections"))
    name_f, handle_f = _profile_fields("followee")
    following = Paginator(
        Follow.objects.filter(follower_id=viewer_id)
        .order_by("-created", "-pk")
        .values_list("followee_id", name_f, handle_f),
        PEOPLE_PER_PAGE,
    ).get_page(pages.get("following"))
    name_r, handle_r = _profile_fields("follower")
    followers = Paginator(
        Follow.objects.filter(followee_id=viewer_id)
        .order_by("-created", "-pk")
        .values_list("follower_id", name_r, handle_r),
        PEOPLE_PER_PAGE,
    ).get_page(pages.get("followers"))
    name_p, handle_p = _profile_fields("partner")
    history = Paginator(
        Participant.objects.of(viewer_id)
        .order_by("-created", "-pk")
        .values_list(
            "partner_id", name_p, handle_p, "created", "conversation__sphere__name", "rating"
        ),
        HISTORY_PER_PAGE,
    ).get_page(pages.get("history"))

    shown = {
        row[0] for rows in (stalled, connections, following, followers, history) for row in rows
    }
    bonds = {
        other_id: (positive, connected_at is not None)
        for other_id, positive, connected_at in mine.filter(other_id__in=shown).values_list(
            "other_id", "positive_conversations", "connected_at"
        )
    }
    presence = visible_presence(viewer_id=viewer_id, user_ids=shown)
    rows: dict[int, PersonRow] = {}

    def person(user_id: int, display_name: str | None, user_handle: str | None) -> PersonRow:
        if user_id not in rows:
            positive, connected = bonds.get(user_id, (0, False))
            rows[user_id] = PersonRow(
                user_id=user_id,
                name=display_name or "Member",
                handle=user_handle or "",
                stage=StageView(stage=stage_for(positive), positive=positive),
                connected=connected,
                presence=presence.get(user_id),
            )
        return rows[user_id]

    nudges = [
        Nudge(person=person(user_id, n, h), since=last or connected_at)
        for user_id, n, h, last, connected_at in stalled
    ]
    labels = dict(Conversation.Rating.choices)
    return PeoplePage(
        nudges=nudges,
        sections=[
            Section(
                key="connections",
                title="Connections",
                rows=[person(*row) for row in connections],
                page=connections,
                empty=(
                    "No connections yet. When you and someone both tap "
                    "“I'd like to talk again”, you become connected."
                ),
            ),
            Section(
                key="following",
                title="Following",
                rows=[person(*row) for row in following],
                page=following,
                empty="You don't follow anyone yet. Follow people after a conversation.",
            ),
            Section(
                key="followers",
                title="Followers",
                rows=[person(*row) for row in followers],
                page=followers,
                empty="Nobody follows you yet.",
            ),
            Section(
                key="history",
                title="People you've talked with",
                rows=[
                    HistoryRow(
                        person=person(user_id, n, h),
                        when=created,
                        sphere=sphere_name or "",
                        rating=labels.get(rating, ""),
                    )
                    for user_id, n, h, created, sphere_name, rating in history
                ],
                page=history,
                empty="Your conversations will be listed here.",
            ),
        ],
    )


# ---------------------------------------------------------------- the recap


def recap_for(*, viewer_id: int, partner_id: int) -> Recap:
    """What the viewer shared with the partner before: times, last when and where, own notes.

    Only the viewer's own notes, newest first; dates in the viewer's time zone.
    Counts only conversations that have ended, so a call in progress is not
    "before".
    """
    past = Participant.objects.with_partner(viewer_id, partner_id).filter(
        conversation__state=Conversation.State.ENDED
    )
    times = past.count()
    if times == 0:
        return Recap()
    last = past.order_by("-created").values_list("created", "conversation__sphere__name").first()
    zone_name = (
        Profile.objects.filter(user_id=viewer_id).values_list("time_zone", flat=True).first()
    )
    zone = _zone(zone_name or "UTC")
    notes = Note.objects.filter(author_id=viewer_id, about_id=partner_id).order_by("-created")
    last_at, last_sphere = last if last is not None else (None, "")
    return Recap(
        times=times,
        last_at=last_at.astimezone(zone).date().isoformat() if last_at else "",
        last_sphere=last_sphere or "",
        notes=[
            RecapNote(text=note.text, created=note.created.astimezone(zone).isoformat())
            for note in notes[:RECAP_NOTES]
        ],
    )


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def own_notes_about(*, author_id: int, about_id: int) -> list[Note]:
    """The member's notes about someone, newest first."""
    return list(Note.objects.filter(author_id=author_id, about_id=about_id).order_by("-created"))


def reflection_state(
    *, viewer_id: int, other_id: int, conversation_id: int | None
) -> dict[str, object]:
    """What the reflection screen shows as already chosen about the partner."""
    following = Follow.objects.filter(follower_id=viewer_id, followee_id=other_id).exists()
    wished = TalkAgainWish.objects.filter(wisher_id=viewer_id, about_id=other_id).exists()
    connected = are_connected(user_id=viewer_id, other_id=other_id)
    note = (
        Note.objects.filter(author_id=viewer_id, about_id=other_id, conversation_id=conversation_id)
        .order_by("-created")
        .first()
        if conversation_id is not None
        else None
    )
    return {
        "following": following,
        "wished": wished,
        "connected": connected,
        "note": {"id": note.pk, "text": note.text} if note is not None else None,
    }
