"""The header's Notifications button and the profile page's preferences, as inclusion tags."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.timesince import timesince

from chatspheres.common.header import header_counts
from chatspheres.notifications.models import Channel
from chatspheres.notifications.selectors import preferences_for

register = template.Library()


def _member_id(context: template.Context) -> int | None:
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return None
    return int(user.pk)


@register.inclusion_tag("notifications/_button.html", takes_context=True)
def notifications_button(context: template.Context) -> dict[str, Any]:
    """The header's "Notifications" link (a button with JavaScript) and the unread count."""
    # Read with the messages' count, in the header's one query.
    return {"unread": header_counts(context.get("request")).notifications}


@register.inclusion_tag("notifications/_preferences.html", takes_context=True)
def notification_preferences(context: template.Context) -> dict[str, Any]:
    """The profile page's section: which kinds the member hears about, on the site and by email."""
    user_id = _member_id(context)
    request = context.get("request")
    return {
        "preferences": preferences_for(user_id=user_id) if user_id is not None else [],
        "email_preferences": (
            preferences_for(user_id=user_id, channel=Channel.EMAIL) if user_id is not None else []
        ),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }


@register.filter
def ago(moment: datetime) -> str:
    """How long ago, in words: "just now" under a minute, else "3 hours ago"."""
    if timezone.now() - moment < timedelta(minutes=1):
        return "just now"
    return f"{timesince(moment, depth=1)} ago"
