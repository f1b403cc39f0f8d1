"""Serve ChatSpheres with uvicorn, configured the way it is measured.

``python -m chatspheres.server`` is what ``make run`` starts; tests and
benchmarks build the same configuration with :func:`uvicorn_config`.

``--workers N`` runs N worker processes on the one port under uvicorn's
supervisor. They share the queue, presence and events through Redis, so N > 1
needs ``REDIS_URL``; and each keeps its metrics in files under
``var/prometheus/<port>/`` (``PROMETHEUS_MULTIPROC_DIR``, emptied at start)
so that one scrape of ``/metrics`` covers them all.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from pathlib import Path
from typing import Any

import uvicorn

from chatspheres.common.config import env_choice, env_port, env_str

# How the command ends when it refuses to start (argparse's code for bad usage).
EXIT_USAGE = 2


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
        # X-Forwarded-For/-Proto only from the proxies in TRUSTED_PROXIES
        # (none by default). Given explicitly: uvicorn's own default trusts
        # loopback, where anyone on the machine could claim any address.
        "proxy_headers": True,
        "forwarded_allow_ips": list(settings.TRUSTED_PROXIES),
        "server_header": False,
        "log_level": env_choice(
            "UVICORN_LOG_LEVEL", "info", ("critical", "error", "warning", "info", "debug", "trace")
        ),
    }
    options.update(overrides)
    return uvicorn.Config("chatspheres.asgi:application", **options)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m chatspheres.server", description="Serve ChatSpheres."
    )
    parser.add_argument("--host", default=env_str("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=env_port("PORT", 8000))
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="worker processes serving the one port (more than one needs REDIS_URL)",
    )
    parser.add_argument(
        "--check", action="store_true", help="only check these options, then exit (make run)"
    )
    args = parser.parse_args(argv)
    load_settings()
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    refusal = workers_refusal(args.workers)
    if refusal is not None:
        print(f"chatspheres.server: {refusal}", file=sys.stderr, flush=True)
        raise SystemExit(EXIT_USAGE)
    if args.check:
        return
    if args.workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Before any worker starts: prometheus_client reads it when imported.
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder(args.port))
    config = uvicorn_config(host=args.host, port=args.port, workers=args.workers)
    print(
        f"ChatSpheres is serving on http://{args.host}:{args.port}"
        + (f" with {args.workers} worker processes" if args.workers > 1 else ""),
        flush=True,
    )
    if args.workers == 1:
        uvicorn.Server(config).run()
        return
    # What uvicorn.run() does for workers, with our configuration object.
    from uvicorn.supervisors import Multiprocess

    Multiprocess(config, sockets=[config.bind_socket()]).run()


def load_settings() -> None:
    """Read every setting now, so that an invalid one stops the command before it serves.

    An invalid value ends the process with one line naming it
    (``chatspheres/common/config.py``), even under ``--check``.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    settings.INSTALLED_APPS  # noqa: B018 (reading one value loads the settings module)


def workers_refusal(workers: int) -> str | None:
    """Why this many workers cannot run with these settings, in one sentence; None if they can."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    if workers > 1 and not settings.REDIS_URL:
        return (
            f"--workers {workers} needs Redis: several processes need Redis to share "
            "the queue, presence and events; set REDIS_URL (or run one worker)."
        )
    return None


def metrics_folder(port: int) -> Path:
    """The folder the workers keep their metrics in, emptied of an earlier run's files.

    ``PROMETHEUS_MULTIPROC_DIR`` when the operator set it, else
    ``var/prometheus/<port>/``. Only metric files (``*.db``) are removed.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    from django.conf import settings

    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(settings.VAR_DIR) / "prometheus" / str(port)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)
    return folder


def free_port() -> socket.socket:
    """A listening socket on a free loopback port (for tests and benchmarks)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    return sock


if __name__ == "__main__":
    main()
