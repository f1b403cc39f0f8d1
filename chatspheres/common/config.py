"""Reading settings from the environment, each value checked as it is read.

``chatspheres/settings.py`` reads every variable through these functions. A
value that does not fit stops the process before it serves anything, with one
line that names the variable, the value and what is allowed::

    ChatSpheres cannot start: HTTPS='ture' is not valid; use true or false (or 1/0, yes/no).

An empty variable counts as unset (its default applies), as with ``REDIS_URL=``.
No Django import here: settings are read before Django is set up.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

TRUE_WORDS = frozenset({"true", "1", "yes"})
FALSE_WORDS = frozenset({"false", "0", "no"})


class InvalidSetting(SystemExit):
    """A variable's value does not fit; the process ends with one line and no traceback.

    A ``SystemExit`` because settings are read wherever Django first needs
    them (``manage.py``, ``python -m chatspheres.server``, uvicorn importing
    the ASGI app, pytest): each of those lets it through, and Python prints
    its message to standard error and exits with status 1, so every entry
    point says the same line without a wrapper of its own.
    """

    def __init__(self, name: str, value: str, allowed: str) -> None:
        self.name = name
        self.value = value
        self.allowed = allowed
        super().__init__(f"ChatSpheres cannot start: {name}={value!r} is not valid; {allowed}.")


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or not value.strip():
        return None
    return value


def env_str(name: str, default: str) -> str:
    """A free text value (a name, a host, a secret)."""
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    """true/false, 1/0 or yes/no, in any case; anything else is refused (``HTTPS=ture``)."""
    value = _raw(name)
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise InvalidSetting(name, value, "use true or false (or 1/0, yes/no)")


def _bounds(minimum: float | None, maximum: float | None, *, whole: bool) -> str:
    kind = "a whole number" if whole else "a number"
    if minimum is not None and maximum is not None:
        return f"use {kind} from {minimum:g} to {maximum:g}"
    if minimum is not None:
        return f"use {kind} of at least {minimum:g}"
    return f"use {kind}"


def env_int(
    name: str, default: int, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """A whole number within the bounds given."""
    value = _raw(name)
    if value is None:
        return default
    allowed = _bounds(minimum, maximum, whole=True)
    try:
        number = int(value.strip())
    except ValueError:
        raise InvalidSetting(name, value, allowed) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise InvalidSetting(name, value, allowed)
    return number


def env_port(name: str, default: int) -> int:
    """A TCP port."""
    return env_int(name, default, minimum=1, maximum=65535)


def env_seconds(name: str, default: float, *, positive: bool = True) -> float:
    """A duration in seconds: more than 0 (or 0 and more when ``positive`` is false)."""
    value = _raw(name)
    if value is None:
        return default
    allowed = "use a number of seconds " + ("greater than 0" if positive else "of 0 or more")
    try:
        number = float(value.strip())
    except ValueError:
        raise InvalidSetting(name, value, allowed) from None
    if number != number or number in (float("inf"), float("-inf")):  # NaN and infinities
        raise InvalidSetting(name, value, allowed)
    if number < 0 or (positive and number == 0):
        raise InvalidSetting(name, value, allowed)
    return number


def env_positive_number(name: str, default: float) -> float:
    """A rate or other quantity greater than 0."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise InvalidSetting(name, value, "use a number greater than 0") from None
    if not 0 < number < float("inf"):
        raise InvalidSetting(name, value, "use a number greater than 0")
    return number


def env_choice(name: str, default: str, choices: Iterable[str], *, lower: bool = True) -> str:
    """One of a fixed set of words (compared without regard to case)."""
    options = list(choices)
    value = _raw(name)
    if value is None:
        return default
    word = value.strip().lower() if lower else value.strip()
    for option in options:
        if word == (option.lower() if lower else option):
            return option
    raise InvalidSetting(name, value, "use one of " + ", ".join(options))


def env_list(name: str, default: str) -> list[str]:
    """A comma-separated list; blanks around items and empty items are dropped."""
    value = _raw(name)
    text = default if value is None else value
    return [item.strip() for item in text.split(",") if item.strip()]


def env_hosts(name: str, default: str) -> list[str]:
    """Comma-separated host names as Django matches them: ``chatspheres.example``, ``.example.org``.

    A URL in their place (``https://chatspheres.example``) would match no
    request, and every page would answer 400.
    """
    hosts = env_list(name, default)
    for host in hosts:
        if "/" in host or " " in host or "@" in host:
            raise InvalidSetting(
                name,
                os.environ.get(name, default),
                "use comma-separated host names such as chatspheres.example (no https://)",
            )
    return hosts


def env_addresses(name: str, default: str, *, strict: bool = False) -> list[str]:
    """Comma-separated IP addresses or networks (``10.0.0.0/8``).

    ``strict``: a network may not have host bits set (``10.0.0.1/8``), as
    uvicorn requires of its trusted proxies (it would take one for a name).
    """
    items = env_list(name, default)
    allowed = "use comma-separated IP addresses or networks such as 10.0.0.0/8"
    for item in items:
        try:
            ipaddress.ip_network(item, strict=strict)
        except ValueError:
            raise InvalidSetting(name, os.environ.get(name, default), allowed) from None
    return items


