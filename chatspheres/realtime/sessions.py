"""Who is behind a socket, and closing a member's sockets when their session ends.

The handshake authenticates from the Django session cookie. A session that
ends later (logout, a password change, an account made inactive or banned)
must not leave sockets open: :func:`sessions_end_on_commit` tells every tab of
the member, on every process, to check; a tab whose session is over closes
with 4001 ("session ended").
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib.auth import get_user
from django.contrib.sessions.backends.base import SessionBase
from django.utils.module_loading import import_string

from chatspheres.common.events import ToMember, send_event_on_commit
from chatspheres.realtime.db import run_in_db
from chatspheres.realtime.protocol import Event
from chatspheres.realtime.registry import TabClosed, registry

if TYPE_CHECKING:
    from chatspheres.realtime.hub import Envelope
    from chatspheres.realtime.tab import Tab

CLOSE_SESSION_ENDED = 4001
SESSION_ENDED_REASON = "Your session ended. Sign in again to continue."


def member_for_session(*, session_key: str) -> int | None:
    """The active member signed in with this session, or None."""
    store_class: type[SessionBase] = import_string(settings.SESSION_ENGINE + ".SessionStore")
    # get_user() checks the session's auth hash, so a changed password or a
    # logout elsewhere ends the session here too; an inactive member gets none.
    user = get_user(SimpleNamespace(session=store_class(session_key)))  # type: ignore[arg-type]
    if not user.is_authenticated or not user.is_active:
        return None
    return int(user.pk)


class SessionCheck(Event, tag="session.check"):
    """To the server's own tabs, never to a browser: check whether your session still holds."""

    logged = False


def sessions_end_on_commit(*, user_id: int, session_key: str | None = None) -> None:
    """Close the member's sockets of ``session_key`` (or of every session that ended), on commit."""
    send_event_on_commit(SessionCheck(), to=ToMember(user_id), meta=(session_key or "",))


def _check_session(tab: Tab, envelope: Envelope) -> bool:
    ended_key = envelope.meta[0] if envelope.meta else ""
    if ended_key:
        if ended_key == tab.session_key:
            tab.close_soon(CLOSE_SESSION_ENDED, SESSION_ENDED_REASON, ended_as=TabClosed.SIGNED_OUT)
    else:
        tab.runtime.keep(_revalidate_soon(tab))
    return False  # never sent to the browser


def _revalidate_soon(tab: Tab) -> asyncio.Task[None]:

    async def revalidate() -> None:
        if await run_in_db(member_for_session, session_key=tab.session_key) != tab.user_id:
            await tab.close(
                CLOSE_SESSION_ENDED, SESSION_ENDED_REASON, ended_as=TabClosed.SIGNED_OUT
            )

    return asyncio.get_running_loop().create_task(revalidate())


registry.observe(SessionCheck, _check_session)
