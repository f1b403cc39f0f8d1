"""The pages and posts of planned calls: offer times, answer, cancel, the .ics file, Join.

Plain forms throughout: each post redirects to the plan's page with a message,
or shows the form again with what was wrong.
"""

from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from chatspheres.accounts.models import Profile
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError, NotFound, PermissionDenied
from chatspheres.connections import plans
from chatspheres.connections.models import Plan
from chatspheres.connections.plan_times import zone_of


def _partner_or_404(request: HttpRequest, handle: str) -> Profile:
    try:
        return plans.access_plan_partner(user_id=member_id(request), handle=handle)
    except NotFound as missing:
        raise Http404(missing.message) from missing


def _plan_or_404(request: HttpRequest, handle: str, public_id: str) -> Plan:
    try:
        plan = plans.access_plan(user_id=member_id(request), public_id=public_id)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    other = plan.second if plan.first_id == member_id(request) else plan.first
    if other.profile.handle != handle.lower():
        raise Http404("There is no such plan.")
    return plan


def _form(
    request: HttpRequest,
    other: Profile,
    *,
    plan: Plan | None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    viewer = member_id(request)
    my_zone = plans.zone_for(viewer)
    chosen = set(request.POST.getlist("times")) if request.method == "POST" else None
    suggestions = plans.suggestions_for(viewer_id=viewer, other=other)
    suggested = {each.at.isoformat() for each in suggestions}
    # Times typed in (not ticked suggestions) come back in their fields after a refusal.
    posted = request.POST.getlist("times") if request.method == "POST" else []
    custom_times = [value for value in posted if value and value not in suggested]
    return render(
        request,
        "connections/plans/form.html",
        {
            "other": other,
            "plan": plans.plan_view(plan, viewer_id=viewer) if plan is not None else None,
            "suggestions": [
                (
                    each,
                    each.at.isoformat(),
                    # The first suggestion is offered ready to send; the form keeps what was ticked.
                    (index == 0) if chosen is None else each.at.isoformat() in chosen,
                )
                for index, each in enumerate(suggestions)
            ],
            "my_zone": my_zone.key,
            "their_zone": zone_of(other.time_zone).key,
            "error": error,
            "max_options": plans.MAX_OPTIONS,
            "custom_times": custom_times,
        },
        status=status,
    )


def _times(request: HttpRequest) -> list[datetime]:
    return plans.times_from_form(
        request.POST.getlist("times"), zone=plans.zone_for(member_id(request))
    )


@login_required
@require_http_methods(["GET", "POST"])
def plan_new(request: HttpRequest, handle: str) -> HttpResponse:
    """Plan a call: the times that suit both, or others, up to three; the other is asked."""
    try:
        other = _partner_or_404(request, handle)
    except PermissionDenied as refused:
        messages.error(request, refused.message)
        return redirect("connections:person", handle=handle.lower())
    if request.method == "GET":
        return _form(request, other, plan=None)
    try:
        plan = plans.plan_propose(
            proposer_id=member_id(request), other_id=other.user_id, times=_times(request)
        )
    except (NotFound, PermissionDenied):
        raise Http404("There is no such person.") from None
    except ApplicationError as refusal:
        return _form(request, other, plan=None, error=refusal.message, status=400)
    messages.success(request, f"Sent. {other.display_name} can accept a time or suggest others.")
    return redirect("connections:plan", handle=other.handle, public_id=plan.public_id)


@login_required
@require_GET
def plan_detail(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """One plan: the times in both zones, and what the viewer can do with it now."""
    plans.plans_settle(user_id=member_id(request))
    plan = _plan_or_404(request, handle, public_id)
    return render(
        request,
        "connections/plans/detail.html",
        {"plan": plans.plan_view(plan, viewer_id=member_id(request))},
    )


# Which plans each page's list shows: People the agreed calls still to come,
# a person's page every open plan with them (as ``upcoming_plans_for`` and
# ``plans_with`` choose them).
def _in_list(view: plans.PlanView, where: str) -> bool:
    if where == "person":
        return view.state in plans.OPEN_STATES
    starts_at = view.plan.starts_at
    return (
        view.state == Plan.State.CONFIRMED
        and starts_at is not None
        and starts_at >= timezone.now() - plans.join_late()
    )


@login_required
@never_cache
@require_GET
def plan_part(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """The plan's part of a page, fetched again on ``plan.changed`` or when its time comes.

    ``?as=page`` (the default) is the plan page's part; ``?as=people`` and
    ``?as=person`` are its row in that page's list, or 204 when the plan no
    longer belongs there (cancelled, kept, missed).
    """
    plans.plans_settle(user_id=member_id(request))
    plan = _plan_or_404(request, handle, public_id)
    view = plans.plan_view(plan, viewer_id=member_id(request))
    where = request.GET.get("as", "page")
    if where == "page":
        return render(request, "connections/plans/_plan_part.html", {"plan": view})
    if where not in ("people", "person"):
        raise Http404("There is no such part.")
    if not _in_list(view, where):
        return HttpResponse(status=204)
    return render(request, "connections/plans/_plan_item.html", {"plan": view})


@login_required
@require_http_methods(["GET", "POST"])
def plan_suggest(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """Suggest other times: an answer to an offer, or a move of an agreed call."""
    plan = _plan_or_404(request, handle, public_id)
    other = (plan.second if plan.first_id == member_id(request) else plan.first).profile
    if request.method == "GET":
        return _form(request, other, plan=plan)
    try:
        plans.plan_suggest(user_id=member_id(request), public_id=public_id, times=_times(request))
    except NotFound as missing:
        raise Http404(missing.message) from missing
    except ApplicationError as refusal:
        return _form(request, other, plan=plan, error=refusal.message, status=400)
    messages.success(request, f"Sent. {other.display_name} can accept one of your times.")
    return redirect("connections:plan", handle=other.handle, public_id=public_id)


def _after_post(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    return redirect("connections:plan", handle=handle.lower(), public_id=public_id)


@login_required
@require_POST
def plan_accept(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """Accept this time: the call is agreed, and both will be reminded."""
    _plan_or_404(request, handle, public_id)
    try:
        (at,) = plans.times_from_form([request.POST.get("at", "")], zone=zone_of("UTC"))
        plan = plans.plan_accept(user_id=member_id(request), public_id=public_id, at=at)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    except (ApplicationError, ValueError) as refusal:
        words = refusal.message if isinstance(refusal, ApplicationError) else "Choose a time."
        messages.error(request, words)
        return _after_post(request, handle, public_id)
    view = plans.plan_view(plan, viewer_id=member_id(request))
    assert view.when is not None
    messages.success(request, f"Planned for {view.when.day}: {view.when.both}.")
    return _after_post(request, handle, public_id)


@login_required
@require_POST
def plan_cancel(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """Cancel plan: the other is told, and no reminder will come."""
    _plan_or_404(request, handle, public_id)
    try:
        plans.plan_cancel(user_id=member_id(request), public_id=public_id)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    except ApplicationError as refusal:
        messages.error(request, refusal.message)
        return _after_post(request, handle, public_id)
    messages.success(request, "Plan cancelled.")
    return redirect("connections:person", handle=handle.lower())


@login_required
@require_GET
def plan_calendar(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """Add to calendar: the agreed call as an .ics file, in the viewer's zone."""
    plan = _plan_or_404(request, handle, public_id)
    try:
        body = plans.plan_calendar(plan=plan, viewer_id=member_id(request))
    except ApplicationError as refusal:
        raise Http404(refusal.message) from refusal
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="call-with-{handle.lower()}.ics"'
    return response


@login_required
@require_GET
def plan_join(request: HttpRequest, handle: str, public_id: str) -> HttpResponse:
    """Join: the direct call with the other, answering their ring if they are already ringing."""
    plan = _plan_or_404(request, handle, public_id)
    refusal = plans.join_refusal(plan)
    if refusal is not None:
        messages.error(request, refusal)
        return _after_post(request, handle, public_id)
    return redirect(plans.join_url(user_id=member_id(request), plan=plan))