def without_password(url: str) -> str:
    """The URL with any password replaced, so that a refusal never prints a secret."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<not a URL>"
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    host = netloc[-1]
    user = parts.username or ""
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def env_url(name: str, default: str, *, schemes: Iterable[str], what: str) -> str:
    """A URL whose scheme is one of ``schemes`` (``what`` says in words what it points at)."""
    options = list(schemes)
    value = _raw(name)
    if value is None:
        return default
    url = value.strip()
    allowed = f"use a {what} URL starting with " + " or ".join(f"{s}://" for s in options)
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidSetting(name, without_password(url), allowed) from None
    if parts.scheme not in options or "://" not in url:
        raise InvalidSetting(name, without_password(url), allowed)
    return url


def env_site_url(name: str, default: str) -> str:
    """The site's public address: http(s)://host[:port], no path; trailing slash dropped."""
    value = _raw(name)
    if value is None:
        return default
    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path:
        raise InvalidSetting(
            name, value, "use the site's address such as https://chatspheres.example"
        )
    return url


def env_origins(name: str, default: str) -> list[str]:
    """Comma-separated origins, each scheme://host[:port] (what Django's CSRF check compares)."""
    origins = env_list(name, default)
    for origin in origins:
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidSetting(
                name,
                os.environ.get(name, default),
                "use comma-separated origins such as https://chatspheres.example",
            )
    return origins


def env_ice_servers(name: str, default: str = "[]") -> list[dict[str, Any]]:
    """A JSON list of RTCIceServer objects, each with ``urls`` (a string or a list of them)."""
    value = _raw(name)
    text = default if value is None else value
    allowed = 'use a JSON list of ICE servers such as [{"urls": ["stun:stun.example.org:3478"]}]'
    try:
        servers = json.loads(text)
    except ValueError:
        raise InvalidSetting(name, text, allowed) from None
    if not isinstance(servers, list):
        raise InvalidSetting(name, text, allowed)
    for server in servers:
        if not isinstance(server, dict):
            raise InvalidSetting(name, text, allowed)
        urls = server.get("urls")
        if isinstance(urls, str):
            urls = [urls]
        if not isinstance(urls, list) or not urls:
            raise InvalidSetting(name, text, allowed)
        if not all(
            isinstance(url, str) and re.match(r"^(stun|stuns|turn|turns):", url) for url in urls
        ):
            raise InvalidSetting(name, text, allowed)
        for key in ("username", "credential"):
            if key in server and not isinstance(server[key], str):
                raise InvalidSetting(name, text, allowed)
    return servers


# A browser sees a username and its HMAC: a short secret could be guessed
# offline from them, and then anyone could mint credentials for the relay.
TURN_SECRET_MIN_LENGTH = 32


def env_turn(urls_name: str, secret_name: str) -> tuple[list[str], str]:
    """TURN URLs (``turn:``/``turns:``, comma-separated) and the secret signing their credentials.

    Both or neither: URLs without the secret would give browsers a relay they
    cannot use, a secret without URLs a relay nobody is told about. The
    secret's value is never printed.
    """
    urls = env_list(urls_name, "")
    secret = env_str(secret_name, "")
    given = os.environ.get(urls_name, "")
    for url in urls:
        if not re.match(r"^turns?:[^\s]+$", url):
            raise InvalidSetting(
                urls_name, given, "use comma-separated TURN URLs such as turn:turn.example.org:3478"
            )
    if urls and not secret:
        raise InvalidSetting(
            urls_name, given, f"set {secret_name} too (coturn's static-auth-secret)"
        )
    if secret and not urls:
        raise InvalidSetting(urls_name, given, f"list the relay's URLs, since {secret_name} is set")
    if secret and len(secret) < TURN_SECRET_MIN_LENGTH:
        raise InvalidSetting(
            secret_name,
            f"(hidden, {len(secret)} characters)",
            f"use at least {TURN_SECRET_MIN_LENGTH} random characters (openssl rand -hex 32)",
        )
    return urls, secret


RATE_LIMIT_PREFIX = "RATE_LIMIT_"
RATE_LIMIT_FORM = re.compile(r"^\s*([1-9][0-9]*)\s*/\s*([smhd])\s*$")


def env_rate_limits(defaults: Mapping[str, str]) -> dict[str, str]:
    """``RATE_LIMIT_<ACTION>`` for each action in ``defaults``: "count/period", period s/m/h/d.

    A ``RATE_LIMIT_`` variable naming no action is refused too: a typo
    (``RATE_LIMIT_QUEUEJOIN``) would otherwise leave the limit at its default unnoticed.
    """
    names = {f"{RATE_LIMIT_PREFIX}{action.upper()}": action for action in defaults}
    for variable, given in os.environ.items():
        if variable.startswith(RATE_LIMIT_PREFIX) and variable not in names:
            raise InvalidSetting(
                variable, given, "no such limit; the limits are " + ", ".join(sorted(names))
            )
    limits: dict[str, str] = {}
    for variable, action in names.items():
        value = _raw(variable)
        if value is None:
            limits[action] = defaults[action]
            continue
        match = RATE_LIMIT_FORM.match(value)
        if match is None:
            raise InvalidSetting(
                variable, value, "use a count per period such as 20/m (period s, m, h or d)"
            )
        limits[action] = f"{match[1]}/{match[2]}"
    return limits


def refuse_renamed(old: str, new: str) -> None:
    """Stop when a variable this project no longer reads is set, naming the one it reads instead."""
    value = _raw(old)
    if value is not None:
        raise InvalidSetting(old, value, f"ChatSpheres reads {new} instead; rename it")


def create_private_file(path: Path) -> None:
    """Create ``path`` empty, readable by its owner only, unless it (or no folder for it) exists.

    Created that way from the start rather than changed afterwards: a file
    open for a moment with wider permissions can be read through a handle
    opened meanwhile.
    """
    if str(path) in ("", ":memory:") or path.exists() or not path.parent.is_dir():
        return
    with contextlib.suppress(FileExistsError):  # made meanwhile by another process
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
