"""The profile page's "Profile prompts" section, as an inclusion tag."""

from __future__ import annotations

from typing import Any

from django import template

from chatspheres.prompts.models import (
    PROFILE_ANSWER_MAX_LENGTH,
    PROFILE_ANSWERS_MAX,
    ProfileQuestion,
)
from chatspheres.prompts.selectors import profile_answers_for

register = template.Library()


@register.inclusion_tag("prompts/_profile_prompts.html", takes_context=True)
def profile_prompts(context: template.Context) -> dict[str, Any]:
    """The fixed prompts with the member's answers, in a form posting to prompts:profile_answers."""
    request = context.get("request")
    user = getattr(request, "user", None)
    answers = (
        profile_answers_for(user_id=int(user.pk))
        if user is not None and user.is_authenticated
        else {}
    )
    return {
        "questions": [
            {"key": question.value, "label": question.label, "answer": answers.get(question, "")}
            for question in ProfileQuestion
        ],
        "most": PROFILE_ANSWERS_MAX,
        "max_length": PROFILE_ANSWER_MAX_LENGTH,
        "csrf_token": context.get("csrf_token"),
    }
