"""The front page, and the error pages in the site's layout."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader

from chatspheres.common.http import wants_json
from chatspheres.common.ratelimit import RateLimited
from chatspheres.spheres.selectors import sphere_listings

# allauth's own limits (login, sign-up, password reset) count per minute; its
# 429 does not say how long is left, so the page gives the longest wait.
ALLAUTH_LIMIT_SECONDS = 60


def home(request: HttpRequest) -> HttpResponse:
    """What ChatSpheres is, and the spheres with who is online in each."""
    user_id = request.user.pk if request.user.is_authenticated else None
    return render(request, "home.html", {"listings": sphere_listings(user_id=user_id)})


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """404 in the site's layout, with a way home."""
    return render(request, "404.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """403 in the site's layout, with a way home."""
    return render(request, "403.html", status=403)


def server_error(request: HttpRequest) -> HttpResponse:
    """500 in the site's layout, rendered without the request's context.

    Whatever failed (the database, a context processor) must not fail again
    while saying so: the page is shown as to a visitor who is not logged in.
    """
    return HttpResponse(loader.get_template("500.html").render({}), status=500)


def too_many_requests(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """429 with ``Retry-After``: a page in the site's layout, or JSON for the page's scripts.

    Used for our own limits (``RateLimited`` raised from a view, see
    ``common.middleware.RateLimitedMiddleware``) and by allauth for its own.
    """
    refusal = (
        exception
        if isinstance(exception, RateLimited)
        else RateLimited(retry_after=ALLAUTH_LIMIT_SECONDS)
    )
    response: HttpResponse
    if wants_json(request):
        response = JsonResponse(
            {
                "error": refusal.code,
                "message": refusal.message,
                "retry_after": refusal.retry_after,
            },
            status=429,
        )
    else:
        response = render(request, "429.html", {"message": refusal.message}, status=429)
    response["Retry-After"] = str(refusal.retry_after)
    return response
