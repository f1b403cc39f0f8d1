"""Sphere pages: the list, one sphere, joining and leaving."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from chatspheres.common.errors import NotFound
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.selectors import sphere_by_slug, sphere_listings
from chatspheres.spheres.services import sphere_join, sphere_leave


def _viewer_id(request: HttpRequest) -> int | None:
    return request.user.pk if request.user.is_authenticated else None


def sphere_list(request: HttpRequest) -> HttpResponse:
    """All spheres, with how many people are online in each."""
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
