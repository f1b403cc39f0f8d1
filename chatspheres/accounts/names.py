"""Display names: the one place they are cleaned, for the forms and the services alike."""

from __future__ import annotations

import unicodedata

from chatspheres.accounts.models import DELETED_MEMBER_NAME
from chatspheres.common.errors import BAD_DISPLAY_NAME, ApplicationError

DISPLAY_NAME_MAX_LENGTH = 50

# Characters that draw nothing yet change what the text around them looks
# like, or fill a name with blanks. Bidi controls can turn "Ana" into a name
# that reads as someone else's, or flip the words after it on a page.
BIDI_CONTROLS = frozenset(
    "\u202a\u202b\u202c\u202d\u202e"  # embeddings and overrides
    "\u2066\u2067\u2068\u2069"  # isolates
    "\u200e\u200f\u061c"  # marks
)
ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\ufeff\u180e")
# Letters by their category, yet blank on screen: the usual way to make an "empty" name.
BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0")
_DROPPED = BIDI_CONTROLS | ZERO_WIDTH | BLANK_LETTERS


def _dropped(character: str) -> bool:
    # Format (Cf) covers the lists above and their relatives (soft hyphen,
    # invisible operators, tag characters); controls (Cc) include newlines.
    return character in _DROPPED or unicodedata.category(character) in {"Cf", "Cc"}


def display_name_strip(text: str) -> str:
    """The name without invisible characters, with runs of spaces made one."""
    text = unicodedata.normalize("NFC", text)
    kept = "".join(
        " " if character.isspace() else character for character in text if not _dropped(character)
    )
    return " ".join(kept.split())


def display_name_clean(text: str) -> str:
    """A display name as it is saved, or refused in words when nothing visible is left."""
    name = display_name_strip(text)
    if not any(unicodedata.category(character).startswith("L") for character in name):
        raise ApplicationError(
            "A display name needs at least one visible letter. Invisible characters and "
            "text-direction marks are removed, and nothing readable was left.",
            code=BAD_DISPLAY_NAME,
        )
    if name.casefold() == DELETED_MEMBER_NAME.casefold():
        raise ApplicationError(
            f"“{DELETED_MEMBER_NAME}” is how the site shows a deleted account. "
            "Please pick another name.",
            code=BAD_DISPLAY_NAME,
        )
    if len(name) > DISPLAY_NAME_MAX_LENGTH:
        raise ApplicationError(
            f"A display name is at most {DISPLAY_NAME_MAX_LENGTH} characters "
            f"(this one has {len(name)}).",
            code=BAD_DISPLAY_NAME,
        )
    return name
