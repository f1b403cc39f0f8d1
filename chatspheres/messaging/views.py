"""Messages: the list of threads, a thread page, sending, reading, older pages, settings, reporting.

Every page works as plain form posts; the thread's script (``messages.js``)
sends with fetch and shows what arrives live.
"""

from __future__ import annotations

import uuid

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatspheres.accounts.models import Profile
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.common.header import header_counts
from chatspheres.common.http import wants_json
from chatspheres.common.ratelimit import RateLimited
from chatspheres.messaging.forms import ComposeForm, MessagingSettingsForm
from chatspheres.messaging.models import MESSAGE_MAX_LENGTH
from chatspheres.messaging.selectors import (
    access_correspondent,
    access_message,
    read_receipts_setting,
    thread_list,
    thread_page,
    unread_total,
)
from chatspheres.messaging.services import (
    message_report,
    message_send,
    messaging_settings_set,
    thread_mark_read,
)
from chatspheres.safety.forms import ReportForm


def _me(request: HttpRequest) -> Profile:
    # The profile the time zone middleware loaded for this request already.
    return request.user.profile  # type: ignore[union-attr]


def _correspondent_or_404(request: HttpRequest, handle: str) -> Profile:
    try:
        return access_correspondent(viewer_id=member_id(request), handle=handle)
    except NotFound as missing:
        raise Http404(missing.message) from missing


def _cursor(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@login_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """The member's threads, the latest first, with unread counts, and their settings."""
    user_id = member_id(request)
    return render(
        request,
        "messaging/inbox.html",
        {
            "threads": thread_list(user_id=user_id),
            # The header reads the same count: one query for both.
            "unread": header_counts(request).messages,
            "settings_form": MessagingSettingsForm(
                initial={"read_receipts": read_receipts_setting(user_id=user_id)}
            ),
        },
    )


@login_required
@require_GET
def thread(request: HttpRequest, handle: str) -> HttpResponse:
    """The thread with a person: the newest messages at the bottom; viewing it reads it."""
    other = _correspondent_or_404(request, handle)
    me = _me(request)
    before = _cursor(request.GET.get("before"))
    page = thread_page(viewer=me, other=other, before=before)
    if before is None and page.side is not None and page.side.unread:
        thread_mark_read(user_id=me.user_id, other=other)
    return render(
        request,
        "messaging/thread.html",
        {
            "page": page,
            "other": other,
            "form": ComposeForm(initial={"key": uuid.uuid4().hex}),
            "max_length": MESSAGE_MAX_LENGTH,
            "time_zone": _me(request).time_zone,
            "before": before,
        },
    )


@login_required
@require_GET
def older(request: HttpRequest, handle: str) -> HttpResponse:
    """The page of messages before a cursor (an id), for "Load older messages" (HTML fragment)."""
    other = _correspondent_or_404(request, handle)
    page = thread_page(viewer=_me(request), other=other, before=_cursor(request.GET.get("before")))
    response = render(request, "messaging/_messages.html", {"page": page, "other": other})
    response["X-Older-Cursor"] = str(page.older_cursor or "")
    return response


@login_required
@require_POST
def send(request: HttpRequest, handle: str) -> HttpResponse:
    """Send a message; a retry with the same key answers with the message already stored."""
    user_id = member_id(request)
    form = ComposeForm(request.POST)
    body = request.POST.get("body", "")
    key = request.POST.get("key", "")
    try:
        sent = message_send(sender_id=user_id, handle=handle, body=body, client_key=key)
    except NotFound as missing:
        if wants_json(request):
            return JsonResponse({"error": missing.code, "message": missing.message}, status=404)
        raise Http404(missing.message) from missing
    except RateLimited:
        raise  # a 429 page or JSON, with Retry-After (common.middleware)
    except ApplicationError as refusal:
        if wants_json(request):
            return JsonResponse({"error": refusal.code, "message": refusal.message}, status=400)
        other = _correspondent_or_404(request, handle)
        form = ComposeForm(initial={"body": body, "key": uuid.uuid4().hex})
        form.is_valid()
        page = thread_page(viewer=_me(request), other=other)
        return render(
            request,
            "messaging/thread.html",
            {
                "page": page,
                "other": other,
                "form": form,
                "error": refusal.message,
                "body": body,
                "max_length": MESSAGE_MAX_LENGTH,
                "time_zone": _me(request).time_zone,
            },
            status=400,
        )
    if wants_json(request):
        card = sent.card
        return JsonResponse(
            {
                "created": sent.created,
                "message": {
                    "id": card.id,
                    "key": card.key,
                    "mine": card.mine,
                    "author": card.author,
                    "html": card.html,
                    "created": card.created.isoformat(),
                },
            },
            status=201 if sent.created else 200,
        )
    del form
    return redirect(reverse("messaging:thread", args=[handle]) + "#compose")


@login_required
@require_POST
def read(request: HttpRequest, handle: str) -> HttpResponse:
    """Mark the thread read (the open, visible tab calls this as messages arrive)."""
    other = _correspondent_or_404(request, handle)
    unread = thread_mark_read(
        user_id=member_id(request), other=other, upto=_cursor(request.POST.get("upto"))
    )
    if wants_json(request):
        return JsonResponse({"unread": unread})
    return redirect("messaging:thread", handle=handle)


@login_required
@require_GET
def unread(request: HttpRequest) -> JsonResponse:
    """The member's unread count, for a tab that reconnected as a new tab."""
    return JsonResponse({"unread": unread_total(user_id=member_id(request))})


@login_required
@require_POST
def settings_save(request: HttpRequest) -> HttpResponse:
    """Save the "Read receipts" switch."""
    form = MessagingSettingsForm(request.POST)
    form.is_valid()
    messaging_settings_set(
        user_id=member_id(request), read_receipts=bool(form.cleaned_data.get("read_receipts"))
    )
    if wants_json(request):
        return JsonResponse({"saved": True})
    flash.success(request, "Your message settings are saved.")
    return redirect("messaging:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, message_id: int) -> HttpResponse:
    """Report a message from the other person: the form (GET), then the report (POST)."""
    user_id = member_id(request)
    try:
        message = access_message(viewer_id=user_id, message_id=message_id)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    if message.sender_id == user_id:
        raise Http404("There is no such message.")
    author = Profile.objects.get(user_id=message.sender_id)
    form = ReportForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            message_report(
                reporter_id=user_id,
                message=message,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
                also_block=form.cleaned_data["also_block"],
            )
        except RateLimited:
            raise
        except ApplicationError as refusal:
            form.add_error(None, refusal.message)
        else:
            if wants_json(request):
                return JsonResponse({"reported": True})
            flash.success(
                request, "Thanks. A moderator will look at it; we'll tell you what they decide."
            )
            if form.cleaned_data["also_block"]:
                return redirect("messaging:inbox")
            return redirect("messaging:thread", handle=author.handle)
    return render(
        request,
        "messaging/report.html",
        {"form": form, "message": message, "author": author},
        status=400 if request.method == "POST" else 200,
    )
