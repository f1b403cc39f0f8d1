"""How django-allauth behaves on ChatSpheres: one adapter, each method saying why it differs."""

from __future__ import annotations

from allauth.account.adapter import DefaultAccountAdapter


class AccountAdapter(DefaultAccountAdapter):
    """allauth's account flows with ChatSpheres' rules."""
