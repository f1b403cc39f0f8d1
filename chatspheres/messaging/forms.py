"""The compose form and the messaging settings form."""

from __future__ import annotations

from django import forms

from chatspheres.messaging.models import MESSAGE_MAX_LENGTH


class ComposeForm(forms.Form):
    # The length is checked by the service (its words); the field only caps the page's box.
    body = forms.CharField(label="Write a message", strip=False, max_length=MESSAGE_MAX_LENGTH * 2)
    key = forms.CharField(widget=forms.HiddenInput, max_length=64)


class MessagingSettingsForm(forms.Form):
    read_receipts = forms.BooleanField(label="Read receipts", required=False)
