"""Reads of follows, connections, stages and notes, always from one member's side."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Exists, OuterRef, Q, Subquery
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

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
from chatspheres.safety.models import Block

# A connection with no conversation for this long gets a nudge on People.
STALLED_AFTER = timedelta(days=14)
NUDGES_SHOWN = 3
PEOPLE_PER_PAGE = 8
HISTORY_PER_PAGE = 10
RECAP_NOTES = 5
# People's lists of people, in order: key, title, and what an empty list says.
PERSON_SECTIONS = (
    (
        "connections",
        "Connections",
        "No connections yet. When you and someone both tap "
        "“I'd like to talk again”, you become connected.",
    ),
    (
        "following",
        "Following",
        "You don't follow anyone yet. Follow people after a conversation.",
    ),
    ("followers", "Followers", "Nobody follows you yet."),
)


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
        "blocked_either_way": _blocked_either_way(viewer_id),
    }


def _blocked_either_way(viewer_id: int) -> Exists:
    """Whether the viewer and a profile's member blocked each other, either way (an annotation)."""
    return Exists(
        Block.objects.filter(
            Q(blocker_id=viewer_id, blocked_id=OuterRef("user_id"))
            | Q(blocker_id=OuterRef("user_id"), blocked_id=viewer_id)
        )
    )


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
    # A block, either way, hides each one's page from the other.
    if profile.user_id != viewer_id and profile.blocked_either_way:  # type: ignore[attr-defined]
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


def shows_presence(audience: str, *, connected: bool, follows_viewer: bool) -> bool:
    """Whether a member's setting lets the viewer see their presence.

    "connections": only if the two are connected; "following": only if the
    member follows the viewer; "nobody": never.
    """
    if audience == PresenceAudience.CONNECTIONS:
        return connected
    if audience == PresenceAudience.FOLLOWING:
        return follows_viewer
    return False


@dataclass(frozen=True, slots=True)
class PersonFacts:
    """What the viewer's lists need of one member: name, handle, stage count, presence rights."""

    name: str
    handle: str
    positive: int
    connected: bool
    shows_presence: bool
    # Blocked either way: no page to link to, no presence, whatever the settings say.
    blocked: bool = False


def people_facts(*, viewer_id: int, user_ids: Iterable[int]) -> dict[int, PersonFacts]:
    """Names, handles, the viewer's stage count with each, and who lets the viewer see presence.

    One query whatever the number of members. A member shows presence to
    the viewer when their setting is "connections" and they are connected,
    or "following" and they follow the viewer; "nobody" never; and never
    to someone they blocked or were blocked by.
    """
    wanted = {int(user_id) for user_id in user_ids} - {viewer_id}
    if not wanted:
        return {}
    bond = Bond.objects.filter(user_id=viewer_id, other_id=OuterRef("user_id"))
    rows = (
        Profile.objects.filter(user_id__in=wanted)
        .annotate(
            positive=Subquery(bond.values("positive_conversations")[:1]),
            connected=Exists(bond.filter(connected_at__isnull=False)),
            follows_viewer=Exists(
                Follow.objects.filter(follower_id=OuterRef("user_id"), followee_id=viewer_id)
            ),
            blocked=_blocked_either_way(viewer_id),
        )
        .values_list(
            "user_id",
            "display_name",
            "handle",
            "presence_visible_to",
            "positive",
            "connected",
            "follows_viewer",
            "blocked",
        )
    )
    return {
        user_id: PersonFacts(
            name=name,
            handle=handle,
            positive=positive or 0,
            connected=connected,
            shows_presence=not blocked
            and shows_presence(audience, connected=connected, follows_viewer=follows_viewer),
            blocked=blocked,
        )
        for user_id, name, handle, audience, positive, connected, follows_viewer, blocked in rows
    }


def presence_allowed(facts: Mapping[int, PersonFacts]) -> dict[int, MemberPresence | None]:
    """The presence of the members whose facts let the viewer see it (None for the others)."""
    allowed = {user_id for user_id, fact in facts.items() if fact.shows_presence}
    seen = presence_of(user_ids=allowed) if allowed else {}
    return {user_id: seen.get(user_id) for user_id in facts}


def visible_presence(
    *, viewer_id: int, user_ids: Iterable[int]
) -> dict[int, MemberPresence | None]:
    """Each member's presence as the viewer may see it: None where their setting hides it.

    Two queries whatever the number of members: their settings with whether
    each is connected to the viewer or follows the viewer, then the presence
    of those who let the viewer see it.
    """
    return presence_allowed(people_facts(viewer_id=viewer_id, user_ids=user_ids))


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

    @property
    def html(self) -> SafeString:
        """The stage's name, a bar towards the next stage, and the count in words.

        Built here rather than in a template: People shows it on every row.
        The bar is labelled with the same words, so it never relies on colour.
        """
        return format_html(
            '<span class="stage-meter"><span class="stage-name stage-{}">{}</span>'
            ' <progress class="stage-bar" max="{}" value="{}" aria-label="{}: {}">{} of {}'
            '</progress> <span class="stage-count">{}</span></span>',
            self.stage.value,
            self.label,
            self.goal,
            self.bar_value,
            self.label,
            self.words,
            self.bar_value,
            self.goal,
            self.words,
        )


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
    audience, following, wished, follows_viewer = (
        Profile.objects.filter(user_id=other_id)
        .annotate(
            following=Exists(
                Follow.objects.filter(follower_id=viewer_id, followee_id=OuterRef("user_id"))
            ),
            # Only the viewer's own wish: never whether the other wished.
            wished=Exists(
                TalkAgainWish.objects.filter(wisher_id=viewer_id, about_id=OuterRef("user_id"))
            ),
            follows_viewer=Exists(
                Follow.objects.filter(follower_id=OuterRef("user_id"), followee_id=viewer_id)
            ),
        )
        .values_list("presence_visible_to", "following", "wished", "follows_viewer")
        .get()
    )
    connected = bond is not None and bond.connected_at is not None
    shows = shows_presence(audience, connected=connected, follows_viewer=follows_viewer)
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
        connected=connected,
        presence=presence_of(user_ids=[other_id])[other_id] if shows else None,
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
    presence_text: str
    url: str
    blocked: bool = False

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
class PageNumbers:
    """Where one list's page sits: its number, and whether more follow."""

    number: int
    has_more: bool

    def has_other_pages(self) -> bool:
        return self.number > 1 or self.has_more

    def has_previous(self) -> bool:
        return self.number > 1

    def has_next(self) -> bool:
        return self.has_more

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def page_number(asked: int | str | None) -> int:
    """The page asked for (the first when unreadable or below 1)."""
    try:
        return max(1, int(asked or 1))
    except (TypeError, ValueError):
        return 1


