"""ICE servers for a member's browser: STUN/TURN from settings.

With ``TURN_SECRET`` set, TURN credentials follow coturn's REST API scheme
(``use-auth-secret``): the username is ``<expiry>:<user id>`` and the password
an HMAC of it, so credentials expire and no TURN password is ever stored.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from django.conf import settings


def ice_servers_for(user_id: int, *, now: float | None = None) -> list[dict[str, Any]]:
    """The RTCIceServer list handed to ``user_id``'s browser for one call."""
    servers: list[dict[str, Any]] = [dict(server) for server in settings.ICE_SERVERS]
    if settings.TURN_SECRET and settings.TURN_URLS:
        expiry = int((now if now is not None else time.time()) + settings.TURN_CREDENTIAL_TTL)
        username = f"{expiry}:{user_id}"
        digest = hmac.new(settings.TURN_SECRET.encode(), username.encode(), hashlib.sha1).digest()
        servers.append(
            {
                "urls": list(settings.TURN_URLS),
                "username": username,
                "credential": base64.b64encode(digest).decode(),
            }
        )
    return servers
