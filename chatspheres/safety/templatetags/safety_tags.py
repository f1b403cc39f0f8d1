"""Template tags: "Blocked people", the block and report dialogs, and whom a page offers them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import template

from chatspheres.safety.forms import ReportForm
from chatspheres.safety.selectors import blocked_people_for, safety_targets_among

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


@register.simple_tag(takes_context=True)
def safety_targets(
    context: dict[str, Any], people: Iterable[Any], attr: str = "user_id"
) -> frozenset[int]:
    """Of the people a list names (their user id in ``attr``), those offered Block and Report.

    One query for the whole list: ``{% safety_targets rows as targets %}``, then
    ``{% if row.user_id in targets %}`` around ``safety/_actions.html``.
    """
    request = context["request"]
    return safety_targets_among(
        viewer_id=request.user.pk, user_ids=[getattr(person, attr, None) for person in people]
    )


@register.inclusion_tag("safety/_person_actions.html", takes_context=True)
def person_safety(
    context: dict[str, Any],
    user_id: int,
    handle: str,
    name: str,
    next: str = "",
    shown: bool | None = None,
) -> dict[str, Any]:
    """Block and Report for the one person a page is about, unless they are no one to block.

    A page that already read whether the viewer may block and report them (they
    met on a call, no block either way: ``safety.selectors.met_on_call`` and
    ``blocked_either_way`` annotate it onto the page's own query) passes
    ``shown=...`` and the tag asks nothing; without it, the tag asks (one query).
    """
    if shown is None:
        request = context["request"]
        shown = user_id in safety_targets_among(viewer_id=request.user.pk, user_ids=[user_id])
    return {"shown": bool(shown), "handle": handle, "name": name, "next": next}
