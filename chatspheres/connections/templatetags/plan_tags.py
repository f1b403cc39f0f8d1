"""``{% plan_a_call other %}``: the "Plan a call" link, for pages outside the connections app."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.html import format_html

from chatspheres.connections.selectors import are_connected
from chatspheres.safety.selectors import is_blocked_between

register = template.Library()


@register.simple_tag(takes_context=True)
def plan_a_call(context: dict[str, Any], other: Any, connected: bool | None = None) -> str:
    """The link to plan a call with ``other`` (a Profile), shown only to their connections.

    A page that already read whether the two are connections with no block
    either way (``messaging.selectors.access_correspondent`` annotates
    ``connected`` and refuses a block) passes ``connected=...`` and the tag
    asks nothing; without it, the tag asks (two queries).
    """
    request = context.get("request")
    viewer_id = getattr(getattr(request, "user", None), "pk", None)
    if viewer_id is None or other is None or other.user_id == viewer_id:
        return ""
    if connected is None:
        connected = not is_blocked_between(viewer_id, other.user_id) and are_connected(
            user_id=viewer_id, other_id=other.user_id
        )
    if not connected:
        return ""
    return format_html(
        '<a class="button button-small" href="{}">Plan a call</a>',
        reverse("connections:plan_new", kwargs={"handle": other.handle}),
    )
