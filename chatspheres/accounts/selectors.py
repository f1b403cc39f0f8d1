"""Reads of members and profiles."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, TypedDict

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from chatspheres.accounts.models import Interest, Profile


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
    """Interests to offer on the profile form, most chosen first."""
    return list(Interest.objects.popular().values_list("name", flat=True)[:limit])
