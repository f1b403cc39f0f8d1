"""Sphere pages: the list, one sphere, joining, leaving and watching for someone waiting."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.selectors import sphere_by_slug, sphere_listings
from chatspheres.spheres.services import (
    sphere_join,
    sphere_leave,
    sphere_watch_create,
    sphere_watch_delete,
)


def _viewer_id(request: HttpRequest) -> int | None:
    return request.user.pk if request.user.is_authenticated else None


def sphere_list(request: HttpRequest) -> HttpResponse:
    """All spheres, busiest first, with how many people are online in each."""
    return render(
        request, "spheres/list.html", {"listings": sphere_listings(user_id=_viewer_id(request))}
    )


def sphere_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """One sphere: what it is about, who is online, and the way into a conversation."""
    try:
        listing = sphere_by_slug(slug=slug, user_id=_viewer_id(request))
    except NotFound as missing:
        raise Http404(missing.message) from missing
    return render(request, "spheres/detail.html", {"listing": listing, "sphere": listing.sphere})


@login_required
@require_POST
def join(request: HttpRequest, slug: str) -> HttpResponse:
    """Become a member of the sphere."""
    sphere = get_object_or_404(Sphere, slug=slug)
    sphere_join(user=request.user, sphere=sphere)  # type: ignore[arg-type]
    messages.success(request, f"Welcome to {sphere.name}.")
    return redirect(sphere)


@login_required
@require_POST
def leave(request: HttpRequest, slug: str) -> HttpResponse:
    """Stop being a member of the sphere."""
    sphere = get_object_or_404(Sphere, slug=slug)
    sphere_leave(user=request.user, sphere=sphere)  # type: ignore[arg-type]
    messages.info(request, f"You left {sphere.name}.")
    return redirect(sphere)


@login_required
@require_POST
def watch(request: HttpRequest, slug: str) -> HttpResponse:
    """Turn "Tell me when someone's here" on (watch=on) or off for the sphere."""
    sphere = get_object_or_404(Sphere, slug=slug)
    if request.POST.get("watch") == "on":
        try:
            sphere_watch_create(user_id=member_id(request), sphere_id=sphere.pk)
        except ApplicationError as refusal:
            messages.error(request, refusal.message)
        else:
            messages.success(
                request, f"We'll tell you when someone starts waiting in {sphere.name}."
            )
    else:
        sphere_watch_delete(user_id=member_id(request), sphere_id=sphere.pk)
        messages.info(request, f"You won't be told when someone waits in {sphere.name}.")
    return redirect(sphere)
