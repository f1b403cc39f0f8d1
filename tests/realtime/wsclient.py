"""A test client for /ws/: one object per browser tab, over a real socket."""

from __future__ import annotations

import json
from typing import Any

from websockets.sync.client import ClientConnection, connect

from chatspheres.accounts.models import User
from tests.conftest import LiveServer, session_cookie

# A frame that takes longer than this to arrive means the test has failed; it
# bounds a hang, it does not time the server.
RECEIVE_LIMIT_SECONDS = 10


class Tab:
    """A signed-in member's tab connected to the gateway."""

    def __init__(self, server: LiveServer, user: User, *, origin: str | None = None) -> None:
        self.user = user
        self.ws: ClientConnection = connect(
            server.ws_url,
            origin=origin or server.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": session_cookie(user)},
            open_timeout=RECEIVE_LIMIT_SECONDS,
            max_size=None,
            legacy=True,  # a plain object, not a context manager: a tab lives as long as its test
        )
        ready = self.receive()
        assert ready == {"type": "ready", "user": user.pk}

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def receive(self) -> dict[str, Any]:
        """The next frame, whatever it is."""
        message = self.ws.recv(timeout=RECEIVE_LIMIT_SECONDS)
        frame = json.loads(message)
        assert isinstance(frame, dict)
        return frame

    def receive_type(self, kind: str) -> dict[str, Any]:
        """The next frame, which must be of type ``kind`` (presence updates are skipped)."""
        while True:
            frame = self.receive()
            if frame["type"] == "sphere.presence" and kind != "sphere.presence":
                continue
            assert frame["type"] == kind, f"expected {kind}, got {frame}"
            return frame

    def close(self) -> None:
        self.ws.close()


def match(first: Tab, second: Tab, sphere_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Queue ``first`` then ``second`` in a sphere; both receive match.found."""
    first.send({"type": "queue.join", "sphere": sphere_id})
    first.receive_type("queue.waiting")
    second.send({"type": "queue.join", "sphere": sphere_id})
    return first.receive_type("match.found"), second.receive_type("match.found")


def signal(conversation: str, note: str) -> dict[str, Any]:
    """A 190-byte-ish ICE candidate frame, tagged with ``note`` to recognise it."""
    return {
        "type": "signal",
        "conversation": conversation,
        "data": {
            "candidate": {
                "candidate": f"candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host {note}",
                "sdpMid": "0",
                "sdpMLineIndex": 0,
            }
        },
    }
