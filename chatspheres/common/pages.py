"""The public pages every visitor may read: community guidelines, terms, privacy, contact."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_safe

from chatspheres.accounts.models import MAX_INTERESTS

app_name = "pages"


def _page(request: HttpRequest, template: str) -> HttpResponse:
    return render(
        request,
        f"pages/{template}.html",
        {
            "site_name": settings.SITE_NAME,
            "contact_email": settings.CONTACT_EMAIL,
            "max_interests": MAX_INTERESTS,
        },
    )


@require_safe
def guidelines(request: HttpRequest) -> HttpResponse:
    """How members treat each other, and what happens when they don't."""
    return _page(request, "guidelines")


@require_safe
def terms(request: HttpRequest) -> HttpResponse:
    """The agreement a member accepts by signing up."""
    return _page(request, "terms")


@require_safe
def privacy(request: HttpRequest) -> HttpResponse:
    """What ChatSpheres keeps about a member, what it never keeps, and for how long."""
    return _page(request, "privacy")


@require_safe
def contact(request: HttpRequest) -> HttpResponse:
    """Who to write to, and about what (safety reports go through Report)."""
    return _page(request, "contact")


urlpatterns = [
    path("guidelines/", guidelines, name="guidelines"),
    path("terms/", terms, name="terms"),
    path("privacy/", privacy, name="privacy"),
    path("contact/", contact, name="contact"),
]
