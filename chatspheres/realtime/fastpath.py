"""A synchronous lane through uvicorn for the relay's hot path.

Under uvicorn's ASGI adapter every WebSocket frame becomes a message dict, goes
through an ``asyncio.Queue``, wakes the gateway's task, and leaves through an
``async`` send; reading is paused and resumed around each frame. Measured
against the PeerJS server (bench/relay), that bookkeeping, not our code, made
a relayed signal cost about twice the CPU.

:class:`GatewayWebSocketProtocol` is uvicorn's own WebSocket protocol with one
addition: a connection may register a *fast receiver*. A text frame that
arrives while nothing of that socket waits in the ASGI queue is first offered
to the receiver, which either handles it completely right there (a signal for
the partner, written straight to the partner's socket) or declines, and the
frame takes the ordinary ASGI route. Declining is always safe, so the gateway
keeps every rule in one place: the fast receiver only takes frames that the
ASGI route would relay without a word, and leaves everything else (errors,
rate limiting, every other message type) to it.

Order is kept: the lane is only used when the socket's ASGI queue is empty, so
a frame never overtakes one sent before it, and a write to the partner only
happens when their socket accepts writes at once.
"""

from __future__ import annotations

from collections.abc import Callable

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.exceptions import InvalidState
from websockets.http11 import Request

LANE_EXTENSION = "chatspheres.lane"

FastReceiver = Callable[[str], bool]


class GatewayWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol, plus the synchronous relay lane."""

    fast_receiver: FastReceiver | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)
        if scope is not None:
            # The gateway finds the lane through the scope, as ASGI extensions are meant to be.
            scope["extensions"][LANE_EXTENSION] = self

    def send_receive_event_to_app(self) -> None:
        """Offer a text frame to the fast receiver before queueing it for the app."""
        receiver = self.fast_receiver
        if (
            receiver is not None
            and self.curr_msg_data_type == "text"
            and len(self.frames) == 1
            and not self.close_sent
            and self.queue.empty()
        ):
            try:
                text = self.frames[0].decode()
            except UnicodeDecodeError:
                pass  # the ordinary route reports it
            else:
                if receiver(text):
                    self.frames = []
                    return
        super().send_receive_event_to_app()

    def write_text_now(self, text: str) -> bool:
        """Send a text frame right away; False when it must wait (the caller then awaits)."""
        if (
            not self.handshake_complete
            or self.close_sent
            or self.initial_response is not None
            or not self.writable.is_set()
            or self.transport.is_closing()
        ):
            return False
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
