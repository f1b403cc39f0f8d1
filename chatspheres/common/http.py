"""Small answers shared by views that work both as plain form posts and from fetch()."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme


def wants_json(request: HttpRequest) -> bool:
    """Whether the page's script asked for JSON (a plain form post gets a redirect instead)."""
    return "application/json" in request.headers.get("Accept", "")


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Back to the page a form was posted from (only on this site), or to ``fallback``."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)
