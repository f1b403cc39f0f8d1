"""The message schemas of ``/ws/`` (see docs/protocol.md).

Incoming frames decode straight into these ``msgspec`` structs: a frame that
does not fit one of them exactly (unknown type, missing or extra field, wrong
kind of value) is refused with an error frame before any handler sees it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

ConversationId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
ChatText = Annotated[str, msgspec.Meta(min_length=1, max_length=1000)]
SphereId = Annotated[int, msgspec.Meta(ge=1)]


class Incoming(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    """Base of every client frame; the ``type`` field picks the struct."""


class SphereEnter(Incoming, tag="sphere.enter"):
    sphere: SphereId


class SphereLeave(Incoming, tag="sphere.leave"):
    pass


class QueueJoin(Incoming, tag="queue.join"):
    sphere: SphereId


class QueueLeave(Incoming, tag="queue.leave"):
    pass


class Signal(Incoming, tag="signal"):
    conversation: ConversationId
    # Left undecoded: the server relays the sender's text verbatim and the
    # partner's browser is the one that reads the SDP or candidate.
    data: msgspec.Raw


class MediaState(Incoming, tag="media.state"):
    conversation: ConversationId
    audio: bool
    video: bool


class ChatSend(Incoming, tag="chat.send"):
    conversation: ConversationId
    text: ChatText


class CallEnd(Incoming, tag="call.end"):
    conversation: ConversationId
    reason: Literal["ended", "next"]


IncomingFrame = (
    SphereEnter | SphereLeave | QueueJoin | QueueLeave | Signal | MediaState | ChatSend | CallEnd
)

decoder = msgspec.json.Decoder(IncomingFrame)
# Only the frames the relay passes on verbatim (the fast lane, gateway.py).
relay_decoder = msgspec.json.Decoder(Signal | MediaState)
_encoder = msgspec.json.Encoder()


def encode(frame: dict[str, Any]) -> str:
    """A server frame as JSON text."""
    return _encoder.encode(frame).decode()


def error_frame(code: str, message: str) -> str:
    """An error frame: a stable code for programs and words for people."""
    return encode({"type": "error", "code": code, "message": message})


def chat_message_frame(conversation: str, text: str, at: datetime) -> str:
    """What the partner receives for a chat line."""
    return encode(
        {"type": "chat.message", "conversation": conversation, "text": text, "at": at.isoformat()}
    )
