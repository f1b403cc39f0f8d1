"""One small adapter per server: how a tab connects, gets paired and what it sends.

Everything else (the client, the ping-pong, the measurement) is shared, so
both servers are driven identically.
"""

from __future__ import annotations

import asyncio
import secrets
import string
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import websockets.asyncio.client

from bench.relay.load import Pair, Stats, ice_candidate, padded
from bench.relay.members import Members
from bench.relay.peerjs import PEERJS_KEY
from bench.relay.wire import Socket, open_socket

T = TypeVar("T")
CONNECT_CONCURRENCY = 64
SETUP_TIMEOUT = 60.0
HOST = "127.0.0.1"


async def bounded_gather(count: int, make: Callable[[int], Awaitable[T]], limit: int) -> list[T]:
    """``make(0) … make(count - 1)`` with at most ``limit`` running at once, in order."""
    gate = asyncio.Semaphore(limit)

    async def one(index: int) -> T:
        async with gate:
            return await make(index)

    return list(await asyncio.gather(*(one(index) for index in range(count))))


async def probe_extensions(
    uri: str, *, origin: str, headers: dict[str, str], first: str
) -> dict[str, Any]:
    """Offer per-message compression as a browser does; note what the server answers."""
    async with websockets.asyncio.client.connect(
        uri,
        origin=websockets.typing.Origin(origin),
        additional_headers=headers,
        compression="deflate",
        ping_interval=None,
        proxy=None,
    ) as probe:
        await asyncio.wait_for(probe.recv(), SETUP_TIMEOUT)  # `ready` / `OPEN`: fully accepted
        assert probe.request is not None and probe.response is not None
        return {
            "offered": probe.request.headers.get("Sec-WebSocket-Extensions"),
            "accepted": probe.response.headers.get("Sec-WebSocket-Extensions"),
            "first_frame": first,
        }


class Side:
    """A server under test, as the load generator sees it."""

    name: str
    prefix: bytes

    def __init__(self, *, pid: int, port: int) -> None:
        self.pid = pid
        self.port = port
        # Every process whose CPU the relay costs (two servers and Redis for
        # the Redis mode); the main server's by default.
        self.pids: list[int] = [pid]
        self.process_labels: list[str] = ["server"]
        self.sockets: list[Socket] = []
        self.pairs: list[Pair] = []
        self.stats = Stats()
        self.negotiated: dict[str, Any] = {}

    async def open(self, count: int) -> None:
        """Connect ``count`` sockets and wait until the server has accepted each."""
        raise NotImplementedError

    async def pair(self) -> None:
        """Make a :class:`Pair` of every two sockets, ready to ping-pong."""
        raise NotImplementedError

    async def close(self, patience: float = 20.0) -> None:
        """Every tab closes (1001, as a browser leaving the page)."""
        for socket in self.sockets:
            socket.close(1001)
        pending = [socket.closed for socket in self.sockets if not socket.closed.done()]
        if pending:
            _done, late = await asyncio.wait(pending, timeout=patience)
            if late:
                for socket in self.sockets:
                    socket.abort()

    def _record_load_extensions(self, responses: Sequence[Any]) -> None:
        self.negotiated["load_clients_offered"] = self.sockets[0].request_extensions
        # null: the server agreed to no extension (no compression) on any socket.
        self.negotiated["load_clients_accepted"] = sorted(
            {response.headers.get("Sec-WebSocket-Extensions") for response in responses}, key=str
        )


class OurSide(Side):
    """ChatSpheres' ``/ws/``: signed-in members who queue and get matched, as in the browser.

    With several ``ports`` (server processes sharing a Redis), socket ``i``
    connects to ``ports[i % len(ports)]``: with two, the two tabs of every
    pair are on different processes, and every relayed message crosses Redis.
    """

    name = "chatspheres"
    prefix = b'{"type":"signal",'

    def __init__(
        self,
        *,
        pid: int,
        port: int,
        members: Members,
        lanes: int,
        ports: Sequence[int] | None = None,
        name: str | None = None,
    ) -> None:
        super().__init__(pid=pid, port=port)
        self.members = members
        self.lanes = lanes
        self.ports = list(ports or [port])
        if name is not None:
            self.name = name
        self.uri = f"ws://{HOST}:{port}/ws/"
        self.origin = f"http://{HOST}:{port}"
        # What each socket's ready frame said (its tab id, last event id),
        # its match.found, and each pair's conversation.
        self.ready: list[dict[str, Any]] = []
        self.found: list[dict[str, Any]] = []
        self.conversations: list[str] = []

    def port_of(self, index: int) -> int:
        return self.ports[index % len(self.ports)]

    async def open(self, count: int) -> None:
        # The probe signs in as the member after the last one used, so no tab is shared.
        self.negotiated["probe"] = await probe_extensions(
            self.uri,
            origin=self.origin,
            headers={"Cookie": self.members.cookies[count]},
            first="ready",
        )

        async def connect(index: int) -> tuple[Socket, Any, dict[str, Any]]:
            port = self.port_of(index)
            socket, response = await open_socket(
                HOST,
                port,
                f"ws://{HOST}:{port}/ws/",
                origin=f"http://{HOST}:{port}",
                headers={"Cookie": self.members.cookies[index]},
            )
            # {"type":"ready","user":N,"tab":"…","last_event_id":N,"resumed":false}
            ready = await socket.receive_type({"ready"}, SETUP_TIMEOUT)
            assert ready["user"] == self.members.user_ids[index], ready
            assert not ready.get("resumed", False), ready
            return socket, response, ready

        opened = await bounded_gather(count, connect, CONNECT_CONCURRENCY)
        self.sockets = [socket for socket, _, _ in opened]
        self.ready = [ready for _, _, ready in opened]
        self._record_load_extensions([response for _, response, _ in opened])

    async def pair(self) -> None:
        """Pair k queues A then B in its sphere; spheres (lanes) queue side by side."""
        count = len(self.sockets) // 2
        conversations: list[str] = [""] * count

        async def lane(first: int) -> None:
            for k in range(first, count, self.lanes):
                a, b = self.sockets[2 * k], self.sockets[2 * k + 1]
                sphere = self.members.sphere_of_pair[k]
                a.send_json({"type": "queue.join", "sphere": sphere})
                await a.receive_type({"queue.waiting"}, SETUP_TIMEOUT)
                b.send_json({"type": "queue.join", "sphere": sphere})
                found_a = await a.receive_type({"match.found"}, SETUP_TIMEOUT)
                found_b = await b.receive_type({"match.found"}, SETUP_TIMEOUT)
                if found_a["conversation"] != found_b["conversation"]:
                    raise RuntimeError(f"pair {k} was matched apart: {found_a} / {found_b}")
                conversations[k] = found_a["conversation"]
                self.found[2 * k], self.found[2 * k + 1] = found_a, found_b

        self.found = [{} for _ in self.sockets]
        await asyncio.gather(*(lane(first) for first in range(min(self.lanes, count))))
        self.conversations = conversations
        self.pairs = []
        for k, conversation in enumerate(conversations):

            def frame(conversation: str = conversation) -> bytes:
                return padded(
                    lambda filler: {
                        "type": "signal",
                        "conversation": conversation,
                        "data": {"candidate": ice_candidate(filler)},
                    }
                )

            self.pairs.append(
                Pair(
                    self.sockets[2 * k],
                    self.sockets[2 * k + 1],
                    to_b=frame(),
                    to_a=frame(),
                    prefix=self.prefix,
                    stats=self.stats,
                )
            )


