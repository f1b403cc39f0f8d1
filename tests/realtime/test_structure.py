"""The real-time core knows no app: apps plug into it, never the other way round."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import pytest
from django.core.exceptions import ImproperlyConfigured

import chatspheres
from chatspheres.common.errors import ERROR_CODES
from chatspheres.realtime.protocol import Event, Incoming
from chatspheres.realtime.registry import Registry, registry

PACKAGE = Path(chatspheres.__file__).parent
# What the core may build on: itself, and the shared basics in common/ that
# themselves import no app.
CORE_MAY_IMPORT = ("chatspheres.realtime", "chatspheres.common.events", "chatspheres.common.errors")


def imports_of(path: Path) -> set[str]:
    """Every chatspheres module a file imports, at any depth of its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.startswith("chatspheres.")}


def module_file(name: str) -> Path | None:
    relative = Path(*name.split(".")[1:])
    for candidate in (PACKAGE / relative.with_suffix(".py"), PACKAGE / relative / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def test_the_core_imports_no_feature_app_directly_or_through_common() -> None:
    reached: dict[str, str] = {}
    pending = [
        (f"chatspheres.realtime.{path.stem}", path)
        for path in (PACKAGE / "realtime").glob("*.py")
        if path.stem != "__init__"
    ]
    while pending:
        importer, path = pending.pop()
        for name in imports_of(path):
            if name in reached:
                continue
            reached[name] = importer
            target = module_file(name)
            if target is not None and name.startswith(CORE_MAY_IMPORT):
                pending.append((name, target))
    outside = {
        name: importer
        for name, importer in reached.items()
        if module_file(name) is not None and not name.startswith(CORE_MAY_IMPORT)
    }
    assert outside == {}, f"the core imports apps: {outside}"


def test_every_app_message_type_is_served() -> None:
    assert set(registry.schemas) == {
        "sphere.enter",
        "sphere.leave",
        "queue.join",
        "queue.leave",
        "signal",
        "media.state",
        "chat.send",
        "call.end",
        "talk.time",
        "reveal",
        "ring.start",
        "ring.accept",
        "ring.decline",
        "ring.cancel",
        "prompt.draw",
        "prompt.pass",
        "prompt.deeper",
        "message.send",
    }
    assert set(registry.handlers) == set(registry.schemas.values())


def test_a_message_type_declared_twice_stops_start_up() -> None:
    fresh = Registry()

    class Hello(Incoming, tag="hello"):
        pass

    class AlsoHello(Incoming, tag="hello"):
        pass

    fresh.message(Hello)
    with pytest.raises(ImproperlyConfigured, match="'hello' is declared twice"):
        fresh.message(AlsoHello)


def test_a_decoder_reads_exactly_the_declared_types() -> None:
    fresh = Registry()

    class Ping(Incoming, tag="ping"):
        n: int

    class Pong(Incoming, tag="pong"):
        pass

    fresh.message(Ping)
    fresh.message(Pong)
    assert fresh.decoder.decode('{"type":"ping","n":3}') == Ping(n=3)
    with pytest.raises(msgspec.ValidationError):
        fresh.decoder.decode('{"type":"pang"}')


def test_every_error_code_is_documented_in_the_protocol() -> None:
    protocol = (PACKAGE.parent / "docs" / "protocol.md").read_text()
    missing = [code for code in ERROR_CODES if f"`{code}`" not in protocol]
    assert missing == []


def test_every_event_type_is_documented_in_the_protocol() -> None:
    protocol = (PACKAGE.parent / "docs" / "protocol.md").read_text()
    events = {cls.__struct_config__.tag for cls in _subclasses(Event)}
    missing = sorted(str(tag) for tag in events if f"`{tag}`" not in protocol)
    assert missing == []


def _subclasses(cls: type) -> set[type]:
    found = set(cls.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found
