"""``/healthz`` and ``/readyz``: what a load balancer or an orchestrator asks a process.

* ``/healthz`` answers 200 as long as the process serves at all. It touches
  neither the database nor Redis, so a failing dependency never gets a
  healthy process restarted.
* ``/readyz`` answers 200 only when the database and the hub (Redis, with
  ``REDIS_URL``) answer now; otherwise 503 with a short plain-text reason, so
  that traffic goes to other processes until this one can serve again.

Both are served by the ASGI router before Django (``chatspheres/asgi.py``):
a broken database or a failing middleware can never turn them into a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections

from chatspheres.realtime.hub import Hub

logger = logging.getLogger(__name__)

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
HEALTH_PATHS = frozenset({HEALTH_PATH, READY_PATH})

# How long one dependency may take to answer before the process is not ready.
CHECK_LIMIT_SECONDS = 3.0

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]

# Threads of their own: a database that hangs must not take the threads
# Django's views and the gateway need.
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="readiness")


def ping_database() -> None:
    """Run ``SELECT 1`` on this thread's connection, then close it; raises if it fails."""
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()


async def database_problem() -> str | None:
    """Why the database is not usable now, or None."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(CHECK_LIMIT_SECONDS):
            await loop.run_in_executor(_checks, ping_database)
    except TimeoutError:
        return "the database does not answer in time"
    except Exception as error:
        logger.warning("readiness: the database failed: %r", error)
        return "the database does not answer"
    return None


async def hub_problem(hub: Hub | None) -> str | None:
    """Why the hub (Redis) is not usable now, or None."""
    if hub is None:
        return "the real-time runtime is not running"
    try:
        async with asyncio.timeout(CHECK_LIMIT_SECONDS):
            ready = await hub.ready()
    except TimeoutError:
        return "the hub (Redis) does not answer in time"
    except Exception as error:
        logger.warning("readiness: the hub failed: %r", error)
        ready = False
    return None if ready else "the hub (Redis) does not answer"


async def readiness_problem(hub: Hub | None) -> str | None:
    """Why this process should get no traffic now, in a few words; None when it is ready."""
    return await database_problem() or await hub_problem(hub)


def _running_hub() -> Hub | None:
    from chatspheres.realtime.runtime import current

    try:
        return current().hub
    except RuntimeError:
        return None


async def serve_health(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer ``/healthz`` or ``/readyz`` in plain text."""
    if scope["path"] == HEALTH_PATH:
        status, text = 200, "ok"
    else:
        problem = await readiness_problem(_running_hub())
        status, text = (200, "ready") if problem is None else (503, f"not ready: {problem}")
    body = f"{text}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
