"""Signed links to a decision's notice, which also work for someone who can no longer sign in.

A suspended or banned person cannot sign in, yet must be able to read the
statement of reasons and appeal. The email, the notification and the refused
login page therefore link to ``/moderation/notice/<token>/``, where the token
is the decision's id signed with the site's secret key: only the person it was
sent to (and the moderators) can have it, and it cannot be made up for another
decision.
"""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

SALT = "chatspheres.moderation.notice"


def notice_token(decision_id: int) -> str:
    """The token in the link to one decision's notice."""
    return signing.dumps(decision_id, salt=SALT, compress=False)


def decision_id_from(token: str) -> int | None:
    """The decision a token names, or None if it was not made here (or was altered)."""
    try:
        value = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    return value if isinstance(value, int) else None


def notice_url(decision_id: int) -> str:
    """The path of the decision's notice page (with the appeal form)."""
    return reverse("moderation:notice", kwargs={"token": notice_token(decision_id)})
