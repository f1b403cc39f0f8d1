"""The header's "Messages" link with the member's unread count."""

from __future__ import annotations

from typing import Any

from django import template

from chatspheres.messaging.selectors import unread_total

register = template.Library()


@register.inclusion_tag("messaging/_nav.html", takes_context=True)
def messages_link(context: template.Context) -> dict[str, Any]:
    """The navigation's "Messages", with how many messages wait unread."""
    request = context.get("request")
    user = getattr(request, "user", None)
    unread = unread_total(user_id=int(user.pk)) if user is not None and user.is_authenticated else 0
    return {"unread": unread}
