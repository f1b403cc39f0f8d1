"""Running synchronous Django code (services, selectors) from the gateway."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from chatspheres.common.events import outbox

T = TypeVar("T")


def _with_fresh_connection(function: Callable[..., T], kwargs: dict[str, Any]) -> T:
    # The gateway has no request cycle to recycle database connections, so do
    # what Django does around each request (and Channels around each call).
    close_old_connections()
    try:
        return function(**kwargs)
    finally:
        close_old_connections()


async def run_in_db(function: Callable[..., T], /, **kwargs: Any) -> T:
    """Call a keyword-only service or selector on Django's database thread.

    The events it sends on commit are published here, in order, once it has
    returned, so a handler that goes on to answer its tab does so after the
    other tabs were told (and a failure to publish is logged, never lost).
    """
    with outbox() as sent:
        try:
            return await sync_to_async(_with_fresh_connection, thread_sensitive=True)(
                function, kwargs
            )
        finally:
            if sent:
                from chatspheres.realtime.runtime import current

                await current().send_all(sent)
