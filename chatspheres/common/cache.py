"""Django's cache in Redis, for the limits' counts, letting people through while Redis is away.

With ``REDIS_URL`` the cache holds only counts of recent actions (ours in
``common/ratelimit.py`` and allauth's on login, sign-up and password reset).
Django's own Redis cache raises when Redis does not answer, which would turn
every login into a 500 page while Redis restarts. This one answers as an
empty cache instead: nothing is counted for that moment, so nobody is
refused, and the site keeps working as the operator guide promises ("When
Redis goes away"). A warning says so, at most once every few seconds.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

# One warning per this many seconds, not one per request.
WARN_EVERY_SECONDS = 10.0


class LimitsRedisCache(RedisCache):
    """``RedisCache`` that behaves as an empty cache while Redis does not answer."""

    _warned_at = float("-inf")

    def _unavailable(self, error: RedisError) -> None:
        now = time.monotonic()
        if now - LimitsRedisCache._warned_at >= WARN_EVERY_SECONDS:
            LimitsRedisCache._warned_at = now
            logger.warning("Redis does not answer; limits are not counted meanwhile: %r", error)

    def get(self, key: Any, default: Any = None, version: int | None = None) -> Any:
        try:
            return super().get(key, default, version)
        except RedisError as error:
            self._unavailable(error)
            return default

    def add(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        try:
            return bool(super().add(key, value, timeout, version))
        except RedisError as error:
            # As if stored: allauth takes a lock with add() and would
            # otherwise wait, then refuse the login.
            self._unavailable(error)
            return True

    def set(
        self, key: Any, value: Any, timeout: Any = DEFAULT_TIMEOUT, version: int | None = None
    ) -> None:
        try:
            super().set(key, value, timeout, version)
        except RedisError as error:
            self._unavailable(error)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        try:
            return int(super().incr(key, delta, version))
        except RedisError as error:
            self._unavailable(error)
            return delta  # counted as the first

    def delete(self, key: Any, version: int | None = None) -> bool:
        try:
            return bool(super().delete(key, version))
        except RedisError as error:
            self._unavailable(error)
            return False
