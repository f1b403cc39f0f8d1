"""ICE servers for one member's browser in one call, and whether it may use only relays.

STUN and static entries come from ``ICE_SERVERS``. With ``TURN_URLS`` and
``TURN_SECRET`` set, each member in an active conversation gets TURN
credentials in coturn's REST API scheme (``use-auth-secret``): the username is
``<expiry unix time>:<user id>`` and the credential
``base64(HMAC-SHA1(TURN_SECRET, username))``. coturn recomputes the HMAC with
the same secret and refuses the username once its time has passed, so nothing
is stored, nothing outlives ``TURN_CREDENTIAL_TTL`` (at most an hour), and the
secret itself never leaves the server.

A member who keeps "Hide my IP address" on gets ``transport_policy="relay"``:
their browser gathers relay candidates only, so the partner never learns
their address. Without a relay that cannot work, so such a member is refused
before a call rather than connected peer to peer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any, Literal

from django.conf import settings

from chatspheres.accounts.models import Profile
from chatspheres.calls.models import Conversation
from chatspheres.common.errors import NO_RELAY, NOT_IN_CONVERSATION, ApplicationError, NotFound

# The longest a TURN credential may live; coturn cannot revoke one sooner.
MAX_TURN_CREDENTIAL_TTL = 3600

NO_RELAY_WORDS = (
    "This site has no relay configured, so it can't hide your IP address. "
    "Turn off “Hide my IP address” on your profile to talk."
)

TransportPolicy = Literal["all", "relay"]


@dataclass(frozen=True, slots=True)
class IceConfig:
    """What one browser's RTCPeerConnection is configured with for one call."""

    servers: list[dict[str, Any]]
    transport_policy: TransportPolicy
    # When the TURN credential stops working (unix time); 0 without one.
    expires_at: int = 0


def _is_turn_url(url: object) -> bool:
    return isinstance(url, str) and url.lower().startswith(("turn:", "turns:"))


def _urls(server: dict[str, Any]) -> list[object]:
    urls = server.get("urls", [])
    return [urls] if isinstance(urls, str) else list(urls)


def relay_available() -> bool:
    """Whether the site gives browsers a TURN relay (ephemeral, or a static one in ICE_SERVERS)."""
    if settings.TURN_URLS and settings.TURN_SECRET:
        return True
    return any(_is_turn_url(url) for server in settings.ICE_SERVERS for url in _urls(server))


def turn_credential(*, username: str, secret: str) -> str:
    """The TURN REST API password for ``username``: base64(HMAC-SHA1(secret, username))."""
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _ttl() -> int:
    # Settings validation refuses a longer TTL; this holds even if it was bypassed.
    return max(1, min(int(settings.TURN_CREDENTIAL_TTL), MAX_TURN_CREDENTIAL_TTL))


def _issue(*, user_id: int, hide_ip: bool, now: float | None) -> IceConfig:
    servers: list[dict[str, Any]] = [dict(server) for server in settings.ICE_SERVERS]
    expires_at = 0
    if settings.TURN_SECRET and settings.TURN_URLS:
        expires_at = int(now if now is not None else time.time()) + _ttl()
        username = f"{expires_at}:{user_id}"
        servers.append(
            {
                "urls": list(settings.TURN_URLS),
                "username": username,
                "credential": turn_credential(username=username, secret=settings.TURN_SECRET),
            }
        )
    if hide_ip:
        if not relay_available():
            raise ApplicationError(NO_RELAY_WORDS, code=NO_RELAY)
        return IceConfig(servers=servers, transport_policy="relay", expires_at=expires_at)
    return IceConfig(servers=servers, transport_policy="all", expires_at=expires_at)


def ice_config_for(
    *, conversation: Conversation, user_id: int, hide_ip: bool, now: float | None = None
) -> IceConfig:
    """ICE servers (with fresh TURN credentials) for a participant of an active conversation."""
    if conversation.state != Conversation.State.ACTIVE or user_id not in (
        conversation.user_a_id,
        conversation.user_b_id,
    ):
        raise NotFound(
            "Relay credentials are only given for a call you are in now.",
            code=NOT_IN_CONVERSATION,
        )
    return _issue(user_id=user_id, hide_ip=hide_ip, now=now)


def ice_config_for_call(*, user_id: int, public_id: str, now: float | None = None) -> IceConfig:
    """Fresh ICE servers for the member's own active conversation ``public_id``, by its id."""
    conversation = (
        Conversation.objects.active().involving(user_id).filter(public_id=public_id).first()
    )
    if conversation is None:
        raise NotFound(
            "Relay credentials are only given for a call you are in now.",
            code=NOT_IN_CONVERSATION,
        )
    hide_ip = Profile.objects.filter(user_id=user_id, hide_ip=True).exists()
    return ice_config_for(conversation=conversation, user_id=user_id, hide_ip=hide_ip, now=now)


def address_hiding_for(*, user_id: int) -> Literal["off", "hidden", "no_relay"]:
    """Whether the member's calls hide their address: "off", "hidden", or "no_relay" (cannot)."""
    if not Profile.objects.filter(user_id=user_id, hide_ip=True).exists():
        return "off"
    return "hidden" if relay_available() else "no_relay"


def hidden_ip_check(*, user_id: int) -> None:
    """Refuse to start a call for a member who hides their IP address on a site with no relay."""
    # Without a relay configured only: the usual case costs no query.
    if relay_available():
        return
    if Profile.objects.filter(user_id=user_id, hide_ip=True).exists():
        raise ApplicationError(NO_RELAY_WORDS, code=NO_RELAY)
