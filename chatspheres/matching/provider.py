"""The site's matching queue, as the real-time runtime holds it."""

from __future__ import annotations

from typing import cast

from django.conf import settings

from chatspheres.matching.backends import Matcher, MemoryMatcher
from chatspheres.matching.engine import MatchingEngine
from chatspheres.realtime.registry import registry
from chatspheres.realtime.runtime import Runtime


def build_matcher(runtime: Runtime) -> Matcher:
    """This process's own matcher, or the site's shared one in Redis."""
    if runtime.wire is None:
        return MemoryMatcher(
            MatchingEngine(recent_partner_window=settings.MATCHING_RECENT_PARTNER_SECONDS)
        )
    from chatspheres.matching.redis_matcher import RedisMatcher

    return RedisMatcher(
        runtime.wire,
        key_prefix=f"{settings.REDIS_KEY_PREFIX}match:",
        recent_partner_window=settings.MATCHING_RECENT_PARTNER_SECONDS,
    )


registry.provide(Matcher, build_matcher)  # type: ignore[type-abstract]


def matcher_of(runtime: Runtime) -> Matcher:
    """The matching queue of the running site."""
    return cast(Matcher, runtime.get(Matcher))
