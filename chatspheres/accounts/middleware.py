"""Show times in the viewer's own time zone."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class TimezoneMiddleware:
    """Activates the signed-in member's time zone for the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        zone = None
        user = request.user
        if user.is_authenticated:
            # The sign-in backend read the profile with the member (one query):
            # this is the object views get as ``request.user.profile``, no query more.
            profile = getattr(user, "profile", None)
            zone = profile.time_zone if profile is not None else None
        if zone:
            timezone.activate(zoneinfo.ZoneInfo(zone))
        else:
            timezone.deactivate()
        return self.get_response(request)
