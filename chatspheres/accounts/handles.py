"""Handles: the public, address-safe name of a member (``/people/<handle>/``)."""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Callable

from django.utils.text import slugify

from chatspheres.accounts.models import HANDLE_MAX_LENGTH, HANDLE_MIN_LENGTH, HANDLE_PATTERN

# Words that are, or may become, addresses or roles of the site itself.
RESERVED_HANDLES = frozenset(
    {
        "about", "accounts", "admin", "administrator", "api", "call", "calls", "chatspheres",
        "connections", "contact", "conversations", "edit", "everyone", "follow", "followers",
        "following", "guidelines", "terms-of-service",
        "healthz", "help", "home", "login", "logout", "me", "media", "metrics", "moderator",
        "new", "notes", "notifications", "null", "people", "presence", "privacy", "profile",
        "readyz", "root", "security", "settings", "signup", "spheres", "staff", "static",
        "support", "system", "terms", "undefined", "welcome", "www", "ws",
    }
)  # fmt: skip
# Deleted accounts keep a handle with this prefix; no member may look like one.
DELETED_HANDLE_PREFIX = "deleted-"
SUFFIX_LENGTH = 4
_SUFFIX_ALPHABET = string.ascii_lowercase + string.digits
_VALID = re.compile(HANDLE_PATTERN)


def handle_normalize(text: str) -> str:
    """How a typed handle is read: trimmed, lower case, an optional leading @ dropped."""
    return text.strip().removeprefix("@").lower()


def handle_problem(handle: str) -> str | None:
    """Words saying why ``handle`` cannot be a handle, or None when it can."""
    if not HANDLE_MIN_LENGTH <= len(handle) <= HANDLE_MAX_LENGTH:
        return (
            f"A handle is {HANDLE_MIN_LENGTH} to {HANDLE_MAX_LENGTH} characters long "
            f"(this one has {len(handle)})."
        )
    if not _VALID.match(handle):
        return (
            "A handle may use only lower-case letters, digits and hyphens, "
            "and cannot start or end with a hyphen or have two in a row."
        )
    if handle in RESERVED_HANDLES or handle.startswith(DELETED_HANDLE_PREFIX):
        return f"“{handle}” is reserved for the site. Please pick another handle."
    return None


def handle_base(display_name: str) -> str:
    """The handle a display name suggests, before any suffix: "Ana María" → "ana-maria"."""
    base = slugify(display_name).replace("_", "-")
    base = re.sub(r"-{2,}", "-", base).strip("-")
    if base.startswith(DELETED_HANDLE_PREFIX):
        base = base.replace("-", "", 1)  # "Deleted Dan" → "deleteddan", never a deleted account's
    base = base[: HANDLE_MAX_LENGTH - SUFFIX_LENGTH - 1].strip("-")
    if len(base) < HANDLE_MIN_LENGTH or base in RESERVED_HANDLES:
        base = f"{base}-member".strip("-") if base else "member"
    return base


def handle_suggest(display_name: str, *, taken: Callable[[str], bool]) -> str:
    """A free handle for a new member: the name's own, or with a short random suffix."""
    base = handle_base(display_name)
    if not taken(base):
        return base
    while True:
        suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(SUFFIX_LENGTH))
        candidate = f"{base}-{suffix}"
        if not taken(candidate):
            return candidate
