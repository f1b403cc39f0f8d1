"""Errors a rule raises when it says no, and the one registry of their codes.

Every code a client can receive (in an ``error`` frame on the socket, or as the
reason of a refused request) is declared here once, with the words a person is
shown when the raiser has nothing more specific to say. Programs act on the
code; people read the words. docs/protocol.md lists the same codes, and a test
keeps the two in step.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True, slots=True)
class ErrorCode:
    """A stable name for programs and default words for people."""

    name: str
    message: str

    def __str__(self) -> str:
        return self.name


_codes: dict[str, ErrorCode] = {}
ERROR_CODES: Mapping[str, ErrorCode] = MappingProxyType(_codes)


def error_code(name: str, message: str) -> ErrorCode:
    """Declare a code; declaring one name twice is a programming error."""
    if name in _codes:
        raise ValueError(f"the error code {name!r} is declared twice")
    code = _codes[name] = ErrorCode(name, message)
    return code


# The socket itself -------------------------------------------------------
BAD_FRAME = error_code("bad_frame", "That message could not be read.")
UNKNOWN_TYPE = error_code("unknown_type", "Unknown message type.")
TOO_DEEP = error_code("too_deep", "That message is nested too deeply.")
BAD_CHARACTERS = error_code(
    "bad_characters", "Text may not contain control characters such as NUL."
)
RATE_LIMITED = error_code("rate_limited", "You are sending too fast; some messages were dropped.")
INTERNAL = error_code(
    "internal", "Something went wrong on our side. Your call is still on; please try again."
)
UNAVAILABLE = error_code(
    "unavailable",
    "ChatSpheres can't reach a service it needs right now. Please try again in a moment.",
)
# Anything a rule refuses without a more specific code.
REFUSED = error_code("refused", "That is not allowed.")
NOT_FOUND = error_code("not_found", "There is no such thing.")
FORBIDDEN = error_code("forbidden", "You may not do that.")

# Spheres and the queue ---------------------------------------------------
NO_SUCH_SPHERE = error_code("no_such_sphere", "There is no such sphere.")
NOT_A_MEMBER = error_code("not_a_member", "Join the sphere before starting a conversation.")
ALREADY_IN_CALL = error_code("already_in_call", "You are already in a conversation.")
# Never shown: a pairing that a rule forbids since the two started waiting
# (a block made meanwhile) is undone and both wait on, neither told why.
PAIRING_FORBIDDEN = error_code("pairing_forbidden", "Still looking for someone.")

# Conversations -----------------------------------------------------------
NOT_IN_CONVERSATION = error_code("not_in_conversation", "You are not in that conversation.")
TOO_LONG = error_code("too_long", "A chat message can be at most 1,000 characters.")
BAD_RATING = error_code("bad_rating", "Choose good, okay or not for me.")
NOT_ENDED = error_code("not_ended", "You can say how it was once the conversation has ended.")
NO_RELAY = error_code(
    "no_relay", "This site has no relay configured, so it can't hide your IP address."
)

# Accounts ----------------------------------------------------------------
NOT_ADULT = error_code("not_adult", "ChatSpheres is for people 18 or older.")
TOO_MANY_INTERESTS = error_code("too_many_interests", "Pick fewer interests.")
BAD_HANDLE = error_code(
    "bad_handle", "A handle is 3 to 30 lower-case letters, digits and hyphens, and not reserved."
)
HANDLE_TAKEN = error_code("handle_taken", "That handle is taken.")
BAD_DISPLAY_NAME = error_code(
    "bad_display_name", "A display name needs at least one visible letter."
)
WRONG_CONFIRMATION = error_code(
    "wrong_confirmation", "Type your email address and your password to delete your account."
)
HANDLE_TOO_SOON = error_code("handle_too_soon", "You can change your handle once a month.")

# Connections -------------------------------------------------------------
NO_SUCH_PERSON = error_code("no_such_person", "There is no such person.")
NOT_YOURSELF = error_code("not_yourself", "That is you.")
BAD_NOTE = error_code("bad_note", "A note is 1 to 2,000 characters.")
NO_SUCH_NOTE = error_code("no_such_note", "There is no such note.")

# Blocking and reporting --------------------------------------------------
BAD_REASON = error_code("bad_reason", "Choose what the report is about.")
REPORT_TOO_LONG = error_code("report_too_long", "Say what happened in at most 2,000 characters.")

# Calling a connection ("Call now") ---------------------------------------
NOT_CONNECTED = error_code(
    "not_connected", "You can call only your connections: people you both want to talk with again."
)
CALLEE_OFFLINE = error_code("callee_offline", "They aren't online right now.")
CALLEE_BUSY = error_code("callee_busy", "They are in a call right now.")
RING_OVER = error_code("ring_over", "This call has ended.")

# Plans across time zones -------------------------------------------------
BAD_PLAN_TIMES = error_code(
    "bad_plan_times", "Offer one to three times, each in the future and within the next 60 days."
)
TIME_IN_GAP = error_code(
    "time_in_gap", "That time doesn't exist where you are: the clocks skip it. Choose another."
)
PLAN_OVER = error_code("plan_over", "This plan has changed. Here is where it stands now.")
NO_SUCH_PLAN = error_code("no_such_plan", "There is no such plan.")

# Prompts -----------------------------------------------------------------
DECK_EMPTY = error_code(
    "deck_empty",
    "You two have seen every prompt at this depth. Go deeper, or just keep talking.",
)
DEEPEST = error_code("deepest", "You are already at the most personal prompts.")
BAD_ANSWER = error_code(
    "bad_answer", "An answer is 1 to 120 characters, to one of the prompts offered."
)
TOO_MANY_ANSWERS = error_code("too_many_answers", "Answer at most 3 profile prompts.")

# Messages ----------------------------------------------------------------
MESSAGE_TOO_LONG = error_code(
    "message_too_long", "A message can be at most 4,000 characters. Try splitting it in two."
)
MESSAGE_EMPTY = error_code("message_empty", "Write something before you send it.")
BAD_MESSAGE_KEY = error_code(
    "bad_message_key", "That message could not be sent. Reload the page and try again."
)
CANNOT_WRITE = error_code(
    "cannot_write",
    "You can write to people you have talked with on a call, and to your connections.",
)
NO_SUCH_MESSAGE = error_code("no_such_message", "There is no such message.")

# Moderation --------------------------------------------------------------
ACCOUNT_RESTRICTED = error_code(
    "account_restricted",
    "Your account is suspended or banned, so you can't join conversations. "
    "Your email from the moderators says until when and how to appeal.",
)
BAD_DECISION = error_code(
    "bad_decision",
    "Choose Dismiss, Warn, Suspend (for 1 to 365 days) or Ban, and write a statement of reasons.",
)
REPORT_DECIDED = error_code("report_decided", "This report has already been decided.")
OWN_CASE = error_code("own_case", "Another moderator must decide this: you are part of it.")
SAME_MODERATOR = error_code(
    "same_moderator",
    "A different moderator must decide this appeal: you took the decision it is about.",
)
APPEAL_EXISTS = error_code("appeal_exists", "You have already appealed against this decision.")
APPEAL_CLOSED = error_code(
    "appeal_closed", "This decision can no longer be appealed (appeals are open for 6 months)."
)
APPEAL_DECIDED = error_code("appeal_decided", "This appeal has already been decided.")
BAD_APPEAL = error_code("bad_appeal", "Say why in 1 to 4,000 characters.")


class ApplicationError(Exception):
    """A rule refused the action; nothing was changed."""

    default_code: ErrorCode = REFUSED

    def __init__(self, message: str | None = None, *, code: ErrorCode | None = None) -> None:
        error = code or self.default_code
        self.code = error.name
        self.message = message or error.message
        super().__init__(self.message)


class NotFound(ApplicationError):
    """The thing does not exist, or the person may not see it (we do not say which)."""

    default_code = NOT_FOUND


class PermissionDenied(ApplicationError):
    """The person may see the thing but not do this to it."""

    default_code = FORBIDDEN


class PairingRefused(ApplicationError):
    """Two people could not be put in a conversation because of one of them.

    ``user_id`` names that person, so the other can go back to waiting.
    """

    def __init__(
        self, message: str | None = None, *, code: ErrorCode | None = None, user_id: int
    ) -> None:
        super().__init__(message, code=code)
        self.user_id = user_id
