"""The call page and the after-call reflection."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from chatspheres.calls.direct import DirectCall, direct_calls
from chatspheres.calls.ice import address_hiding_for, ice_config_for_call
from chatspheres.calls.selectors import access_conversation
from chatspheres.calls.services import conversation_reflect
from chatspheres.common.auth import member_id
from chatspheres.common.errors import ApplicationError, NotFound
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.selectors import sphere_by_slug

REFLECTION_PLACEHOLDER = "__conversation__"


def _render_call_page(
    request: HttpRequest, sphere: Sphere, direct: dict[str, str] | None
) -> HttpResponse:
    call_config = {
        "sphere": sphere.pk,
        "sphereName": sphere.name,
        "sphereUrl": sphere.get_absolute_url(),
        "wsPath": "/ws/",
        "reflectionUrl": reverse("calls:reflection", kwargs={"public_id": REFLECTION_PLACEHOLDER}),
        # Fresh TURN credentials for a call that outlives its first ones.
        "iceUrl": reverse("calls:ice_servers", kwargs={"public_id": REFLECTION_PLACEHOLDER}),
        "csrfToken": get_token(request),
        # A direct call ("Call now"): this page rings someone, or answers their ring.
        "direct": direct,
    }
    return render(
        request,
        "calls/call.html",
        {
            "sphere": sphere,
            "call_config": call_config,
            "direct": direct,
            # Said before the call: the address is hidden, or cannot be (no relay).
            "address_hiding": address_hiding_for(user_id=member_id(request)),
        },
    )


@login_required
def call_page(request: HttpRequest, slug: str) -> HttpResponse:
    """Preview, wait, talk and reflect, all on one page driven by the socket."""
    try:
        listing = sphere_by_slug(slug=slug, user_id=member_id(request))
    except NotFound as missing:
        raise Http404(missing.message) from missing
    sphere = listing.sphere
    if not listing.is_member:
        messages.info(request, f"Join {sphere.name} to start a conversation here.")
        return redirect(sphere)
    return _render_call_page(request, sphere, None)


def _direct_call_page(
    request: HttpRequest, mode: str, find: Callable[[], DirectCall], refused_url: str
) -> HttpResponse:
    """The call page for a direct call, or back to ``refused_url`` when it is refused."""
    try:
        other = find()
    except NotFound as missing:
        raise Http404(missing.message) from missing
    except ApplicationError as refusal:
        messages.info(request, refusal.message)
        return redirect(refused_url)
    direct = {"mode": mode, "handle": other.handle, "name": other.name}
    if mode == "answer":
        direct["ring"] = other.ring
    return _render_call_page(request, Sphere.objects.get(pk=other.sphere_id), direct)


@login_required
def call_now(request: HttpRequest, handle: str) -> HttpResponse:
    """Call now: the call page, ringing a connection, in the sphere where the two last met."""
    return _direct_call_page(
        request,
        "call",
        lambda: direct_calls().to_call(caller_id=member_id(request), handle=handle),
        reverse("connections:person", kwargs={"handle": handle}),
    )


@login_required
def call_answer(request: HttpRequest, ring: str) -> HttpResponse:
    """Accept a ring: the call page, which answers it as soon as its socket is open."""
    return _direct_call_page(
        request,
        "answer",
        lambda: direct_calls().to_answer(callee_id=member_id(request), ring=ring),
        reverse("notifications:list"),
    )


@login_required
@require_POST
@never_cache
def ice_servers(request: HttpRequest, public_id: str) -> HttpResponse:
    """Fresh ICE servers (TURN credentials) for the member's own call in progress, as JSON."""
    try:
        ice = ice_config_for_call(user_id=member_id(request), public_id=public_id)
    except NotFound as missing:
        return JsonResponse({"error": missing.code, "message": missing.message}, status=404)
    except ApplicationError as refusal:
        return JsonResponse({"error": refusal.code, "message": refusal.message}, status=400)
    return JsonResponse(
        {
            "ice_servers": ice.servers,
            "ice_transport_policy": ice.transport_policy,
            "ice_expires_at": ice.expires_at,
        }
    )


@login_required
@require_POST
def reflection(request: HttpRequest, public_id: str) -> HttpResponse:
    """Save the member's answer to "How was it?" for a conversation they were in."""
    try:
        conversation = access_conversation(user_id=member_id(request), public_id=public_id)
    except NotFound as missing:
        raise Http404(missing.message) from missing
    try:
        conversation_reflect(
            conversation=conversation,
            user_id=member_id(request),
            rating=request.POST.get("rating", ""),
        )
    except ApplicationError as refusal:
        return HttpResponse(refusal.message, status=400, content_type="text/plain")
    if request.headers.get("X-CSRFToken"):
        return HttpResponse(status=204)
    messages.success(request, "Thanks for telling us.")
    return redirect(conversation.sphere)
