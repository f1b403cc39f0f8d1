"""The moderators' pages, the notice of a decision (with "Appeal"), and the refused sign-in.

Every moderator page asks :func:`can_moderate`: anonymous visitors are sent
to sign in, and signed-in members who do not moderate get 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.moderation import services
from chatspheres.moderation.emails import decided_words, meaning_of
from chatspheres.moderation.forms import AppealDecisionForm, AppealForm, DecisionForm
from chatspheres.moderation.models import Appeal, AuditEntry, Decision
from chatspheres.moderation.selectors import (
    access_appeal,
    access_decision_notice,
    access_interest_to_review,
    access_report,
    appeal_of,
    audit_log_page,
    can_moderate,
    chat_excerpt_of,
    conversation_facts,
    decisions_about_report,
    interests_to_approve,
    open_report_count,
    open_reports,
    pending_appeals,
    restriction_for,
    subject_history,
    time_zone_of,
    until_words,
)
from chatspheres.moderation.statements import appeal_statement_templates, statement_templates
from chatspheres.moderation.tokens import decision_id_from, notice_url

View = Callable[..., HttpResponse]
RECENT_LOG_ENTRIES = 10


def moderator_required(view: View) -> View:
    """Moderators only: sign in first, and members who do not moderate get 403."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not can_moderate(request.user):
            raise DjangoPermissionDenied("Only moderators may see this page.")
        return view(request, *args, **kwargs)

    return wrapper


def _found_or_404(fetch: Callable[[], Any]) -> Any:
    try:
        return fetch()
    except NotFound as missing:
        raise Http404(missing.message) from missing


def _page_number(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) <= 6 else 1


# ---------------------------------------------------------------- the moderators' pages


@moderator_required
@require_http_methods(["GET"])
def queue(request: HttpRequest) -> HttpResponse:
    """Open reports in context, appeals waiting, interest names to approve, the latest log."""
    return render(
        request,
        "moderation/queue.html",
        {
            "rows": open_reports(),
            "open_count": open_report_count(),
            "appeals": pending_appeals(),
            "interests": interests_to_approve(),
            "recent_log": list(AuditEntry.objects.order_by("-at", "-id")[:RECENT_LOG_ENTRIES]),
        },
    )


@moderator_required
@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, report_id: int) -> HttpResponse:
    """One report in full, the reported person's past, and the decision form."""
    report = _found_or_404(lambda: access_report(report_id=report_id))
    templates = statement_templates(reason=report.reason)
    if request.method == "POST":
        form = DecisionForm(request.POST)
        if form.is_valid():
            try:
                services.decision_make(
                    report=report,
                    moderator=request.user,
                    action=form.cleaned_data["action"],
                    statement=form.cleaned_data["statement"],
                    days=form.cleaned_data.get("days"),
                )
            except ApplicationError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(
                    request, f"Decided: {Decision.Action(form.cleaned_data['action']).label}."
                )
                return redirect("moderation:report", report_id=report.pk)
    else:
        # "?action=suspend" starts the statement from that decision's words
        # (the page's script does the same without a reload).
        chosen = request.GET.get("action", "")
        initial: dict[str, Any] = {"days": 7}
        if chosen in templates:
            initial.update(action=chosen, statement=templates[chosen])
        form = DecisionForm(initial=initial)
    history = subject_history(report=report)
    return render(
        request,
        "moderation/report.html",
        {
            "report": report,
            "facts": conversation_facts(report),
            "excerpt": chat_excerpt_of(report),
            "history": history,
            "decisions": decisions_about_report(report=report),
            "form": form,
            "templates": templates,
            "actions": Decision.Action.choices,
        },
    )


@moderator_required
@require_http_methods(["GET", "POST"])
def appeal_detail(request: HttpRequest, appeal_id: int) -> HttpResponse:
    """One appeal with the decision and report it is about, and the answer form."""
    appeal = _found_or_404(lambda: access_appeal(appeal_id=appeal_id))
    if request.method == "POST":
        form = AppealDecisionForm(request.POST)
        if form.is_valid():
            try:
                services.appeal_decide(
                    appeal=appeal,
                    moderator=request.user,
                    outcome=form.cleaned_data["outcome"],
                    statement=form.cleaned_data["statement"],
                )
            except ApplicationError as refusal:
                form.add_error(None, refusal.message)
            else:
                outcome = Appeal.State(form.cleaned_data["outcome"]).label
                messages.success(request, f"Appeal answered: {outcome}.")
                return redirect("moderation:appeal", appeal_id=appeal.pk)
    else:
        form = AppealDecisionForm()
    return render(
        request,
        "moderation/appeal.html",
        {
            "appeal": appeal,
            "decision": appeal.decision,
            "report": appeal.decision.report,
            "excerpt": chat_excerpt_of(appeal.decision.report),
            "form": form,
            "took_decision": appeal.decision.moderator_id == request.user.pk,
            "templates": appeal_statement_templates(),
        },
    )


@moderator_required
@require_http_methods(["GET"])
def audit_log(request: HttpRequest) -> HttpResponse:
    """The whole audit log, newest first, a page at a time."""
    return render(
        request,
        "moderation/log.html",
        {"page": audit_log_page(number=_page_number(request.GET.get("page")))},
    )


@moderator_required
@require_POST
def interest_review(request: HttpRequest, interest_id: int, verdict: str) -> HttpResponse:
    """Approve a typed interest name as a suggestion for everyone, or keep it private."""
    interest = _found_or_404(lambda: access_interest_to_review(interest_id=interest_id))
    approve = verdict == "approve"
    services.interest_review(interest=interest, moderator=request.user, approve=approve)
    messages.success(
        request,
        f"“{interest.name}” is now suggested to everyone."
        if approve
        else f"“{interest.name}” stays private to those who chose it.",
    )
    return redirect(reverse("moderation:queue") + "#interests")


# ---------------------------------------------------------------- the person's side


@require_http_methods(["GET", "POST"])
def notice(request: HttpRequest, token: str) -> HttpResponse:
    """A decision as its subject reads it, with the one "Appeal"; opened from a signed link.

    The signed link is the key, not a session: a suspended or banned person
    cannot sign in, and must still be able to read why and appeal.
    """
    decision = _found_or_404(lambda: access_decision_notice(decision_id=decision_id_from(token)))
    appeal = appeal_of(decision)
    form = AppealForm()
    if request.method == "POST" and appeal is None:
        form = AppealForm(request.POST)
        if form.is_valid():
            try:
                services.appeal_make(decision=decision, text=form.cleaned_data["text"])
            except ApplicationError as refusal:
                form.add_error(None, refusal.message)
            else:
                messages.success(
                    request,
                    "Your appeal is sent. A different moderator will look at it, "
                    "and we'll email you their answer.",
                )
                return redirect(request.path)
    time_zone = time_zone_of(decision.subject_id)
    return render(
        request,
        "moderation/notice.html",
        {
            "decision": decision,
            "appeal": appeal,
            "form": form,
            "decided": decided_words(decision),
            "meaning": meaning_of(decision, time_zone),
            "can_appeal": appeal is None,
        },
    )


def login_refused_response(request: HttpRequest, user: Any) -> HttpResponse | None:
    """The page a suspended or banned member gets instead of signing in, or None if they may."""
    decision = restriction_for(user_id=user.pk)
    if decision is None:
        return None
    time_zone = time_zone_of(user.pk)
    return render(
        request,
        "moderation/login_refused.html",
        {
            "decision": decision,
            "until": until_words(decision.ends_at, time_zone),
            "notice_url": notice_url(decision.pk),
            "appeal": appeal_of(decision),
        },
        status=403,
    )
