"""The notifications list, the header's panel, marking read, and per-kind preferences."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatspheres.common.auth import member_id
from chatspheres.common.errors import NotFound
from chatspheres.common.header import header_counts
from chatspheres.common.http import redirect_back, wants_json
from chatspheres.notifications.kinds import email_switch_label
from chatspheres.notifications.models import Channel
from chatspheres.notifications.selectors import (
    access_notification,
    latest_notifications,
    notifications_page,
    page_number,
    switchable_kinds,
    unread_count,
)
from chatspheres.notifications.services import (
    notification_email_unsubscribe,
    notification_mark_read,
    notification_preferences_set,
    notifications_mark_all_read,
)
from chatspheres.notifications.unsubscribe import read_unsubscribe_token


@login_required
@require_GET
def notification_list(request: HttpRequest) -> HttpResponse:
    """Every notification of the member, newest first, a page at a time."""
    user_id = member_id(request)
    page = notifications_page(user_id=user_id, number=page_number(request.GET.get("page")))
    return render(
        request,
        "notifications/list.html",
        # The header reads the same count: one query for both.
        {"page": page, "unread": header_counts(request).notifications},
    )


@login_required
@require_GET
def notification_panel(request: HttpRequest) -> HttpResponse:
    """The newest few, as the header's panel shows them (an HTML fragment)."""
    user_id = member_id(request)
    return render(
        request,
        "notifications/_panel.html",
        {
            "notifications": latest_notifications(user_id=user_id),
            "unread": unread_count(user_id=user_id),
        },
    )


@login_required
@require_GET
def notification_unread(request: HttpRequest) -> JsonResponse:
    """The member's unread count, for a tab that reconnected as a new tab."""
    return JsonResponse({"unread": unread_count(user_id=member_id(request))})


@login_required
@require_POST
def notification_read(request: HttpRequest, notification_id: int) -> HttpResponse:
    """Mark one notification read."""
    user_id = member_id(request)
    try:
        notification = access_notification(user_id=user_id, notification_id=notification_id)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    unread = notification_mark_read(user_id=user_id, notification=notification)
    if wants_json(request):
        return JsonResponse({"unread": unread})
    return redirect_back(request, "notifications:list")


@login_required
@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every notification read."""
    notifications_mark_all_read(user_id=member_id(request))
    if wants_json(request):
        return JsonResponse({"unread": 0})
    messages.success(request, "All your notifications are marked read.")
    return redirect_back(request, "notifications:list")


@login_required
@require_POST
def notification_preferences(request: HttpRequest) -> HttpResponse:
    """Save which kinds the member hears about, on the site and by email (the profile's section)."""
    user_id = member_id(request)
    for channel, field in ((Channel.SITE, "kinds"), (Channel.EMAIL, "email_kinds")):
        known = set(switchable_kinds(channel=channel))
        wanted = [kind for kind in request.POST.getlist(field) if kind in known]
        notification_preferences_set(user_id=user_id, enabled_kinds=wanted, channel=channel)
    messages.success(request, "Your notification choices are saved.")
    return redirect("accounts:profile")


# No sign-in and no CSRF token: the signed token is the authority, and mail
# programs post RFC 8058's "List-Unsubscribe=One-Click" with no cookies.
@csrf_exempt
@require_http_methods(["GET", "POST"])
def email_unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks to confirm with a button; POST (ours or a mail program's one click) turns it off."""
    unsubscription = read_unsubscribe_token(token)
    if unsubscription is None:
        return render(
            request,
            "notifications/unsubscribe.html",
            {"invalid": True},
            status=400,
        )
    label = email_switch_label(unsubscription.kind)
    done = request.method == "POST"
    if done:
        notification_email_unsubscribe(user_id=unsubscription.user_id, kind=unsubscription.kind)
    return render(
        request,
        "notifications/unsubscribe.html",
        {"label": label, "done": done, "token": token},
    )
