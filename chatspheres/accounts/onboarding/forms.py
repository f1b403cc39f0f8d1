"""The welcome's forms: the profile form's first fields, and picking spheres."""

from __future__ import annotations

from typing import Any

from django import forms

from chatspheres.accounts.forms import ProfileForm

# What the first step asks; the rest of the profile waits for the profile page.
WELCOME_PROFILE_FIELDS = ("display_name", "bio", "interests", "other_interests")


class WelcomeProfileForm(ProfileForm):
    """The profile form with only name, a line about you, and interests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in list(self.fields):
            if name not in WELCOME_PROFILE_FIELDS:
                del self.fields[name]
        bio = self.fields["bio"]
        bio.label = "A line about you"
        bio.help_text = "What you'd like to talk about, or what you're up to these days."
        bio.widget.attrs["rows"] = 2


class SpherePickForm(forms.Form):
    """Which of the spheres the member has not joined yet they want to join now."""

    spheres = forms.MultipleChoiceField(
        label="Spheres",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Pick at least one sphere, or press Skip."},
    )

    def __init__(self, *args: Any, choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["spheres"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices
