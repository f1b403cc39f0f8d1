"""How django-allauth behaves on ChatSpheres: one adapter, each method saying why it differs."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlsplit

from allauth.account import app_settings as account_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.internal.stagekit import clear_login
from allauth.core import context as allauth_context
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from chatspheres.moderation.views import login_refused_response
from chatspheres.notifications.emails import email_send_rendered

ALLAUTH_EMAIL_STAGE = "allauth.account.stages.EmailVerificationStage"


class AccountAdapter(DefaultAccountAdapter):
    """allauth's account flows with ChatSpheres' rules."""

    # The site in emails: allauth names it after the request's host ("Hello
    # from 127.0.0.1:8100!") and links to that host; ours says SITE_NAME and
    # links to SITE_URL, whichever address the request came through.

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        # Rendered here (allauth's templates need the request), sent by the
        # worker: no request waits on the mail server. Account emails are not
        # notifications, so they carry no unsubscribe link.
        message = self.render_mail(
            template_prefix,
            email,
            {
                "request": allauth_context.request,
                "email": email,
                "current_site": site_identity(),
                **context,
            },
        )
        html = next(
            (body for body, mime in getattr(message, "alternatives", []) if mime == "text/html"),
            "",
        )
        email_send_rendered(
            to=email,
            subject=str(message.subject),
            text=str(message.body),
            html=str(html),
            key=f"account:{template_prefix.rsplit('/', 1)[-1]}:{uuid.uuid4().hex}",
        )

    def format_email_subject(self, subject: str) -> str:
        prefix = account_settings.EMAIL_SUBJECT_PREFIX
        return (f"[{settings.SITE_NAME}] " if prefix is None else prefix) + str(subject)

    def get_email_confirmation_url(self, request: HttpRequest, emailconfirmation: Any) -> str:
        return on_site(super().get_email_confirmation_url(request, emailconfirmation))

    def get_reset_password_from_key_url(self, key: str) -> str:
        return on_site(super().get_reset_password_from_key_url(key))

    def _get_login_attempts_cache_key(self, request: HttpRequest, **credentials: Any) -> str:
        # allauth counts failed logins per host name and email address: each
        # name in ALLOWED_HOSTS would give a guesser five more tries. One count
        # per email address, whichever name the site was reached by.
        return str(credentials.get("email", credentials.get("username", ""))).lower()

    def get_login_stages(self) -> list[str]:
        # Sign-up ends on "Check your email" with one email, taken address or
        # not, whatever the verification setting (accounts/signup.py).
        return [
            "chatspheres.accounts.signup.SignupEmailStage" if path == ALLAUTH_EMAIL_STAGE else path
            for path in super().get_login_stages()
        ]

    def pre_login(self, request: HttpRequest, user: Any, **kwargs: Any) -> HttpResponse | None:
        # A suspended or banned member gave the right password (allauth keeps
        # whose it was): say until when and how to appeal, not "wrong password".
        refused = login_refused_response(request, user)
        if refused is not None:
            clear_login(request)
            return refused
        return super().pre_login(request, user, **kwargs)


def site_identity() -> SimpleNamespace:
    """The site as allauth's email templates name it: ``name`` and ``domain``."""
    return SimpleNamespace(name=settings.SITE_NAME, domain=urlsplit(settings.SITE_URL).netloc)


def on_site(url: str) -> str:
    """``url`` (absolute, made from the request's host) moved to ``SITE_URL``."""
    parts = urlsplit(url)
    return f"{settings.SITE_URL}{parts.path}" + (f"?{parts.query}" if parts.query else "")
