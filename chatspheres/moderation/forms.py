"""The moderators' forms (a decision, an answer to an appeal) and the appeal form."""

from __future__ import annotations

from django import forms

from chatspheres.moderation.models import Appeal, Decision
from chatspheres.moderation.services import STATEMENT_MAX_LENGTH, SUSPENSION_DAYS_MAX

STATEMENT_LABEL = "Statement of reasons"
STATEMENT_HELP = "Sent to the person as it is: edit the starting words to fit this case."


class DecisionForm(forms.Form):
    """What a moderator decides about a report, and why."""

    action = forms.ChoiceField(
        label="Decision", choices=Decision.Action.choices, widget=forms.RadioSelect
    )
    days = forms.IntegerField(
        label="Suspend for (days)",
        min_value=1,
        max_value=SUSPENSION_DAYS_MAX,
        initial=7,
        required=False,
        help_text="Only for Suspend. The person can sign in again when it ends.",
    )
    statement = forms.CharField(
        label=STATEMENT_LABEL,
        max_length=STATEMENT_MAX_LENGTH,
        help_text=STATEMENT_HELP,
        widget=forms.Textarea(attrs={"rows": 7}),
    )

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        if cleaned.get("action") == Decision.Action.SUSPEND and not cleaned.get("days"):
            self.add_error("days", "Say for how many days (1 to 365).")
        return cleaned


class AppealDecisionForm(forms.Form):
    """A second moderator's answer to an appeal."""

    outcome = forms.ChoiceField(
        label="Answer",
        choices=[(Appeal.State.UPHELD, "Uphold"), (Appeal.State.OVERTURNED, "Overturn")],
        widget=forms.RadioSelect,
    )
    statement = forms.CharField(
        label=STATEMENT_LABEL,
        max_length=STATEMENT_MAX_LENGTH,
        help_text=STATEMENT_HELP,
        widget=forms.Textarea(attrs={"rows": 6}),
    )


class AppealForm(forms.Form):
    """The person's appeal against a decision about them."""

    text = forms.CharField(
        label="Why should this be looked at again?",
        max_length=STATEMENT_MAX_LENGTH,
        help_text="Say what happened from your side. A different moderator will read it.",
        widget=forms.Textarea(attrs={"rows": 6}),
    )
