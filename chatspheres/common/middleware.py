"""What every request and response goes through: control characters, headers, limits reached."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

from chatspheres.common.ratelimit import RateLimited
from chatspheres.common.views import too_many_requests
from chatspheres.realtime.protocol import CONTROL_CHARACTERS

# No inline scripts or styles anywhere: user text can never become code.
# 'self' in connect-src also allows the same-origin WebSocket.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "media-src 'self' blob: mediastream:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

# The call page needs the camera and microphone of this origin; nothing else does.
PERMISSIONS_POLICY = "camera=(self), microphone=(self), geolocation=(), payment=()"


class ContentSecurityPolicyMiddleware:
    """Adds the Content Security Policy and Permissions Policy to every response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response


class RefuseControlCharactersMiddleware:
    """Answers 400, in words, to an address whose path or query holds control characters.

    A NUL in a URL would otherwise reach the database, where PostgreSQL
    refuses it with an error (a 500); no address of ours ever contains one.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if CONTROL_CHARACTERS.search(request.path) or any(
            CONTROL_CHARACTERS.search(key) or CONTROL_CHARACTERS.search(value)
            for key, values in request.GET.lists()
            for value in values
        ):
            return HttpResponseBadRequest(
                "That address contains control characters, which ChatSpheres does not accept.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)


class RateLimitedMiddleware:
    """Answers a view that raised ``RateLimited`` with 429, ``Retry-After`` and the wait in words.

    Services count their limits (``common/ratelimit.py``) and raise; a view
    that catches ``ApplicationError`` to show a refusal lets this one through
    (``except RateLimited: raise`` first), so every limit answers the same way.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, RateLimited):
            return too_many_requests(request, exception)
        return None
