"""The profile page's profile prompts form."""

from __future__ import annotations

from typing import Any

from django import forms

from chatspheres.prompts.models import (
    PROFILE_ANSWER_MAX_LENGTH,
    PROFILE_ANSWERS_MAX,
    ProfileQuestion,
)


class ProfileAnswersForm(forms.Form):
    """One optional field per fixed prompt; at most PROFILE_ANSWERS_MAX may be filled in."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for question in ProfileQuestion:
            self.fields[question.value] = forms.CharField(
                label=question.label,
                required=False,
                max_length=PROFILE_ANSWER_MAX_LENGTH,
            )

    def answers(self) -> dict[str, str]:
        return {
            question: self.cleaned_data.get(question, "") for question in ProfileQuestion.values
        }


__all__ = ["PROFILE_ANSWERS_MAX", "ProfileAnswersForm"]
