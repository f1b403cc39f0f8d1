"""The PeerJS server (npm package ``peer``): a pinned install and a loopback process."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.common import VENDOR, free_port, listening_process

PEER_VERSION = "1.0.2"
# Written before installing so `npm install` in bench/vendor is reproducible.
PACKAGE_JSON = {
    "name": "chatspheres-bench-vendor",
    "private": True,
    "description": "Servers the benchmarks compare against (see bench.relay.ensure_peerjs).",
    "dependencies": {"peer": PEER_VERSION},
}
PEERJS_KEY = "peerjs"


def _entry_point() -> Path:
    return VENDOR / "node_modules" / "peer" / "dist" / "bin" / "peerjs.js"


def installed_version() -> str | None:
    """The version of ``peer`` in bench/vendor, or None when it is not there."""
    manifest = VENDOR / "node_modules" / "peer" / "package.json"
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def ensure_peerjs() -> Path:
    """Install the pinned PeerJS server into bench/vendor if absent; return its CLI script."""
    entry = _entry_point()
    if installed_version() == PEER_VERSION and entry.exists():
        return entry
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed to install the PeerJS server (apt-get install npm)")
    VENDOR.mkdir(parents=True, exist_ok=True)
    (VENDOR / "package.json").write_text(json.dumps(PACKAGE_JSON, indent=2) + "\n")
    subprocess.run(
        [
            npm,
            "install",
            "--prefix",
            str(VENDOR),
            "--no-audit",
            "--no-fund",
            "--save-exact",
            f"peer@{PEER_VERSION}",
        ],
        check=True,
        cwd=VENDOR,
    )
    if installed_version() != PEER_VERSION or not entry.exists():
        raise RuntimeError(f"npm did not install peer@{PEER_VERSION} into {VENDOR}")
    return entry


def node_version() -> str:
    node = shutil.which("node") or "node"
    return subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()


@contextmanager
def peerjs_server(*, key: str = PEERJS_KEY) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``peerjs`` on a free 127.0.0.1 port, as its CLI starts it (its own HTTP server)."""
    entry = ensure_peerjs()
    node = shutil.which("node") or "node"
    port = free_port()
    command = [
        node,
        str(entry),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--key",
        key,
        # The default (5,000) is above our largest size; said explicitly so the
        # 2,000-socket run can never hit it.
        "--concurrent_limit",
        "10000",
    ]
    # It prints a line per connection and disconnection: not what we measure.
    with listening_process(command, port=port, cwd=VENDOR) as served:
        yield served
