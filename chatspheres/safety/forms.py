"""The report form: the same fields in the dialog and on the page that works without JavaScript."""

from __future__ import annotations

from django import forms

from chatspheres.safety.models import Report
from chatspheres.safety.services import DETAILS_MAX_LENGTH


class ReportForm(forms.Form):
    reason = forms.ChoiceField(
        label="Reason",
        choices=Report.Reason.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what the report is about."},
    )
    details = forms.CharField(
        label="What happened?",
        required=False,
        max_length=DETAILS_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional. Moderators read it with the report.",
    )
    also_block = forms.BooleanField(label="Block them too", required=False)
    conversation = forms.CharField(required=False, widget=forms.HiddenInput, max_length=64)
