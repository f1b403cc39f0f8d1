"""The site's URLs plus views that fail on purpose, for the error-page tests."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from chatspheres.common.ratelimit import RateLimited
from chatspheres.urls import handler403, handler404, handler429, handler500, urlpatterns

__all__ = ["handler403", "handler404", "handler429", "handler500", "urlpatterns"]


def limited(request: HttpRequest) -> HttpResponse:
    raise RateLimited(retry_after=125)


def broken(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


urlpatterns = [
    path("test-only/limited/", limited),
    path("test-only/broken/", broken),
    path("test-only/forbidden/", forbidden),
    *urlpatterns,
]
