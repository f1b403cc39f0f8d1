"""Pages for a member's own profile."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chatspheres.accounts.forms import ProfileForm
from chatspheres.accounts.selectors import (
    interest_names,
    interest_suggestions,
    profile_with_interests,
)
from chatspheres.accounts.services import profile_update, profiles_ensure
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError


@login_required
def profile_edit(request: HttpRequest) -> HttpResponse:
    """Show and save the signed-in member's profile."""
    # An account made outside sign-up (createsuperuser) gets its profile here.
    profiles_ensure(user_ids=[member_id(request)])
    profile = profile_with_interests(user_id=member_id(request))
    initial = {
        "display_name": profile.display_name,
        "bio": profile.bio,
        "interests": interest_names(profile),
        "time_zone": profile.time_zone,
    }
    form = ProfileForm(request.POST or None, initial=initial, suggestions=interest_suggestions())
    if request.method == "POST" and form.is_valid():
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
    return render(request, "accounts/profile_form.html", {"form": form, "profile": profile})
