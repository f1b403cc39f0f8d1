"""A reference relay, not a product: the least a Python server can do per signal.

``python -m bench.relay.floor PORT`` serves WebSockets on 127.0.0.1 with the
same libraries our server uses underneath (uvloop, websockets' Sans-I/O
protocol, msgspec) but without ASGI: each frame is handled in the transport's
``data_received`` callback, with no queue, task or message dict per frame.
It speaks just enough of the PeerJS protocol (``?id=`` on connect, ``OPEN``,
relay verbatim to ``dst``) for the benchmark's PeerJS adapter to drive it, so
``python -m bench.relay --floor`` shows how much of our cost per message is
the Python WebSocket stack itself and how much is the ASGI layer above it.
It authenticates nobody and checks nothing beyond ``dst``.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from bench.common import free_port, listening_process


class Addressed(msgspec.Struct):
    dst: str = ""


decode_destination = msgspec.json.Decoder(Addressed).decode
clients: dict[str, FloorConnection] = {}


class FloorConnection(asyncio.Protocol):
    def __init__(self) -> None:
        self.protocol = ServerProtocol(max_size=64 * 1024)
        self.transport: asyncio.Transport | None = None
        self.peer_id: str | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if type(event) is Frame:
                if event.opcode is Opcode.TEXT:
                    target = clients.get(decode_destination(event.data).dst)
                    if target is not None and target.transport is not None:
                        target.protocol.send_text(event.data)
                        target.transport.writelines(target.protocol.data_to_send())
            elif isinstance(event, Request):
                query = parse_qs(urlsplit(event.path).query)
                self.peer_id = query.get("id", [""])[0]
                clients[self.peer_id] = self
                protocol.send_response(protocol.accept(event))
                protocol.send_text(b'{"type":"OPEN"}')
        chunks = protocol.data_to_send()
        if chunks and self.transport is not None:
            self.transport.writelines(chunks)
            if chunks[-1] == b"":  # the close handshake is done: the server closes TCP
                self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer_id is not None and clients.get(self.peer_id) is self:
            del clients[self.peer_id]


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FloorConnection, "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


@contextmanager
def floor_server() -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """The reference relay on a free loopback port."""
    port = free_port()
    command = [sys.executable, "-m", "bench.relay.floor", str(port)]
    with listening_process(command, port=port) as served:
        yield served


if __name__ == "__main__":
    import uvloop

    uvloop.run(serve(int(sys.argv[1])))
