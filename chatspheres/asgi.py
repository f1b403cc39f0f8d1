"""The one ASGI application: Django for pages, the gateway for ``/ws/``.

The lifespan starts the real-time runtime (hub and matcher) of this process.
"""

from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")

from django.core.asgi import get_asgi_application

django_application = get_asgi_application()

from chatspheres.realtime import runtime  # noqa: E402
from chatspheres.realtime.gateway import Receive, Scope, Send, gateway  # noqa: E402
from chatspheres.realtime.health import HEALTH_PATHS, serve_health  # noqa: E402
from chatspheres.realtime.metrics_endpoint import METRICS_PATH, serve_metrics  # noqa: E402

logger = logging.getLogger(__name__)

WEBSOCKET_PATH = "/ws/"


class ChatSpheres:
    """Routes each ASGI connection: HTTP to Django, ``/ws/`` to the gateway."""

    def __init__(self) -> None:
        self.runtime: runtime.Runtime | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["path"] in HEALTH_PATHS:
                await serve_health(scope, receive, send)
                return
            if scope["path"] == METRICS_PATH:
                await serve_metrics(scope, receive, send)
                return
            await django_application(scope, receive, send)
        elif kind == "websocket":
            if scope["path"] == WEBSOCKET_PATH:
                await gateway(scope, receive, send)
            else:
                await receive()
                await send({"type": "websocket.close", "code": 1008})
        elif kind == "lifespan":
            await self.lifespan(receive, send)

    async def lifespan(self, receive: Receive, send: Send) -> None:
        """Start the runtime before serving; stop it after the last request."""
        while True:
            message: dict[str, Any] = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.runtime = runtime.build()
                    await runtime.start(self.runtime)
                except Exception as error:
                    logger.exception("start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(error)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.runtime is not None:
                    await runtime.stop(self.runtime)
                await send({"type": "lifespan.shutdown.complete"})
                return


application = ChatSpheres()
