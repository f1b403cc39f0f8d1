"""Forms for signing up and editing a profile."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest

from chatspheres.accounts.handles import handle_normalize
from chatspheres.accounts.models import (
    BIO_MAX_LENGTH,
    HANDLE_MAX_LENGTH,
    MAX_INTERESTS,
    PresenceAudience,
    Profile,
    User,
)
from chatspheres.accounts.names import DISPLAY_NAME_MAX_LENGTH, display_name_clean
from chatspheres.accounts.services import interests_normalize, profile_create
from chatspheres.common.errors import ApplicationError


class DisplayNameField(forms.CharField):
    """A display name, cleaned as the services clean it (no invisible or bidi characters)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("label", "Display name")
        # Room for characters that are stripped; the cleaned name is checked again.
        kwargs.setdefault("max_length", DISPLAY_NAME_MAX_LENGTH * 2)
        super().__init__(**kwargs)

    def clean(self, value: Any) -> str:
        text = super().clean(value)
        try:
            return display_name_clean(text)
        except ApplicationError as refusal:
            raise forms.ValidationError(refusal.message, code=refusal.code) from refusal


class SignupDetailsForm(forms.Form):
    """The fields allauth's sign-up form gains: name, age, time zone."""

    display_name = DisplayNameField(
        help_text="What people you talk with will see. Not your email.",
    )
    is_adult = forms.BooleanField(
        label="I am 18 or older",
        required=True,
        error_messages={"required": "ChatSpheres is for people 18 or older."},
    )
    # Filled in by the browser (static/js/timezone.js); editable on the profile.
    time_zone = forms.CharField(required=False, widget=forms.HiddenInput)

    def signup(self, request: HttpRequest, user: User) -> None:
        """allauth calls this once the account exists."""
        profile_create(
            user=user,
            display_name=self.cleaned_data["display_name"],
            adult_confirmed=self.cleaned_data["is_adult"],
            time_zone=self.cleaned_data.get("time_zone") or "UTC",
        )


class ProfileForm(forms.Form):
    """Edit what others see, and the time zone times are shown in."""

    display_name = DisplayNameField()
    bio = forms.CharField(
        label="About you",
        required=False,
        max_length=BIO_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=f"A few lines, at most {BIO_MAX_LENGTH} characters.",
    )
    interests = forms.MultipleChoiceField(
        label="Interests",
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=f"Pick up to {MAX_INTERESTS}; people who share them are matched first.",
    )
    other_interests = forms.CharField(
        label="Other interests",
        required=False,
        max_length=500,
        help_text="Separate them with commas, e.g. bouldering, jazz piano.",
    )
    time_zone = forms.ChoiceField(label="Time zone")

    def __init__(self, *args: Any, suggestions: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        initial = self.initial.get("interests") or []
        names = list(dict.fromkeys([*initial, *suggestions]))
        interests_field = self.fields["interests"]
        time_zone_field = self.fields["time_zone"]
        assert isinstance(interests_field, forms.ChoiceField)
        assert isinstance(time_zone_field, forms.ChoiceField)
        interests_field.choices = [(name, name) for name in names]
        time_zone_field.choices = Profile._meta.get_field("time_zone").choices or []

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        typed = (cleaned.get("other_interests") or "").split(",")
        names = interests_normalize([*cleaned.get("interests", []), *typed])
        if len(names) > MAX_INTERESTS:
            raise forms.ValidationError(
                f"Pick at most {MAX_INTERESTS} interests (you have {len(names)})."
            )
        cleaned["all_interests"] = names
        return cleaned


class HandleForm(forms.Form):
    """The member's public handle, the last part of their page's address."""

    handle = forms.CharField(
        label="Handle",
        max_length=HANDLE_MAX_LENGTH + 1,
        help_text=(
            "Your page's address: /people/your-handle/. Lower-case letters, digits and "
            "hyphens, 3 to 30 characters. You can change it once a month."
        ),
        widget=forms.TextInput(
            attrs={"autocapitalize": "none", "autocomplete": "off", "spellcheck": "false"}
        ),
    )

    def clean_handle(self) -> str:
        return handle_normalize(self.cleaned_data["handle"])


class CallChoicesForm(forms.Form):
    """How calls with someone new begin."""

    soft_start = forms.BooleanField(
        label="Soft start with someone new",
        required=False,
        help_text=(
            "The first time you meet someone, you each see the other's video blurred until you"
            " both press Reveal, or a minute passes. You hear each other from the start."
        ),
    )
    hide_ip = forms.BooleanField(
        label="Hide my IP address",
        required=False,
        help_text=(
            "Your calls go through the site's relay, so the people you talk with never see your"
            " IP address. Calls may take a little longer to connect."
        ),
    )

    def __init__(self, *args: Any, relay: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not relay:
            hide_ip = self.fields["hide_ip"]
            hide_ip.help_text = (
                "This site has no relay configured, so it can't hide your IP address."
            )
            # Someone who turned it on before the relay went away can still turn it off.
            hide_ip.disabled = not self.initial.get("hide_ip")


class PrivacyForm(forms.Form):
    """Who sees the member online, and whether follows are announced."""

    presence_visible_to = forms.ChoiceField(
        label="Who can see when I'm online",
        choices=PresenceAudience.choices,
        widget=forms.RadioSelect,
        help_text="Only people who can already see your page ever see where you are.",
    )
    announce_follows = forms.BooleanField(
        label="Let people know when I follow them", required=False
    )


class AccountDeleteForm(forms.Form):
    """Deleting an account takes the address and the password: nobody does it by a slip."""

    email = forms.EmailField(
        label="Your email address",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
