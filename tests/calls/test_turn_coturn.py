"""coturn itself accepts the credentials the site makes, and refuses them once expired or forged.

A small TURN client (RFC 5766 Allocate with the long-term credential
mechanism, RFC 5389) talks to a ``turnserver`` of the test's own, started as in
the relay-only browser journey (skipped without coturn, failing under CI=true).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import socket
import struct
import time
from typing import Any

import pytest

from chatspheres.calls.ice import ice_config_for
from chatspheres.calls.services import conversation_start
from chatspheres.spheres.models import Sphere
from tests.browser.test_relay_only_journey import REALM, Turn, turnserver  # noqa: F401
from tests.conftest import make_member

pytestmark = pytest.mark.django_db

MAGIC_COOKIE = 0x2112A442
ALLOCATE_REQUEST = 0x0003
ALLOCATE_SUCCESS = 0x0103
ALLOCATE_ERROR = 0x0113
USERNAME, MESSAGE_INTEGRITY, ERROR_CODE = 0x0006, 0x0008, 0x0009
REALM_ATTRIBUTE, NONCE, REQUESTED_TRANSPORT = 0x0014, 0x0015, 0x0019
UDP = 17


def attribute(kind: int, value: bytes) -> bytes:
    return struct.pack("!HH", kind, len(value)) + value + b"\0" * (-len(value) % 4)


def allocate(attributes: bytes, *, key: bytes | None = None) -> bytes:
    """An Allocate request; with ``key``, signed with MESSAGE-INTEGRITY."""
    transaction = secrets.token_bytes(12)
    if key is None:
        return struct.pack("!HHI", ALLOCATE_REQUEST, len(attributes), MAGIC_COOKIE) + (
            transaction + attributes
        )
    # The length in the signed header already counts the integrity attribute (24 bytes).
    header = struct.pack("!HHI", ALLOCATE_REQUEST, len(attributes) + 24, MAGIC_COOKIE)
    signed = header + transaction + attributes
    digest = hmac.new(key, signed, hashlib.sha1).digest()
    return signed + attribute(MESSAGE_INTEGRITY, digest)


def parse(answer: bytes) -> tuple[int, dict[int, bytes]]:
    kind, length = struct.unpack("!HH", answer[:4])
    found: dict[int, bytes] = {}
    at = 20
    while at < 20 + length:
        name, size = struct.unpack("!HH", answer[at : at + 4])
        found.setdefault(name, answer[at + 4 : at + 4 + size])
        at += 4 + size + (-size % 4)
    return kind, found


def exchange(udp: socket.socket, port: int, request: bytes) -> tuple[int, dict[int, bytes]]:
    udp.sendto(request, ("127.0.0.1", port))
    return parse(udp.recv(4096))


def error_code(found: dict[int, bytes]) -> int:
    value = found[ERROR_CODE]
    return (value[2] & 0x7) * 100 + value[3]


def try_credentials(turn: Turn, username: str, credential: str) -> tuple[int, int | None]:
    """Allocate a UDP relay with these credentials: (response type, error code or None)."""
    transport = attribute(REQUESTED_TRANSPORT, bytes([UDP, 0, 0, 0]))
    # One socket: coturn's nonce belongs to the client's address and port.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(5)
        kind, found = exchange(udp, turn.port, allocate(transport))
        assert (kind, error_code(found)) == (ALLOCATE_ERROR, 401)  # coturn asks who we are
        realm, nonce = found[REALM_ATTRIBUTE], found[NONCE]
        assert realm.decode() == REALM
        # The long-term credential key, as RFC 5389 defines it (MD5 by the standard).
        key = hashlib.md5(
            f"{username}:{REALM}:{credential}".encode(), usedforsecurity=False
        ).digest()
        signed = (
            transport
            + attribute(USERNAME, username.encode())
            + attribute(REALM_ATTRIBUTE, realm)
            + attribute(NONCE, nonce)
        )
        kind, found = exchange(udp, turn.port, allocate(signed, key=key))
    return kind, (error_code(found) if ERROR_CODE in found else None)


def test_coturn_takes_the_sites_credentials_only_while_they_are_valid(
    turnserver: Turn,  # noqa: F811
    settings: Any,
    sphere: Sphere,
) -> None:
    settings.ICE_SERVERS = []
    settings.TURN_URLS = [turnserver.url]
    settings.TURN_SECRET = turnserver.secret
    settings.TURN_CREDENTIAL_TTL = 3600
    ana, ben = make_member("ana@example.com"), make_member("ben@example.com")
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=ana.pk,
        a_tab="a",
        b_user_id=ben.pk,
        b_tab="b",
        shared_interests=[],
    )

    def credentials(now: float) -> tuple[str, str]:
        ice = ice_config_for(conversation=conversation, user_id=ana.pk, hide_ip=True, now=now)
        (relay,) = ice.servers
        return relay["username"], relay["credential"]

    fresh = credentials(time.time())
    assert try_credentials(turnserver, *fresh) == (ALLOCATE_SUCCESS, None)

    # Made more than an hour ago: past its expiry, coturn refuses it.
    expired = credentials(time.time() - 3601)
    assert try_credentials(turnserver, *expired) == (ALLOCATE_ERROR, 401)

    # A credential not made with the secret is refused too.
    username, _ = credentials(time.time())
    assert try_credentials(turnserver, username, "bm90IHRoZSByaWdodCBvbmU=") == (
        ALLOCATE_ERROR,
        401,
    )
