"""The load generator's WebSocket client: websockets' Sans-I/O protocol on asyncio.

One :class:`Socket` per simulated browser tab. The set-up phase reads frames
as coroutines (:meth:`Socket.receive`); the ping-pong phase switches a socket
to a callback (:attr:`Socket.on_frame`) so a received frame is answered from
``data_received`` itself, with no task or queue per message. That keeps the
generator's own cost per relayed message low, so that it, not the client,
is what a server has to keep up with.

Compression is never offered (``extensions=None``): the benchmark measures
relaying, and both servers are driven the same way.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.typing import Origin
from websockets.uri import parse_uri

MAX_FRAME = 1 << 20


class Socket(asyncio.Protocol):
    """One client WebSocket over a plain asyncio transport."""

    def __init__(self, uri: str, *, origin: str, headers: dict[str, str]) -> None:
        self.protocol = ClientProtocol(
            parse_uri(uri), origin=Origin(origin), extensions=None, max_size=MAX_FRAME
        )
        self._headers = headers
        loop = asyncio.get_running_loop()
        self.handshake: asyncio.Future[Response] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()
        # While set, text frames go here instead of the inbox.
        self.on_frame: Callable[[bytes], None] | None = None
        self.transport: asyncio.Transport | None = None
        self.request_extensions: str | None = None

    # asyncio.Protocol ------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not a subclass of asyncio.Transport, only alike.
        self.transport = transport  # type: ignore[assignment]
        request = self.protocol.connect()
        for name, value in self._headers.items():
            request.headers[name] = value
        self.request_extensions = request.headers.get("Sec-WebSocket-Extensions")
        self.protocol.send_request(request)
        self._flush()

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        protocol.receive_data(data)
        for event in protocol.events_received():
            if type(event) is Frame:
                if event.opcode is Opcode.TEXT:
                    handler = self.on_frame
                    if handler is not None:
                        handler(event.data)  # type: ignore[arg-type]
                    else:
                        self.inbox.put_nowait(bytes(event.data))
                # PING is answered by the protocol itself (a PONG in data_to_send).
            elif isinstance(event, Response) and not self.handshake.done():
                if protocol.handshake_exc is not None:
                    self.handshake.set_exception(protocol.handshake_exc)
                else:
                    self.handshake.set_result(event)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.handshake.done():
            self.handshake.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.closed.done():
            self.closed.set_result(None)

    # sending ---------------------------------------------------------------

    def _flush(self) -> None:
        chunks = self.protocol.data_to_send()
        if chunks and self.transport is not None:
            if chunks[-1] == b"":  # the protocol asks to half-close after a close frame
                self.transport.writelines(chunks[:-1])
                if self.transport.can_write_eof():
                    self.transport.write_eof()
            else:
                self.transport.writelines(chunks)

    def send(self, payload: bytes) -> None:
        """Send one text frame (``payload`` is UTF-8 JSON)."""
        self.protocol.send_text(payload)
        chunks = self.protocol.data_to_send()
        self.transport.writelines(chunks)  # type: ignore[union-attr]

    def send_json(self, frame: dict[str, Any]) -> None:
        self.send(json.dumps(frame, separators=(",", ":")).encode())

    async def receive(self, patience: float) -> dict[str, Any]:
        """The next text frame, decoded (set-up phase only)."""
        data = await asyncio.wait_for(self.inbox.get(), patience)
        frame: dict[str, Any] = json.loads(data)
        return frame

    async def receive_type(self, types: set[str], patience: float) -> dict[str, Any]:
        """Skip frames until one of ``types`` arrives; an ``error`` frame is a failure."""
        deadline = time.monotonic() + patience
        while True:
            frame = await self.receive(max(0.01, deadline - time.monotonic()))
            if frame.get("type") in types:
                return frame
            if frame.get("type") in {"error", "ERROR", "ID-TAKEN"}:
                raise RuntimeError(f"server refused: {frame}")

    def close(self, code: int = 1001) -> None:
        """Say goodbye as a closing tab does, then let the server close TCP."""
        if self.transport is None or self.transport.is_closing():
            return
        try:
            self.protocol.send_close(code)
            self._flush()
        except Exception:
            self.transport.abort()

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()


async def open_socket(
    host: str, port: int, uri: str, *, origin: str, headers: dict[str, str], patience: float = 30.0
) -> tuple[Socket, Response]:
    """Connect, complete the WebSocket handshake, return the socket and the server's answer."""
    loop = asyncio.get_running_loop()
    _transport, socket = await asyncio.wait_for(
        loop.create_connection(lambda: Socket(uri, origin=origin, headers=headers), host, port),
        patience,
    )
    response = await asyncio.wait_for(socket.handshake, patience)
    return socket, response