def peerjs_token() -> str:
    """Like the PeerJS client's random token (base-36 letters and digits)."""
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(11))


class PeerSide(Side):
    """The PeerJS server: clients with an id and a token, messages addressed by id."""

    name = "peerjs"
    prefix = b'{"type":"CANDIDATE",'
    # The PeerJS client sends one every 5 s; without them the server drops a socket.
    HEARTBEAT_SECONDS = 5.0

    def __init__(self, *, pid: int, port: int, key: str = PEERJS_KEY) -> None:
        super().__init__(pid=pid, port=port)
        self.key = key
        self.origin = f"http://{HOST}:{port}"
        self.ids: list[str] = []
        self._heartbeat: asyncio.Task[None] | None = None

    def uri(self, peer_id: str, token: str) -> str:
        return f"ws://{HOST}:{self.port}/peerjs?key={self.key}&id={peer_id}&token={token}"

    async def open(self, count: int) -> None:
        self.negotiated["probe"] = await probe_extensions(
            self.uri(str(uuid.uuid4()), peerjs_token()),
            origin=self.origin,
            headers={},
            first="OPEN",
        )
        # Clients may pick their ids (the server's /id route would hand out UUIDs);
        # short ones leave room for a candidate in the 190 bytes.
        ids: set[str] = set()
        while len(ids) < count:
            ids.add(peerjs_token()[:10])
        self.ids = list(ids)

        async def connect(index: int) -> tuple[Socket, Any]:
            socket, response = await open_socket(
                HOST,
                self.port,
                self.uri(self.ids[index], peerjs_token()),
                origin=self.origin,
                headers={},
            )
            await socket.receive_type({"OPEN"}, SETUP_TIMEOUT)
            return socket, response

        opened = await bounded_gather(count, connect, CONNECT_CONCURRENCY)
        self.sockets = [socket for socket, _ in opened]
        self._record_load_extensions([response for _, response in opened])
        self._heartbeat = asyncio.get_running_loop().create_task(self._heartbeats())

    async def pair(self) -> None:
        """PeerJS has no matching: A and B simply address each other by id."""
        self.pairs = []
        for k in range(len(self.sockets) // 2):
            connection_id = "mc_" + peerjs_token()[:10]

            def frame(destination: str, connection_id: str = connection_id) -> bytes:
                return padded(
                    lambda filler: {
                        "type": "CANDIDATE",
                        "payload": {
                            "candidate": ice_candidate(filler),
                            "type": "media",
                            "connectionId": connection_id,
                        },
                        "dst": destination,
                    }
                )

            self.pairs.append(
                Pair(
                    self.sockets[2 * k],
                    self.sockets[2 * k + 1],
                    to_b=frame(self.ids[2 * k + 1]),
                    to_a=frame(self.ids[2 * k]),
                    prefix=self.prefix,
                    stats=self.stats,
                )
            )

    async def _heartbeats(self) -> None:
        """Each socket sends HEARTBEAT every 5 s, spread evenly over the interval."""
        beat = b'{"type":"HEARTBEAT"}'
        slices = 50
        step = self.HEARTBEAT_SECONDS / slices
        while True:
            for part in range(slices):
                for socket in self.sockets[part::slices]:
                    if socket.transport is not None and not socket.transport.is_closing():
                        socket.send(beat)
                await asyncio.sleep(step)

    async def close(self, patience: float = 20.0) -> None:
        if self._heartbeat is not None:
            self._heartbeat.cancel()
        await super().close(patience)
