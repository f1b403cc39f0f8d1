"""``/metrics``: what the site counts, in Prometheus's text format, for the operator's scraper.

Only the addresses in ``METRICS_ALLOWED_ADDRESSES`` (loopback by default) may
scrape; anyone else gets a plain 404, as if there were nothing here. The
address is the one uvicorn reports for the request: behind a proxy it trusts
(``TRUSTED_PROXIES``), that is the address the proxy forwarded for.

With several worker processes (``python -m chatspheres.server --workers N``)
each keeps its figures in files under ``PROMETHEUS_MULTIPROC_DIR`` (set by the
server command), and whichever worker answers a scrape reads them all: one
scrape covers every worker. Gauges of a worker that has died (killed, or
replaced by uvicorn's supervisor) are dropped at the next scrape; its counters
stay in the totals, as Prometheus expects of counters.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from django.conf import settings
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from chatspheres.realtime.metrics import relays

logger = logging.getLogger(__name__)

METRICS_PATH = "/metrics"

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# The file of a live gauge of one process: gauge_livesum_<pid>.db and the like.
_LIVE_GAUGE_FILE = re.compile(r"^gauge_live[a-z]*_(\d+)\.db$")


@lru_cache(maxsize=4)
def allowed_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks ``METRICS_ALLOWED_ADDRESSES`` names (an address is a network of one)."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            # Fail closed: a typo must not open /metrics to everyone.
            logger.error("METRICS_ALLOWED_ADDRESSES: %r is no address or network; ignored", entry)
    return tuple(networks)


def may_scrape(address: str, entries: Iterable[str]) -> bool:
    """Whether a request from ``address`` may read the metrics."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False  # a Unix socket, or no address at all
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip in network for network in allowed_networks(tuple(entries)))


def multiprocess_dir() -> str | None:
    """The folder the worker processes keep their figures in, when there are several."""
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def _forget_dead_processes(path: str) -> None:
    """Drop the live gauges of processes that no longer exist (a worker killed with -9)."""
    from prometheus_client.multiprocess import mark_process_dead

    for name in os.listdir(path):
        found = _LIVE_GAUGE_FILE.match(name)
        if found is None:
            continue
        pid = int(found.group(1))
        if not _alive(pid):
            mark_process_dead(pid, path)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def exposition() -> bytes:
    """Every metric of this process, or of all the worker processes, in the text format."""
    relays.flush()
    path = multiprocess_dir()
    if path is None:
        return bytes(generate_latest(REGISTRY))
    from prometheus_client.multiprocess import MultiProcessCollector

    _forget_dead_processes(path)
    registry = CollectorRegistry()
    MultiProcessCollector(registry, path=path)
    return bytes(generate_latest(registry))


async def serve_metrics(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer one HTTP request for ``/metrics``."""
    client = scope.get("client")
    if not client or not may_scrape(str(client[0]), settings.METRICS_ALLOWED_ADDRESSES):
        await _respond(send, 404, b"Not Found\n", b"text/plain; charset=utf-8")
        return
    method = scope.get("method", "GET")
    if method not in ("GET", "HEAD"):
        await _respond(
            send, 405, b"Method Not Allowed\n", b"text/plain; charset=utf-8", allow=b"GET, HEAD"
        )
        return
    body = exposition()
    await _respond(send, 200, body, CONTENT_TYPE_LATEST.encode(), head=method == "HEAD")


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: bytes,
    *,
    allow: bytes | None = None,
    head: bool = False,
) -> None:
    headers = [
        (b"content-type", content_type),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
    ]
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else body})
