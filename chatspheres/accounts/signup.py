"""Sign-up that never tells whether an address is registered, whatever the verification setting.

allauth hides it only when verification is mandatory. Here every sign-up ends
the same way: the "Check your email" page, and exactly one email to the
address given. A new address gets the link to confirm it (or, with
verification off, a welcome with the way in); a taken one gets "you already
have an account" and nothing else changes. Decision 0006 explains why the new
account is not signed in at once.
"""

from __future__ import annotations

from typing import Any

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import get_adapter
from allauth.account.forms import SignupForm as AllauthSignupForm
from allauth.account.internal.flows.email_verification import (
    add_email_verification_sent_message,
    handle_verification_email_rate_limit,
    send_verification_email_at_login,
)
from allauth.account.internal.userkit import filter_users_by_email
from allauth.account.stages import EmailVerificationStage
from allauth.core import context
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from chatspheres.accounts.services import age_assurance_check
from chatspheres.common.errors import ApplicationError


class SignupForm(AllauthSignupForm):
    """allauth's sign-up form: a taken address is never an error on the page."""

    def validate_unique_email(self, value: str) -> str:
        email = get_adapter().validate_unique_email(value)
        # Whatever ACCOUNT_EMAIL_VERIFICATION says, a taken address goes down
        # the "account already exists" path instead of failing the form.
        self.account_already_exists = bool(filter_users_by_email(email))
        return email

    def try_save(self, request: HttpRequest) -> tuple[Any, HttpResponse | None]:
        if self.account_already_exists:
            # Making an account reads (and so writes) this session key; doing
            # the same here gives both paths the same session cookie.
            get_adapter(request).unstash_verified_email(request)
        return super().try_save(request)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "is_adult" in cleaned:
            try:
                age_assurance_check(
                    request=context.request,
                    email=cleaned.get("email") or "",
                    adult_confirmed=cleaned["is_adult"],
                )
            except ApplicationError as refusal:
                self.add_error("is_adult", refusal.message)
        return cleaned


class SignupEmailStage(EmailVerificationStage):
    """The email step of a login; a sign-up always sends one email, then "Check your email"."""

    def handle(self) -> tuple[HttpResponse | None, bool]:
        login = self.login
        if not login.signup:
            return super().handle()
        request = self.request
        adapter = get_adapter(request)
        verification_off = (
            allauth_settings.EMAIL_VERIFICATION == allauth_settings.EmailVerificationMethod.NONE
        )
        if login.user is not None and verification_off:
            # Nothing to confirm: the one email welcomes them and says how to log in.
            email = login.email or login.user.email
            if handle_verification_email_rate_limit(request, email):
                adapter.send_mail(
                    "account/email/welcome",
                    email,
                    {"login_url": request.build_absolute_uri(reverse("account_login"))},
                )
                add_email_verification_sent_message(request, email, signup=True)
        else:
            # A new address gets its confirmation link; a taken one (no user)
            # gets allauth's "account already exists" email.
            send_verification_email_at_login(request, login)
        # Kept for the confirmation link: opened in this browser, it signs the new member in.
        return adapter.respond_email_verification_sent(request, login.user), not verification_off
