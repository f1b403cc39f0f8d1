"""Logging what clients can trigger at will as one WARNING line, without a traceback.

Django logs every ``SuspiciousOperation`` (a Host header not in
``ALLOWED_HOSTS``, a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, too many form
fields) as an ERROR with the exception's traceback, on a logger named
``django.security.<ExceptionClass>``. Anyone on the internet can cause those,
and a traceback says nothing about our code: it only buries real errors.
settings.LOGGING puts :class:`ClientFaultFilter` on those loggers and on
``django.request``, where it shortens 4xx records the same way; 5xx keep
their traceback.

No Django import: settings.py reads the logger names from here.
"""

from __future__ import annotations

import logging

# The SuspiciousOperation subclasses Django raises from what a client sent;
# each logs on django.security.<name>.
SECURITY_LOGGERS = tuple(
    f"django.security.{name}"
    for name in (
        "SuspiciousOperation",
        "DisallowedHost",
        "DisallowedRedirect",
        "RequestDataTooBig",
        "TooManyFieldsSent",
        "TooManyFilesSent",
        "SuspiciousMultipartForm",
        "SuspiciousFileOperation",
        "SuspiciousSession",
        "InvalidSessionKey",
        "csrf",
    )
)


class ClientFaultFilter(logging.Filter):
    """Turns a record about a client's fault into one WARNING line with the request's path."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if status is not None and status >= 500:
            return True
        if record.levelno > logging.WARNING:
            record.levelno = logging.WARNING
            record.levelname = logging.getLevelName(logging.WARNING)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        request = getattr(record, "request", None)
        path = getattr(request, "path", None)
        if path is not None and record.name.startswith("django.security."):
            method = getattr(request, "method", "") or ""
            address = getattr(request, "META", {}).get("REMOTE_ADDR", "?")
            # The path was already escaped for django.request's own records;
            # the same here, so a crafted address cannot forge log lines.
            where = f"{method} {path}".encode("unicode_escape").decode("ascii")
            record.msg = f"{record.getMessage()} ({where} from {address})"
            record.args = None
        return True
