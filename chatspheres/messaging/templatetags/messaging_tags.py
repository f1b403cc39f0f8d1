"""The header's "Messages" link with the member's unread count."""

from __future__ import annotations

from typing import Any

from django import template

from chatspheres.common.header import header_counts

register = template.Library()


@register.inclusion_tag("messaging/_nav.html", takes_context=True)
def messages_link(context: template.Context) -> dict[str, Any]:
    """The navigation's "Messages", with how many messages wait unread."""
    # Read with the notifications' count, in the header's one query.
    return {"unread": header_counts(context.get("request")).messages}
