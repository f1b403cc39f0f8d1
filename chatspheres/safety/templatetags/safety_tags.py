"""Template tags: the profile page's "Blocked people", and the block and report dialogs."""

from __future__ import annotations

from typing import Any

from django import template

from chatspheres.safety.forms import ReportForm
from chatspheres.safety.selectors import blocked_people_for

register = template.Library()


@register.inclusion_tag("safety/_blocked_people.html", takes_context=True)
def blocked_people(context: dict[str, Any]) -> dict[str, Any]:
    """The people the signed-in member blocked, each with Unblock."""
    request = context["request"]
    return {
        "blocked_people": blocked_people_for(user_id=request.user.pk),
        "csrf_token": context.get("csrf_token"),
    }


@register.inclusion_tag("safety/_dialogs.html", takes_context=True)
def safety_dialogs(context: dict[str, Any], with_script: bool = True) -> dict[str, Any]:
    """The Block confirmation and the Report dialog, once on a page that offers them.

    The call page imports safety.js from its own module instead (``with_script=False``).
    """
    return {
        "report_form": ReportForm(),
        "csrf_token": context.get("csrf_token"),
        "with_script": with_script,
    }
