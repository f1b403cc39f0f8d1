"""Reads of members and profiles."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any, TypedDict

from allauth.account.models import EmailAddress
from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.utils import timezone
from django.utils.module_loading import import_string

from chatspheres.accounts.models import DELETED_MEMBER_NAME, Interest, Profile, User
from chatspheres.calls.models import Participant
from chatspheres.connections.models import Follow, Note, TalkAgainWish
from chatspheres.moderation.models import Appeal, Decision
from chatspheres.notifications.kinds import words_for
from chatspheres.notifications.models import Notification, NotificationPreference
from chatspheres.safety.models import Block, Report
from chatspheres.spheres.models import Membership


class PromptAnswerCard(TypedDict):
    """One of the member's answers to a profile prompt ("Ask me about…", "sourdough")."""

    prompt: str
    answer: str


class PublicCard(TypedDict):
    """What a member shows a stranger: never the email address."""

    name: str
    # The address of their page (/people/<handle>/), which opens only for
    # someone who has talked with them or follows them.
    handle: str
    bio: str
    interests: list[str]
    # Their answers to the profile prompts (the prompts app's ProfileAnswer), at most 3.
    prompts: list[PromptAnswerCard]


def user_id_for_session(*, session_key: str) -> int | None:
    """The active member signed in with this session, or None."""
    store_class: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
    # get_user() checks the session's auth hash, so a changed password or a
    # logout elsewhere ends the session here too.
    user = get_user(SimpleNamespace(session=store_class(session_key)))  # type: ignore[arg-type]
    if not user.is_authenticated or not user.is_active:
        return None
    return int(user.pk)


def profile_with_interests(*, user_id: int) -> Profile:
    """A member's profile with interests loaded in one more query."""
    return Profile.objects.prefetch_related("interests").get(user_id=user_id)


def interest_names(profile: Profile) -> list[str]:
    """The profile's interests, alphabetical."""
    return sorted(interest.name for interest in profile.interests.all())


def profile_form_initial(profile: Profile) -> dict[str, Any]:
    """What the profile forms (the profile page, the welcome's first step) start from."""
    return {
        "display_name": profile.display_name,
        "bio": profile.bio,
        "interests": interest_names(profile),
        "time_zone": profile.time_zone,
    }


def public_card(profile: Profile) -> PublicCard:
    """The card shown to a partner."""
    return {
        "name": profile.display_name,
        "handle": profile.handle,
        "bio": profile.bio,
        "interests": interest_names(profile),
        "prompts": [
            {"prompt": answer.get_question_display(), "answer": answer.answer}
            for answer in profile.prompt_answers.all()
        ],
    }


def interest_suggestions(limit: int = 24) -> list[str]:
    """Interests to offer on the profile form, most chosen first: approved names only.

    The form adds the member's own interests, so a name they typed shows for
    them (and only them) until a moderator approves it.
    """
    return list(Interest.objects.suggestable().popular().values_list("name", flat=True)[:limit])


def _person(user: Any) -> dict[str, str]:
    """Someone else, as the member knows them: their public name and handle, nothing private."""
    profile = getattr(user, "profile", None) if user is not None else None
    if profile is None:
        return {"name": DELETED_MEMBER_NAME, "handle": ""}
    return {"name": profile.display_name, "handle": profile.handle}


