"""People, a person's page, and the small posts behind Follow, talk again and notes.

Every post works as a plain form (it redirects back with a message) and as a
fetch from the reflection screen (``Accept: application/json``: it answers
with the new state in JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.common.http import redirect_back, wants_json
from chatspheres.common.ratelimit import RateLimited
from chatspheres.connections import services
from chatspheres.connections.models import NOTE_MAX_LENGTH
from chatspheres.connections.plans import plans_settle, plans_with, upcoming_plans_for
from chatspheres.connections.selectors import (
    access_person,
    people_page,
    person_page,
    reflection_state,
)
from chatspheres.safety.selectors import has_blocked

NOTE_PLACEHOLDER = "What did they share that you want to remember?"
SECTION_KEYS = ("connections", "following", "followers", "history")

View = Callable[..., HttpResponse]


def _person_or_404(request: HttpRequest, handle: str) -> Profile:
    try:
        return access_person(viewer_id=member_id(request), handle=handle)
    except NotFound as missing:
        raise Http404(missing.message) from missing


def _conversation_id(request: HttpRequest, other_id: int) -> int | None:
    """The conversation named in the post, if it was between the member and this person."""
    public_id = request.POST.get("conversation", "")
    if not public_id:
        return None
    return _conversation_pk(member_id(request), other_id, public_id)


def _conversation_pk(viewer_id: int, other_id: int, public_id: str) -> int | None:
    """The conversation with this public id, if it was between the viewer and this person."""
    return (
        Conversation.objects.between(viewer_id, other_id)
        .filter(public_id=public_id)
        .values_list("pk", flat=True)
        .first()
    )


def _back(request: HttpRequest, profile: Profile) -> HttpResponse:
    """Where a plain form post returns: the page it came from (on this site), or the person's."""
    return redirect_back(request, reverse("connections:person", kwargs={"handle": profile.handle}))


def person_action(view: Callable[..., tuple[dict[str, Any], str]]) -> View:
    """A post about one person: checked access, then JSON or a redirect with the words."""

    @login_required
    @require_POST
    @wraps(view)
    def wrapper(request: HttpRequest, handle: str, **kwargs: Any) -> HttpResponse:
        try:
            profile = access_person(viewer_id=member_id(request), handle=handle)
            state, words = view(request, profile, **kwargs)
        except NotFound as missing:
            if wants_json(request):
                return JsonResponse({"error": missing.code, "message": missing.message}, status=404)
            raise Http404(missing.message) from missing
        except RateLimited:
            raise  # a 429 page or JSON, with Retry-After (common.middleware)
        except ApplicationError as refusal:
            if wants_json(request):
                return JsonResponse({"error": refusal.code, "message": refusal.message}, status=400)
            messages.error(request, refusal.message)
            return _back(request, profile)
        if wants_json(request):
            return JsonResponse({**state, "message": words})
        messages.success(request, words)
        return _back(request, profile)

    return wrapper


# ---------------------------------------------------------------- pages


@login_required
@require_GET
def people(request: HttpRequest) -> HttpResponse:
    """The member's People: quiet connections first, then each list, one page at a time."""
    pages = {key: request.GET.get(key) for key in SECTION_KEYS}
    page = people_page(viewer_id=member_id(request), pages=pages)

    def page_link(key: str, number: int) -> str:
        # Each list pages on its own; the others stay where they were.
        query = {k: v for k, v in pages.items() if v and k != key}
        query[key] = str(number)
        return f"?{urlencode(query)}#{key}"

    sections = [
        (
            section,
            page_link(section.key, section.page.previous_page_number())
            if section.page.has_previous()
            else "",
            page_link(section.key, section.page.next_page_number())
            if section.page.has_next()
            else "",
        )
        for section in page.sections
    ]
    plans_settle(user_id=member_id(request))
    return render(
        request,
        "connections/people.html",
        {
            "nudges": page.nudges,
            "sections": sections,
            "plans": upcoming_plans_for(viewer_id=member_id(request)),
        },
    )


