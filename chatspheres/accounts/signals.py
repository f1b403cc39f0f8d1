"""Ending a session ends its sockets: logout, a new password, an account made inactive."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from chatspheres.accounts.models import User
from chatspheres.realtime.sessions import sessions_end_on_commit

# Saving any of these may end sessions: a new password changes the hash every
# session is checked against, and an inactive account has none.
SESSION_FIELDS = frozenset({"password", "is_active"})


@receiver(user_logged_out)
def close_sockets_of_logged_out_session(
    sender: Any, request: HttpRequest, user: User | None, **kwargs: Any
) -> None:
    """The tabs of the session that logged out close (within seconds, on every process)."""
    session_key = getattr(request, "session", None) and request.session.session_key
    if user is not None and session_key:
        sessions_end_on_commit(user_id=user.pk, session_key=session_key)


@receiver(post_save, sender=User)
def check_sessions_after_account_change(
    sender: type[User], instance: User, created: bool, update_fields: Any = None, **kwargs: Any
) -> None:
    """After a password or activity change, every tab of the member checks its session."""
    if created:
        return
    if update_fields is not None and not SESSION_FIELDS & set(update_fields):
        return
    sessions_end_on_commit(user_id=instance.pk)
