"""Block, Unblock and Report: plain form pages that also answer the dialogs' fetch() in JSON.

Without JavaScript, "Block" opens a page that asks to confirm and "Report"
a page with the report form; with it, the same addresses answer the
dialogs (``Accept: application/json``).
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from chatspheres.common.auth import member_id
from chatspheres.common.errors import BAD_REASON, REPORT_TOO_LONG, ApplicationError, NotFound
from chatspheres.common.http import redirect_back, wants_json
from chatspheres.common.ratelimit import RateLimited
from chatspheres.safety import services
from chatspheres.safety.forms import ReportForm
from chatspheres.safety.selectors import SafetyTarget, access_safety_target, has_blocked

ACKNOWLEDGEMENT = "Thanks. A moderator will look at it; we'll tell you what they decide."


def _target_or_404(request: HttpRequest, handle: str) -> SafetyTarget:
    try:
        return access_safety_target(viewer_id=member_id(request), handle=handle)
    except NotFound as missing:
        raise Http404(missing.message) from missing


def _next_url(request: HttpRequest) -> str:
    """Where to go back to after the confirm page: a page of this site, else the profile."""
    target = request.POST.get("next") or request.GET.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("accounts:profile")


def _refused(request: HttpRequest, refusal: ApplicationError) -> JsonResponse:
    return JsonResponse({"error": refusal.code, "message": refusal.message}, status=400)


def blocked_words(name: str) -> str:
    return f"You blocked {name}. They won't be told."


@login_required
@require_http_methods(["GET", "POST"])
def block(request: HttpRequest, handle: str) -> HttpResponse:
    """Ask to confirm (GET), then block (POST): a call with them ends, and they are not told."""
    target = _target_or_404(request, handle)
    viewer_id = member_id(request)
    if request.method == "GET":
        return render(
            request,
            "safety/block_confirm.html",
            {
                "target": target,
                "next": _next_url(request),
                "already": has_blocked(blocker_id=viewer_id, blocked_id=target.user_id),
            },
        )
    try:
        services.block_create(blocker_id=viewer_id, blocked_id=target.user_id)
    except RateLimited:
        raise  # a 429 page or JSON, with Retry-After (common.middleware)
    except ApplicationError as refusal:
        if wants_json(request):
            return _refused(request, refusal)
        messages.error(request, refusal.message)
        return redirect_back(request, _next_url(request))
    words = blocked_words(target.name)
    if wants_json(request):
        return JsonResponse({"blocked": True, "message": words})
    messages.success(request, words)
    return redirect_back(request, _next_url(request))


@login_required
@require_POST
def unblock(request: HttpRequest, handle: str) -> HttpResponse:
    """Unblock someone from "Blocked people"; follows and wishes do not come back."""
    target = _target_or_404(request, handle)
    try:
        services.block_remove(blocker_id=member_id(request), blocked_id=target.user_id)
    except RateLimited:
        raise
    except ApplicationError as refusal:
        if wants_json(request):
            return _refused(request, refusal)
        messages.error(request, refusal.message)
        return redirect_back(request, reverse("accounts:profile"))
    words = f"You unblocked {target.name}."
    if wants_json(request):
        return JsonResponse({"blocked": False, "message": words})
    messages.success(request, words)
    return redirect_back(request, reverse("accounts:profile"))


@login_required
@require_http_methods(["GET", "POST"])
def report(request: HttpRequest, handle: str) -> HttpResponse:
    """The report form (GET), then the report (POST), acknowledged at once."""
    target = _target_or_404(request, handle)
    if request.method == "GET":
        form = ReportForm(initial={"conversation": request.GET.get("conversation", "")})
        return render(
            request,
            "safety/report.html",
            {"target": target, "form": form, "next": _next_url(request)},
        )
    form = ReportForm(request.POST)
    if form.is_valid():
        try:
            services.report_create(
                reporter_id=member_id(request),
                subject_id=target.user_id,
                reason=form.cleaned_data["reason"],
                details=form.cleaned_data["details"],
                conversation_public_id=form.cleaned_data["conversation"],
                also_block=form.cleaned_data["also_block"],
            )
        except RateLimited:
            raise
        except ApplicationError as refusal:
            if wants_json(request):
                return _refused(request, refusal)
            form.add_error(None, refusal.message)
        else:
            blocked = bool(form.cleaned_data["also_block"])
            if wants_json(request):
                return JsonResponse(
                    {
                        "reported": True,
                        "blocked": blocked,
                        "message": ACKNOWLEDGEMENT,
                        "blocked_message": blocked_words(target.name) if blocked else "",
                    }
                )
            return render(
                request,
                "safety/report_sent.html",
                {
                    "target": target,
                    "acknowledgement": ACKNOWLEDGEMENT,
                    "blocked": blocked,
                    "next": _next_url(request),
                },
            )
    if wants_json(request):
        code = BAD_REASON if "reason" in form.errors else REPORT_TOO_LONG
        return JsonResponse({"error": code.name, "message": code.message}, status=400)
    return render(
        request,
        "safety/report.html",
        {"target": target, "form": form, "next": _next_url(request)},
        status=400,
    )
