"""What every request and response goes through: refusing control characters, security headers."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest

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