@login_required
@require_GET
def person(request: HttpRequest, handle: str) -> HttpResponse:
    """One person, as the member knows them; 404 to anyone who has not met or followed them."""
    profile = _person_or_404(request, handle)
    if profile.user_id == member_id(request):
        return redirect("accounts:profile")
    page = person_page(viewer_id=member_id(request), profile=profile)
    plans_settle(user_id=member_id(request))
    return render(
        request,
        "connections/person.html",
        {
            "person": page,
            "note_placeholder": NOTE_PLACEHOLDER,
            "note_max_length": NOTE_MAX_LENGTH,
            "plans": plans_with(viewer_id=member_id(request), other_id=profile.user_id),
        },
    )


@login_required
@require_GET
def after_conversation(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """What the reflection screen shows as already chosen about the partner (JSON)."""
    viewer_id = member_id(request)
    blocker = _blocker_of(viewer_id, handle, public_id)
    if blocker is not None:
        # Blocked by the partner: the screen looks as after any first call, so
        # the end of the call says nothing (the blocked person is never told).
        return JsonResponse({"following": False, "wished": False, "connected": False, "note": None})
    profile = _person_or_404(request, handle)
    conversation_id = _conversation_pk(viewer_id, profile.user_id, public_id)
    if conversation_id is None:
        raise Http404("There is no such conversation.")
    return JsonResponse(
        reflection_state(
            viewer_id=viewer_id, other_id=profile.user_id, conversation_id=conversation_id
        )
    )


def _blocker_of(viewer_id: int, handle: str, public_id: str) -> int | None:
    """The partner of that conversation, if they blocked the viewer (else None)."""
    other_id = (
        Profile.objects.filter(handle=handle.lower()).values_list("user_id", flat=True).first()
    )
    if other_id is None or not has_blocked(blocker_id=other_id, blocked_id=viewer_id):
        return None
    if _conversation_pk(viewer_id, other_id, public_id) is None:
        return None
    return other_id


# ---------------------------------------------------------------- posts


@person_action
def follow(request: HttpRequest, profile: Profile) -> tuple[dict[str, Any], str]:
    services.follow_create(follower_id=member_id(request), followee_id=profile.user_id)
    return {"following": True}, f"You follow {profile.display_name}."


@person_action
def unfollow(request: HttpRequest, profile: Profile) -> tuple[dict[str, Any], str]:
    services.follow_delete(follower_id=member_id(request), followee_id=profile.user_id)
    return {"following": False}, f"You no longer follow {profile.display_name}."


def talk_again_words(name: str, *, wished: bool, connected: bool) -> str:
    """What the wisher is told: never anything about the other's wish until both wished."""
    if connected:
        return f"You and {name} both want to talk again."
    if wished:
        return f"Saved. {name} will only know if they'd like to talk again too."
    return "Taken back."


@person_action
def talk_again(request: HttpRequest, profile: Profile) -> tuple[dict[str, Any], str]:
    outcome = services.talk_again_wish(
        wisher_id=member_id(request),
        about_id=profile.user_id,
        conversation_id=_conversation_id(request, profile.user_id),
    )
    words = talk_again_words(profile.display_name, wished=True, connected=outcome.connected)
    return {"wished": True, "connected": outcome.connected}, words


@person_action
def talk_again_withdraw(request: HttpRequest, profile: Profile) -> tuple[dict[str, Any], str]:
    services.talk_again_withdraw(wisher_id=member_id(request), about_id=profile.user_id)
    words = talk_again_words(profile.display_name, wished=False, connected=False)
    return {"wished": False, "connected": False}, words


@person_action
def note_add(request: HttpRequest, profile: Profile) -> tuple[dict[str, Any], str]:
    note = services.note_create(
        author_id=member_id(request),
        about_id=profile.user_id,
        text=request.POST.get("text", ""),
        conversation_id=_conversation_id(request, profile.user_id),
    )
    return {"note": {"id": note.pk, "text": note.text}}, "Note saved. Only you can see it."


@person_action
def note_edit(request: HttpRequest, profile: Profile, note_id: int) -> tuple[dict[str, Any], str]:
    note = services.note_update(
        author_id=member_id(request), note_id=note_id, text=request.POST.get("text", "")
    )
    return {"note": {"id": note.pk, "text": note.text}}, "Note saved. Only you can see it."


@person_action
def note_remove(request: HttpRequest, profile: Profile, note_id: int) -> tuple[dict[str, Any], str]:
    services.note_delete(author_id=member_id(request), note_id=note_id)
    return {"note": None}, "Note deleted."
