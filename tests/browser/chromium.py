"""Which Chromium to drive, and how: shared by the browser tests and bench/connect."""

from __future__ import annotations

import os

# The flags known to make two headless peers connect on one machine: fake
# devices, no sandbox (root in CI), none of Chromium's calls home (the network
# is closed), and loopback allowed in peer connections (where loopback is the
# only interface).
CHROMIUM_FLAGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
]


def find_chromium() -> tuple[str, str | None]:
    """The Chromium to use (``CHATSPHERES_CHROMIUM``, else Debian's), and why not, if unusable."""
    path = os.environ.get("CHATSPHERES_CHROMIUM") or "/usr/bin/chromium"
    if os.path.isfile(path) and os.access(path, os.X_OK):
        return path, None
    return path, (
        f"Chromium not found at {path}: install Debian's chromium package "
        "or set CHATSPHERES_CHROMIUM to a Chromium executable"
    )
