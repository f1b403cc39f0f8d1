"""The signed link in a notification email that turns that kind of email off, without signing in.

The token names the member and the kind, signed with the site's secret key
under a salt of its own, so it cannot be made for someone else or another
kind, nor reused as any other signed value. It does not expire: an email
read a year later must still unsubscribe (RFC 8058 asks for that).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from chatspheres.notifications.models import ALWAYS_SENT_KINDS, Notification

SALT = "chatspheres.notifications.unsubscribe"


@dataclass(frozen=True, slots=True)
class Unsubscription:
    """Whose email of which kind a token turns off."""

    user_id: int
    kind: str


def unsubscribe_token(*, user_id: int, kind: str) -> str:
    """The signed token for one member and one kind."""
    return signing.dumps([user_id, kind], salt=SALT, compress=False)


def unsubscribe_url(*, user_id: int, kind: str) -> str:
    """The absolute link (on ``SITE_URL``) that turns off this kind of email for this member."""
    path = reverse(
        "notifications:unsubscribe", kwargs={"token": unsubscribe_token(user_id=user_id, kind=kind)}
    )
    return settings.SITE_URL + path


def read_unsubscribe_token(token: str) -> Unsubscription | None:
    """What a token unsubscribes; None if it was not made by us (tampered, truncated, foreign)."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not isinstance(value[0], int)
        or value[1] not in Notification.Kind.values
        or value[1] in ALWAYS_SENT_KINDS
    ):
        return None
    return Unsubscription(user_id=value[0], kind=value[1])
