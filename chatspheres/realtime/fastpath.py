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

Order is kept: the lane is only used when the socket's ASGI queue is empty and
no handler of the tab is still running (the tab declines otherwise, see
``Tab.receive_now``), so a frame never overtakes one sent before it; and a
write to the partner only happens when their socket accepts writes at once.
``REALTIME_FAST_LANE=false`` turns the lane off. The lane relies on uvicorn's
internals (the attributes below); tests/realtime/test_fast_lane.py asserts
them, so an upgrade that moves them fails loudly instead of silently taking
the slow route.
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

    def forget_handshake(self) -> None:
        """Drop the handshake's request and response once accepted (1.2 KiB per idle socket)."""
        if self.handshake_complete:
            self.request = None  # type: ignore[assignment]
            self.response = None  # type: ignore[assignment]

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

    def can_write_now(self) -> bool:
        """Whether a frame written now would go straight out (no wait for the network)."""
        return (
            self.handshake_complete
            and not self.close_sent
            and self.initial_response is None
            and self.writable.is_set()
            and not self.transport.is_closing()
        )

    def write_text_now(self, text: str) -> bool:
        """Send a text frame right away; False when it must wait (the caller then awaits)."""
        if not self.can_write_now():
            return False
        return self.write_text_checked(text)

    def write_text_checked(self, text: str) -> bool:
        """:meth:`write_text_now` for a caller that has just seen :meth:`can_write_now` say yes."""
        try:
            self.conn.send_text(text.encode())
        except InvalidState:
            return False
        self.transport.write(b"".join(self.conn.data_to_send()))
        return True
