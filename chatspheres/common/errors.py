"""Errors a service raises when a rule says no.

Each carries a stable ``code`` (sent to clients in error frames) and a message
in plain words for the person who tried.
"""


class ApplicationError(Exception):
    """A rule refused the action; nothing was changed."""

    code = "refused"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(ApplicationError):
    """The thing does not exist, or the person may not see it (we do not say which)."""

    code = "not_found"


class PermissionDenied(ApplicationError):
    """The person may see the thing but not do this to it."""

    code = "forbidden"
