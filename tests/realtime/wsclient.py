"""A test client for /ws/: one object per browser tab, over a real socket."""

from __future__ import annotations

import json
import socket
from typing import Any

from websockets.sync.client import ClientConnection, connect

from chatspheres.accounts.models import User
from tests.conftest import LiveServer, session_cookie

# Frames that come and go while a tab waits or watches (counts, the waiting
# screen's hint): receive_type passes over them unless they are asked for.
PASSING_NEWS = frozenset({"sphere.presence", "queue.hint"})

# A frame that takes longer than this to arrive means the test has failed; it
# bounds a hang, it does not time the server.
RECEIVE_LIMIT_SECONDS = 10


class Tab:
    """A signed-in member's tab connected to the gateway.

    Like the browser's realtime.js, it remembers its tab id and the id of the
    last event it saw, and can reconnect asking to resume (:meth:`reconnect`).
    Event ids are taken out of the frames :meth:`receive` returns, so tests
    compare what a person would see.
    """

    def __init__(
        self,
        server: LiveServer,
        user: User,
        *,
        origin: str | None = None,
        cookie: str | None = None,
        resume: tuple[str, int] | None = None,
    ) -> None:
        self.user = user
        self.server = server
        self.origin = origin or server.origin
        self.cookie = cookie or session_cookie(user)
        self.last_event_id = 0
        self.ws = self._connect(resume)
        self.ready = self.receive()
        assert self.ready["type"] == "ready", self.ready
        assert self.ready["user"] == user.pk
        self.id: str = self.ready["tab"]
        self.last_event_id = self.ready["last_event_id"]

    def _connect(self, resume: tuple[str, int] | None) -> ClientConnection:
        url = self.server.ws_url
        if resume is not None:
            url += f"?tab={resume[0]}&last_event_id={resume[1]}"
        return connect(
            url,
            origin=self.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.cookie},
            open_timeout=RECEIVE_LIMIT_SECONDS,
            max_size=None,
            legacy=True,  # a plain object, not a context manager: a tab lives as long as its test
        )

    def reconnect(self, server: LiveServer | None = None) -> dict[str, Any]:
        """Open a new socket that resumes this tab (after its old one dropped); return ``ready``."""
        if server is not None:
            self.server = server
        self.ws = self._connect((self.id, self.last_event_id))
        self.ready = self.receive()
        assert self.ready["type"] == "ready", self.ready
        if self.ready["resumed"]:
            assert self.ready["tab"] == self.id
        self.id = self.ready["tab"]
        return self.ready

    def drop(self) -> None:
        """Lose the socket without a closing handshake, as a network failure would."""
        self.ws.socket.shutdown(socket.SHUT_RDWR)

    def send(self, frame: dict[str, Any]) -> None:
        self.ws.send(json.dumps(frame))

    def send_text(self, text: str) -> None:
        self.ws.send(text)

    def receive(self) -> dict[str, Any]:
        """The next frame, whatever it is."""
        message = self.ws.recv(timeout=RECEIVE_LIMIT_SECONDS)
        frame = json.loads(message)
        assert isinstance(frame, dict)
        if "id" in frame:
            event_id = frame.pop("id")
            assert event_id > self.last_event_id, "event ids only grow"
            self.last_event_id = event_id
        return frame

    def receive_type(self, kind: str) -> dict[str, Any]:
        """The next frame, which must be of type ``kind`` (``PASSING_NEWS`` is skipped)."""
        while True:
            frame = self.receive()
            if frame["type"] in PASSING_NEWS and kind != frame["type"]:
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
