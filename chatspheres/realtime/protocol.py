"""The shape of frames on ``/ws/``: the bases apps build their schemas on, and the core's own.

Every frame is a JSON object with a ``type``. Apps declare their incoming
frames as subclasses of :class:`Incoming` and their outgoing events as
subclasses of :class:`Event` (both ``msgspec`` structs) in their own
``realtime.py``; the core knows none of them by name. docs/protocol.md lists
them all.

Before ``msgspec`` sees a frame, :func:`nesting_depth_ok` refuses one nested
deeper than :data:`MAX_DEPTH`: ``msgspec`` recurses through nested values and
raises ``RecursionError`` about a thousand levels down. When a frame does not
fit its schema, :func:`explain_refusal` works out why from the frame's
structure (which field, which rule), never from the wording of ``msgspec``'s
message, which may change with any release.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, get_args, get_origin

import msgspec

from chatspheres.common.errors import (
    BAD_CHARACTERS,
    BAD_FRAME,
    TOO_DEEP,
    UNKNOWN_TYPE,
    ErrorCode,
)

# Deeper than any frame we define (a signal is four levels deep), far below
# the depth at which decoding recurses too far.
MAX_DEPTH = 32

# C0 control characters and DEL, except tab, line feed and carriage return,
# which people type. NUL in particular must never reach PostgreSQL.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_NO_CONTROL_CHARACTERS = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

# An id made by the server (a conversation's public id, a tab id): URL-safe base64.
Token = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# A member's handle, as in the address of their page (lower case, digits, hyphens).
Handle = Annotated[str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9-]+$")]
# Free text a person typed.
Text = Annotated[str, msgspec.Meta(pattern=_NO_CONTROL_CHARACTERS)]


def text(*, max_length: int, too_long: ErrorCode | None = None) -> Any:
    """A text field of at most ``max_length`` characters, none of them control characters.

    ``too_long`` is the error code a client gets when the text is longer.
    """
    extra = {"too_long": too_long} if too_long is not None else {}
    return Annotated[
        str,
        msgspec.Meta(
            min_length=1, max_length=max_length, pattern=_NO_CONTROL_CHARACTERS, extra=extra
        ),
    ]


class Incoming(msgspec.Struct, tag_field="type", forbid_unknown_fields=True):
    """Base of every client frame; the ``type`` field picks the struct."""


class Event(msgspec.Struct, tag_field="type", kw_only=True, omit_defaults=True):
    """Base of every frame the server sends; the ``type`` field names it.

    Events for a member or a tab are logged for catch-up unless their class
    says ``logged = False`` (signals to the server itself, not news for people).
    """

    logged: ClassVar[bool] = True


def event_type(event: Event | type[Event]) -> str:
    """The ``type`` an event is sent with."""
    tag = event.__struct_config__.tag
    assert isinstance(tag, str), f"{event!r} needs a tag"
    return tag


class Ready(Event, tag="ready"):
    """Sent once the socket is accepted: who you are, which tab this is, what you missed."""

    user: int
    tab: str
    # The id of the newest event this member has been sent; a reconnecting
    # tab asks for everything after the last one it saw.
    last_event_id: int
    resumed: bool


class Error(Event, tag="error"):
    """A frame was refused; nothing else changed."""

    code: str
    message: str


class Resync(Event, tag="resync"):
    """A reconnecting tab missed more than can be replayed: it must reload what it shows."""

    message: str


_encoder = msgspec.json.Encoder()


def encode(event: Event) -> str:
    """An event as the JSON text a client receives."""
    return _encoder.encode(event).decode()


def error_frame(code: ErrorCode, message: str | None = None) -> str:
    """An error frame: the code for programs and words for people."""
    return encode(Error(code=code.name, message=message or code.message))


def nesting_depth_ok(text: str) -> bool:
    """Whether the frame is nested no deeper than :data:`MAX_DEPTH`."""
    # Cheap and exact enough for almost every frame: fewer brackets than the
    # limit cannot nest deeper than it. Only frames with many brackets (an
    # SDP does not count: it is one string) pay for the exact scan.
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return True
    depth = 0
    for token in _STRUCTURE.finditer(text):
        char = token.group()
        if char in "{[":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif char in "}]":
            depth -= 1
    return True


# Strings are matched whole so that brackets inside them are not counted.
_STRUCTURE = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]]')


def explain_refusal(
    text: str, schemas: Mapping[str, type[Incoming]]
) -> tuple[ErrorCode, str | None]:
    """Why a frame that failed to decode was refused: an error code and, if useful, words.

    ``schemas`` maps each known ``type`` to its struct.
    """
    if not nesting_depth_ok(text):
        return TOO_DEEP, None
    try:
        value = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return BAD_FRAME, "That was not a JSON object."
    if not isinstance(value, dict):
        return BAD_FRAME, "Each message must be a JSON object with a type."
    schema = schemas.get(value["type"]) if isinstance(value.get("type"), str) else None
    if schema is None:
        return UNKNOWN_TYPE, None
    if _has_control_characters(value):
        return BAD_CHARACTERS, None
    return _explain_fields(value, schema)


def _has_control_characters(value: Any) -> bool:
    if isinstance(value, str):
        return CONTROL_CHARACTERS.search(value) is not None
    if isinstance(value, dict):
        return any(
            _has_control_characters(k) or _has_control_characters(v) for k, v in value.items()
        )
    if isinstance(value, list):
        return any(_has_control_characters(item) for item in value)
    return False


def _explain_fields(value: dict[str, Any], schema: type[Incoming]) -> tuple[ErrorCode, str | None]:
    kind = value["type"]
    fields = {field.encode_name: field for field in msgspec.structs.fields(schema)}
    for name in value:
        if name != "type" and name not in fields:
            return BAD_FRAME, f"A {kind} message has no field `{name}`."
    for name, field in fields.items():
        if name not in value:
            if field.required:
                return BAD_FRAME, f"A {kind} message needs `{name}`."
            continue
        field_value = value[name]
        meta = _string_meta(field.type)
        if (
            meta is not None
            and isinstance(field_value, str)
            and meta.max_length is not None
            and len(field_value) > meta.max_length
        ):
            code = (meta.extra or {}).get("too_long")
            if isinstance(code, ErrorCode):
                return code, None
            return BAD_FRAME, f"`{name}` can be at most {meta.max_length} characters."
        try:
            msgspec.convert(field_value, field.type)
        except msgspec.ValidationError:
            return BAD_FRAME, f"`{name}` is not a valid value for a {kind} message."
    return BAD_FRAME, None


def _string_meta(annotation: Any) -> msgspec.Meta | None:
    if get_origin(annotation) is not Annotated:
        return None
    for item in get_args(annotation)[1:]:
        if isinstance(item, msgspec.Meta):
            return item
    return None
