"""Django's database sessions, with the read every request makes compiled once per process.

The same table, rows and rules as ``django.contrib.sessions.backends.db``
(settings.SESSION_ENGINE names this module): a session is found by its key
while it has not expired, at the request's own moment. Only the SQL for that
read is written once (``common.prepared``) instead of on every request;
writing, deleting and expiring sessions are Django's own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.sessions.backends import db
from django.db import router
from django.db.models import QuerySet
from django.utils import timezone

from chatspheres.common.prepared import PreparedQuery


def _live(*, session_key: str, now: datetime) -> QuerySet[Any, Any]:
    model = SessionStore.get_model_class()
    return model.objects.filter(session_key=session_key, expire_date__gt=now).values(
        "session_key", "session_data", "expire_date"
    )


_LIVE = PreparedQuery(_live, variables={"session_key": str, "now": datetime})


class SessionStore(db.SessionStore):
    """Sessions in the database, as Django keeps them; the per-request read costs less."""

    def _get_session_from_db(self) -> Any:
        if self.session_key is None:
            return None
        rows = _LIVE.rows(
            using=router.db_for_read(self.model), session_key=self.session_key, now=timezone.now()
        )
        if not rows:
            # As Django's store does for a key with no live session: a new one will be made.
            self._session_key = None
            return None
        return self.model(**rows[0])