def _when(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def account_data(*, user_id: int) -> dict[str, Any]:
    """Everything that is the member's own, for "Download my data".

    Other members appear only as the name and handle the member already saw;
    their own side of anything (their rating of a call, their notes, their
    chat lines in a report) is never included.
    """
    user = User.objects.get(pk=user_id)
    profile = Profile.objects.prefetch_related("interests", "prompt_answers").get(user_id=user_id)
    sides = (
        Participant.objects.of(user_id)
        .select_related("conversation__sphere", "partner__profile")
        .order_by("conversation__started_at")
    )
    reports = Report.objects.filter(reporter_id=user_id).select_related("sphere", "conversation")
    notifications = Notification.objects.for_member(user_id).select_related(
        "actor__profile", "sphere"
    )
    return {
        "exported_at": _when(timezone.now()),
        "account": {
            "email": user.email,
            "joined": _when(user.date_joined),
            "last_login": _when(user.last_login),
            "email_addresses": [
                {"email": address.email, "verified": address.verified, "primary": address.primary}
                for address in EmailAddress.objects.filter(user_id=user_id)
            ],
        },
        "profile": {
            "display_name": profile.display_name,
            "handle": profile.handle,
            "bio": profile.bio,
            "time_zone": profile.time_zone,
            "adult_confirmed_at": _when(profile.adult_confirmed_at),
            "who_can_see_when_online": profile.presence_visible_to,
            "announce_follows": profile.announce_follows,
            "soft_start": profile.soft_start,
            "hide_ip_address": profile.hide_ip,
        },
        "interests": interest_names(profile),
        "prompt_answers": [
            {"prompt": answer.get_question_display(), "answer": answer.answer}
            for answer in profile.prompt_answers.all()
        ],
        "spheres": [
            {"sphere": membership.sphere.name, "joined": _when(membership.created)}
            for membership in Membership.objects.filter(user_id=user_id).select_related("sphere")
        ],
        "conversations": [
            {
                "started_at": _when(side.conversation.started_at),
                "ended_at": _when(side.conversation.ended_at),
                "duration_seconds": side.conversation.duration_seconds,
                "sphere": side.conversation.sphere.name,
                "kind": side.conversation.get_kind_display(),
                "how_it_ended": side.conversation.get_end_reason_display(),
                "with": _person(side.partner),
                "my_rating": side.get_rating_display() or None,
                "my_speaking_seconds": side.talk_seconds,
            }
            for side in sides
        ],
        "notes": [
            {
                "about": _person(note.about),
                "text": note.text,
                "written": _when(note.created),
                "edited": _when(note.updated),
            }
            for note in Note.objects.filter(author_id=user_id).select_related("about__profile")
        ],
        "following": [
            {"person": _person(follow.followee), "since": _when(follow.created)}
            for follow in Follow.objects.filter(follower_id=user_id).select_related(
                "followee__profile"
            )
        ],
        "followers": [
            {"person": _person(follow.follower), "since": _when(follow.created)}
            for follow in Follow.objects.filter(followee_id=user_id).select_related(
                "follower__profile"
            )
        ],
        "talk_again_wishes": [
            {"about": _person(wish.about), "made": _when(wish.created)}
            for wish in TalkAgainWish.objects.filter(wisher_id=user_id).select_related(
                "about__profile"
            )
        ],
        "blocked": [
            {"person": _person(block.blocked), "since": _when(block.created)}
            for block in Block.objects.filter(blocker_id=user_id).select_related("blocked__profile")
        ],
        "reports_made": [
            {
                "about": report.subject_label,
                "reason": report.get_reason_display(),
                "details": report.details,
                "made": _when(report.created),
                "state": report.get_state_display(),
                "sphere": report.sphere.name if report.sphere else None,
                # Only the member's own lines: the other person's words are theirs.
                "my_chat_lines": [
                    {"text": line.get("text", ""), "at": line.get("at")}
                    for line in report.chat_excerpt or []
                    if isinstance(line, dict) and line.get("from") == "reporter"
                ],
            }
            for report in reports
        ],
        "moderation_decisions_about_me": [
            {
                "action": decision.get_action_display(),
                "statement_of_reasons": decision.statement,
                "made": _when(decision.created),
                "ends_at": _when(decision.ends_at),
                "lifted_at": _when(decision.lifted_at),
            }
            for decision in Decision.objects.filter(subject_id=user_id)
        ],
        "my_appeals": [
            {
                "against": appeal.decision.get_action_display(),
                "why": appeal.text,
                "made": _when(appeal.created),
                "outcome": appeal.get_state_display(),
                "moderators_answer": appeal.statement,
            }
            for appeal in Appeal.objects.filter(appellant_id=user_id).select_related("decision")
        ],
        "notifications": [
            {
                "kind": notification.get_kind_display(),
                "words": words_for(notification),
                "sent": _when(notification.created),
                "read": _when(notification.read_at),
            }
            for notification in notifications
        ],
        "notification_choices": [
            {
                "kind": choice.get_kind_display(),
                "channel": choice.get_channel_display(),
                "on": choice.enabled,
            }
            for choice in NotificationPreference.objects.filter(user_id=user_id)
        ],
    }
