"""The welcome's three steps; each can be skipped, and each works without JavaScript."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from chatspheres.accounts.onboarding.forms import SpherePickForm, WelcomeProfileForm
from chatspheres.accounts.selectors import (
    interest_suggestions,
    profile_form_initial,
    profile_with_interests,
)
from chatspheres.accounts.services import profile_update, profiles_ensure
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.selectors import sphere_listings
from chatspheres.spheres.services import spheres_join

STEPS = ("Your profile", "Pick a few spheres", "Start a conversation")


def _step(number: int) -> dict[str, Any]:
    return {"step": number, "steps": len(STEPS), "step_names": STEPS}


@login_required
def welcome_profile(request: HttpRequest) -> HttpResponse:
    """Step 1 of 3: your name, a line about you, and your interests."""
    profiles_ensure(user_ids=[member_id(request)])
    profile = profile_with_interests(user_id=member_id(request))
    initial = profile_form_initial(profile)
    form = WelcomeProfileForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        suggestions=interest_suggestions(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            profile_update(
                profile=profile,
                display_name=form.cleaned_data["display_name"],
                bio=form.cleaned_data["bio"],
                interests=form.cleaned_data["all_interests"],
                time_zone=profile.time_zone,
            )
        except ApplicationError as refusal:
            form.add_error(None, refusal.message)
        else:
            return redirect("welcome:spheres")
    return render(request, "accounts/welcome/profile.html", {"form": form, **_step(1)})


@login_required
def welcome_spheres(request: HttpRequest) -> HttpResponse:
    """Step 2 of 3: join a few spheres at once, busiest first."""
    listings = sphere_listings(user_id=member_id(request))
    open_to_join = [listing for listing in listings if not listing.is_member]
    form = SpherePickForm(
        request.POST if request.method == "POST" else None,
        choices=[(listing.sphere.slug, listing.sphere.name) for listing in open_to_join],
    )
    if request.method == "POST" and form.is_valid():
        picked = set(form.cleaned_data["spheres"])
        spheres_join(
            user=request.user,  # type: ignore[arg-type]
            spheres=Sphere.objects.filter(slug__in=picked),
        )
        return redirect("welcome:start")
    picked = set(form["spheres"].value() or [])
    return render(
        request,
        "accounts/welcome/spheres.html",
        {
            "form": form,
            "listings": listings,
            "picked": picked,
            "joined_all": not open_to_join,
            **_step(2),
        },
    )


@login_required
def welcome_start(request: HttpRequest) -> HttpResponse:
    """Step 3 of 3: a first conversation in the busiest sphere the member joined."""
    joined = [
        listing for listing in sphere_listings(user_id=member_id(request)) if listing.is_member
    ]
    return render(
        request,
        "accounts/welcome/start.html",
        {"busiest": joined[0] if joined else None, "joined": joined, **_step(3)},
    )
