"""Serve ChatSpheres with uvicorn, configured the way it is measured.

``python -m chatspheres.server`` is what ``make run`` starts; tests and
benchmarks build the same configuration with :func:`uvicorn_config`.
"""

from __future__ import annotations

import argparse
import os
import socket
from typing import Any

import uvicorn


def uvicorn_config(
    *, host: str = "127.0.0.1", port: int = 8000, **overrides: Any
) -> uvicorn.Config:
    """The uvicorn settings ChatSpheres relies on."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "lifespan": "on",
        # Per-message compression doubles the CPU cost of every relayed signal
        # (docs/decisions/0001-realtime-gateway.md); signaling frames are small.
        "ws_per_message_deflate": False,
        # uvicorn's WebSocket protocol plus a synchronous lane for relayed
        # signals (chatspheres/realtime/fastpath.py).
        "ws": "chatspheres.realtime.fastpath:GatewayWebSocketProtocol",
        "ws_max_size": settings.REALTIME_MAX_FRAME_BYTES,
        "ws_ping_interval": settings.REALTIME_PING_INTERVAL,
        "ws_ping_timeout": settings.REALTIME_PING_TIMEOUT,
        "proxy_headers": True,
        "server_header": False,
        "log_level": os.environ.get("UVICORN_LOG_LEVEL", "info"),
    }
    options.update(overrides)
    return uvicorn.Config("chatspheres.asgi:application", **options)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve ChatSpheres.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    args = parser.parse_args()
    config = uvicorn_config(host=args.host, port=args.port)
    print(f"ChatSpheres is serving on http://{args.host}:{args.port}", flush=True)
    uvicorn.Server(config).run()


def free_port() -> socket.socket:
    """A listening socket on a free loopback port (for tests and benchmarks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


if __name__ == "__main__":
    main()
