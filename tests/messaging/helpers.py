"""People who may write to each other, made through the services."""

from __future__ import annotations

import itertools

from chatspheres.accounts.models import User
from chatspheres.messaging.services import Sent, message_send
from tests.conftest import make_member

_keys = itertools.count()


def key() -> str:
    return f"test-key-{next(_keys):08d}"


def handle_of(user: User) -> str:
    user.profile.refresh_from_db()
    return user.profile.handle


def send(sender: User, to: User, body: str, client_key: str | None = None) -> Sent:
    return message_send(
        sender_id=sender.pk, handle=handle_of(to), body=body, client_key=client_key or key()
    )


def pair(sphere: object) -> tuple[User, User]:
    """Ana and Ben, who talked once on a call."""
    from tests.connections.helpers import talk

    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    talk(sphere, ana, ben)  # type: ignore[arg-type]
    return ana, ben
