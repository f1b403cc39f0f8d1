"""Our own limits on what a member may do how often (queue joins, rings, reports, follows, ...).

Each action has a limit in ``settings.RATE_LIMITS`` ("count/period", period
one of s, m, h, d, e.g. ``"20/m"``). Counts live in Django's cache: the
local-memory cache on one process, Redis when the site runs on several, so
every process counts against the same number. allauth's own limits (login,
sign-up, password reset) use the same cache.

A service calls :func:`rate_limit_hit` before it writes. Over the limit it
raises :class:`RateLimited`, an ``ApplicationError`` with the code
``rate_limited`` and the wait in words: pages answer 429 with
``Retry-After``, the socket an ``error`` frame.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache

from chatspheres.common.errors import RATE_LIMITED, ApplicationError

PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True, slots=True)
class Limit:
    count: int
    seconds: int

    @classmethod
    def parse(cls, text: str) -> Limit:
        """``"20/m"`` → 20 per 60 seconds; anything else raises ``ValueError`` naming the form."""
        count, _, period = text.strip().partition("/")
        if not count.isdigit() or int(count) < 1 or period not in PERIODS:
            raise ValueError(f"{text!r} is not a limit like 20/m (count/s, m, h or d)")
        return cls(int(count), PERIODS[period])


def wait_in_words(seconds: int) -> str:
    """How long to wait, the way a person says it: "a few seconds", "2 minutes", "1 hour"."""
    if seconds < 10:
        return "a few seconds"
    if seconds < 60:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    if minutes < 60:  # 59 min 30 s is "1 hour", not "60 minutes"
        return "1 minute" if minutes == 1 else f"{minutes} minutes"
    hours = math.ceil(seconds / 3600)
    return "1 hour" if hours == 1 else f"{hours} hours"


class RateLimited(ApplicationError):
    """The member did this too often; ``retry_after`` is the wait in seconds."""

    default_code = RATE_LIMITED

    def __init__(self, *, retry_after: int) -> None:
        self.retry_after = retry_after
        super().__init__(
            f"You've done that too often. Please try again in {wait_in_words(retry_after)}."
        )


def limit_for(action: str) -> Limit:
    return Limit.parse(settings.RATE_LIMITS[action])


def rate_limit_hit(*, action: str, key: object) -> None:
    """Count one ``action`` by ``key`` (a member's id); raise ``RateLimited`` past the limit.

    A fixed window per period: simple, shared through the cache, and at worst
    twice the count across a window's edge, which is fine for these limits.
    """
    limit = limit_for(action)
    now = time.time()
    window = int(now // limit.seconds)
    cache_key = f"ratelimit:{action}:{key}:{window}"
    # add() is atomic in every cache backend; incr() is atomic in Redis and
    # under the local-memory cache's lock.
    cache.add(cache_key, 0, timeout=limit.seconds + 1)
    try:
        used = cache.incr(cache_key)
    except ValueError:  # expired between add and incr
        cache.add(cache_key, 1, timeout=limit.seconds + 1)
        used = 1
    if used > limit.count:
        retry_after = max(1, math.ceil((window + 1) * limit.seconds - now))
        raise RateLimited(retry_after=retry_after)