@dataclass(frozen=True, slots=True)
class Section:
    """One list on People: a page of its rows, and how to reach the others."""

    key: str
    title: str
    rows: list[PersonRow] | list[HistoryRow]
    page: PageNumbers
    empty: str


@dataclass(frozen=True, slots=True)
class PeoplePage:
    nudges: list[Nudge]
    sections: list[Section]


def people_page(*, viewer_id: int, pages: Mapping[str, int | str | None]) -> PeoplePage:
    """The viewer's People: nudges, then connections, following, followers and history.

    A fixed number of queries whatever the numbers of people and
    conversations, each cheap at any size: every list is sliced on its own
    index without joins (one row more than a page says whether another
    follows), then names, stages, presence rights, presence and the
    history's spheres are read for just the people and conversations shown.
    """
    now = timezone.now()
    mine = Bond.objects.of(viewer_id)
    stalled = list(
        mine.connected()
        .filter(
            Q(last_talked_at__lt=now - STALLED_AFTER)
            | Q(last_talked_at__isnull=True, connected_at__lt=now - STALLED_AFTER)
        )
        .order_by("last_talked_at")
        .values_list("other_id", "last_talked_at", "connected_at")[:NUDGES_SHOWN]
    )
    lists = {
        "connections": (
            mine.connected().order_by("-last_talked_at", "pk"),
            "other_id",
            PEOPLE_PER_PAGE,
        ),
        "following": (
            Follow.objects.filter(follower_id=viewer_id).order_by("-created", "pk"),
            "followee_id",
            PEOPLE_PER_PAGE,
        ),
        "followers": (
            Follow.objects.filter(followee_id=viewer_id).order_by("-created", "pk"),
            "follower_id",
            PEOPLE_PER_PAGE,
        ),
        "history": (
            Participant.objects.of(viewer_id).order_by("-created", "pk"),
            "pk",
            HISTORY_PER_PAGE,
        ),
    }
    numbers: dict[str, PageNumbers] = {}
    shown_ids: dict[str, list[int]] = {}
    for key, (queryset, field, per_page) in lists.items():
        # One more than a page tells whether there is a next one, without a count.
        asked = page_number(pages.get(key))
        offset = (asked - 1) * per_page
        ids = list(queryset.values_list(field, flat=True)[offset : offset + per_page + 1])
        numbers[key] = PageNumbers(number=asked, has_more=len(ids) > per_page)
        shown_ids[key] = ids[:per_page]
    sides = {
        side["pk"]: side
        for side in Participant.objects.filter(pk__in=shown_ids["history"]).values(
            "pk", "partner_id", "created", "rating", "conversation__sphere__name"
        )
    }
    history = [sides[pk] for pk in shown_ids["history"] if pk in sides]

    shown = {row[0] for row in stalled} | {side["partner_id"] for side in history}
    for key, _title, _empty in PERSON_SECTIONS:
        shown.update(shown_ids[key])
    facts = people_facts(viewer_id=viewer_id, user_ids=shown)
    presence = presence_allowed(facts)
    # One reverse() for every row: the pattern with a placeholder handle.
    person_url = reverse("connections:person", kwargs={"handle": "__handle__"})
    rows: dict[int, PersonRow] = {}
    unknown = PersonFacts(
        name="Member", handle="", positive=0, connected=False, shows_presence=False
    )

    def person(user_id: int) -> PersonRow:
        if user_id not in rows:
            fact = facts.get(user_id, unknown)
            seen = presence.get(user_id)
            rows[user_id] = PersonRow(
                user_id=user_id,
                name=fact.name or "Member",
                handle=fact.handle,
                stage=StageView(stage=stage_for(fact.positive), positive=fact.positive),
                connected=fact.connected,
                presence=seen,
                presence_text=presence_words(seen, now=now),
                url=person_url.replace("__handle__", fact.handle)
                if fact.handle and not fact.blocked
                else "",
                blocked=fact.blocked,
            )
        return rows[user_id]

    labels = dict(Conversation.Rating.choices)
    return PeoplePage(
        nudges=[
            Nudge(person=person(user_id), since=last or connected_at or now)
            for user_id, last, connected_at in stalled
        ],
        sections=[
            *(
                Section(
                    key=key,
                    title=title,
                    rows=[person(user_id) for user_id in shown_ids[key]],
                    page=numbers[key],
                    empty=empty,
                )
                for key, title, empty in PERSON_SECTIONS
            ),
            Section(
                key="history",
                title="People you've talked with",
                rows=[
                    HistoryRow(
                        person=person(side["partner_id"]),
                        when=side["created"],
                        sphere=side["conversation__sphere__name"] or "",
                        rating=labels.get(side["rating"], ""),
                    )
                    for side in history
                ],
                page=numbers["history"],
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
