"""Pages for a member's own profile."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_safe

from chatspheres.accounts.forms import (
    AccountDeleteForm,
    CallChoicesForm,
    HandleForm,
    PrivacyForm,
    ProfileForm,
)
from chatspheres.accounts.models import User
from chatspheres.accounts.selectors import (
    account_data,
    interest_suggestions,
    profile_form_initial,
    profile_with_interests,
)
from chatspheres.accounts.services import (
    account_delete,
    profile_call_choices_update,
    profile_handle_change,
    profile_privacy_update,
    profile_update,
    profiles_ensure,
)
from chatspheres.calls.ice import relay_available
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError


@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    """Show and save the signed-in member's profile."""
    # An account made outside sign-up (createsuperuser) gets its profile here.
    profiles_ensure(user_ids=[member_id(request)])
    profile = profile_with_interests(user_id=member_id(request))
    initial = profile_form_initial(profile)
    # Three forms, each with its own button; a hidden "form" field says which was sent.
    sent = request.POST.get("form", "profile") if request.method == "POST" else None
    form = ProfileForm(
        request.POST if sent == "profile" else None,
        initial=initial,
        suggestions=interest_suggestions(),
    )
    handle_form = HandleForm(
        request.POST if sent == "handle" else None, initial={"handle": profile.handle}
    )
    privacy_form = PrivacyForm(
        request.POST if sent == "privacy" else None,
        initial={
            "presence_visible_to": profile.presence_visible_to,
            "announce_follows": profile.announce_follows,
        },
    )
    if sent == "profile" and form.is_valid():
        try:
            profile_update(
                profile=profile,
                display_name=form.cleaned_data["display_name"],
                bio=form.cleaned_data["bio"],
                interests=form.cleaned_data["all_interests"],
                time_zone=form.cleaned_data["time_zone"],
            )
        except ApplicationError as refusal:
            form.add_error(None, refusal.message)
        else:
            messages.success(request, "Your profile is saved.")
            return redirect("accounts:profile")
    if sent == "handle" and handle_form.is_valid():
        try:
            profile_handle_change(profile=profile, handle=handle_form.cleaned_data["handle"])
        except ApplicationError as refusal:
            handle_form.add_error("handle", refusal.message)
        else:
            messages.success(request, f"Your handle is now {profile.handle}.")
            return redirect("accounts:profile")
    calls_form = CallChoicesForm(
        request.POST if sent == "calls" else None,
        initial={"soft_start": profile.soft_start, "hide_ip": profile.hide_ip},
        relay=relay_available(),
    )
    if sent == "calls" and calls_form.is_valid():
        try:
            profile_call_choices_update(
                profile=profile,
                soft_start=calls_form.cleaned_data["soft_start"],
                hide_ip=calls_form.cleaned_data["hide_ip"],
            )
        except ApplicationError as refusal:
            calls_form.add_error("hide_ip", refusal.message)
        else:
            messages.success(request, "Your call choices are saved.")
            return redirect("accounts:profile")
    if sent == "privacy" and privacy_form.is_valid():
        profile_privacy_update(
            profile=profile,
            presence_visible_to=privacy_form.cleaned_data["presence_visible_to"],
            announce_follows=privacy_form.cleaned_data["announce_follows"],
        )
        messages.success(request, "Your privacy choices are saved.")
        return redirect("accounts:profile")
    return render(
        request,
        "accounts/profile_form.html",
        {
            "form": form,
            "handle_form": handle_form,
            "privacy_form": privacy_form,
            "calls_form": calls_form,
            "profile": profile,
        },
    )


@login_required
@require_safe
def account_data_download(request: HttpRequest) -> HttpResponse:
    """Serve "Download my data": the member's own data as one JSON file."""
    profiles_ensure(user_ids=[member_id(request)])
    data = account_data(user_id=member_id(request))
    response = JsonResponse(data, json_dumps_params={"indent": 2, "ensure_ascii": False})
    stamp = timezone.now().strftime("%Y-%m-%d")
    response["Content-Disposition"] = f'attachment; filename="chatspheres-data-{stamp}.json"'
    response["Cache-Control"] = "no-store"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def account_delete_confirm(request: HttpRequest) -> HttpResponse:
    """Serve "Delete my account": what goes, what stays, then the address and password."""
    form = AccountDeleteForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        assert isinstance(user, User)
        try:
            account_delete(
                user=user,
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password"],
            )
        except ApplicationError as refusal:
            form.add_error(None, refusal.message)
        else:
            logout(request)
            messages.success(request, "Your account is deleted. Thank you for the conversations.")
            return redirect("home")
    return render(request, "accounts/delete.html", {"form": form})
