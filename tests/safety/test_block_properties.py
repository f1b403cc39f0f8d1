"""Whatever a few members do, in whatever order, a block holds both ways.

A state machine drives blocks, unblocks, follows, wishes to talk again,
rings and queue joins among four members, with the queue in memory or in
Redis. After every step, for every pair with a block either way: the
matcher never paired them, and no follow, wish or ringing call joins them,
neither sees the other's presence or page, and each one's queue request
excludes the other.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from chatspheres.accounts.models import PresenceAudience, Profile
from chatspheres.calls.models import Conversation
from chatspheres.calls.services import conversation_end, conversation_start
from chatspheres.common.errors import ApplicationError, PairingRefused
from chatspheres.connections.models import Follow, Ring, TalkAgainWish
from chatspheres.connections.rings import ring_start
from chatspheres.connections.selectors import access_person, visible_presence
from chatspheres.connections.services import follow_create, talk_again_wish
from chatspheres.matching.backends import Matcher, MemoryMatcher
from chatspheres.matching.engine import MatchingEngine, Seeker
from chatspheres.matching.selectors import queue_request_for
from chatspheres.safety.selectors import is_blocked_between
from chatspheres.safety.services import block_create, block_remove
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_join
from tests.connections.helpers import quick_member, set_online

pytestmark = pytest.mark.django_db(transaction=False)

PEOPLE = 4
_runs = itertools.count()
# Across a run's examples: matches made, and joins while some pair was blocked (never vacuous).
seen = {"matches": 0, "joins_while_blocked": 0}

person = st.integers(0, PEOPLE - 1)


def make_matcher(backend: str, loop: asyncio.AbstractEventLoop) -> tuple[Matcher, Any]:
    """A fresh queue with no recent-partner window, so pairs may meet again and again."""
    if backend == "memory":
        return MemoryMatcher(MatchingEngine(recent_partner_window=0)), None
    import redis.asyncio

    from chatspheres.matching.redis_matcher import RedisMatcher
    from tests.redis_support import shared_redis_url, unique_prefix

    url = shared_redis_url()
    client = redis.asyncio.Redis.from_url(url, decode_responses=True)
    prefix = unique_prefix()
    matcher = RedisMatcher(client, key_prefix=prefix, recent_partner_window=0)
    return matcher, (client, url, prefix)


class Blocks(RuleBasedStateMachine):
    backend = "memory"
    sphere: Sphere

    def __init__(self) -> None:
        super().__init__()
        cache.clear()  # no rate limit carried over from the last example
        run = next(_runs)
        self.members = []
        for n in range(PEOPLE):
            user = quick_member(f"p{n}-{run}@example.com", f"P{n}")
            sphere_join(user=user, sphere=self.sphere)
            # Presence shown to anyone it could be shown to: only blocks hide it.
            Profile.objects.filter(user=user).update(presence_visible_to=PresenceAudience.FOLLOWING)
            set_online(user, self.sphere)
            self.members.append(user)
        self.ids = [user.pk for user in self.members]
        self.loop = asyncio.new_event_loop()
        self.matcher, self.redis = make_matcher(self.backend, self.loop)
        self.tabs = itertools.count()

    def teardown(self) -> None:
        if self.redis is not None:
            client, url, prefix = self.redis
            self.loop.run_until_complete(client.aclose())
            from tests.redis_support import delete_prefix

            delete_prefix(url, prefix)
        self.loop.close()

    def _pair(self, a: int, b: int) -> tuple[int, int] | None:
        return None if a == b else (self.ids[a], self.ids[b])

    @initialize(a=person, offset=st.integers(1, PEOPLE - 1))
    def start_with_a_block(self, a: int, offset: int) -> None:
        """Every run starts with a block standing and the blocker waiting, so none is vacuous."""
        self.block(a, (a + offset) % PEOPLE)
        self.queue_join(a)

    @rule(a=person, b=person)
    def block(self, a: int, b: int) -> None:
        if pair := self._pair(a, b):
            block_create(blocker_id=pair[0], blocked_id=pair[1])

    @rule(a=person, b=person)
    def unblock(self, a: int, b: int) -> None:
        if pair := self._pair(a, b):
            block_remove(blocker_id=pair[0], blocked_id=pair[1])

    @rule(a=person, b=person)
    def follow(self, a: int, b: int) -> None:
        if pair := self._pair(a, b):
            with contextlib.suppress(ApplicationError):
                follow_create(follower_id=pair[0], followee_id=pair[1])

    @rule(a=person, b=person)
    def wish(self, a: int, b: int) -> None:
        if pair := self._pair(a, b):
            with contextlib.suppress(ApplicationError):
                talk_again_wish(wisher_id=pair[0], about_id=pair[1])

    @rule(a=person, b=person)
    def ring(self, a: int, b: int) -> None:
        if pair := self._pair(a, b):
            handle = Profile.objects.get(user_id=pair[1]).handle
            with contextlib.suppress(ApplicationError):
                ring_start(
                    caller_id=pair[0], caller_tab=f"ring-{next(self.tabs)}", callee_handle=handle
                )

    @rule(who=person)
    def queue_join(self, who: int) -> None:
        """Join the queue (a member already waiting keeps an older, possibly stale, request)."""
        user_id = self.ids[who]
        # Nobody is in a call between steps: a pairing's conversation ends at once.
        request = queue_request_for(user_id=user_id, sphere_id=self.sphere.pk)
        seeker = Seeker(
            person=user_id,
            tab=f"tab-{next(self.tabs)}",
            pool=request.sphere_id,
            interests=request.interests,
            excluded=request.excluded,
            familiar=request.familiar,
            familiar_allowed=request.familiar_allowed,
        )
        if request.excluded:
            seen["joins_while_blocked"] += 1
        pairing = self.loop.run_until_complete(self.matcher.join(seeker))
        if pairing is None:
            return
        first, second = pairing.arrival.person, pairing.partner.person
        assert not is_blocked_between(first, second), "a blocked pair was matched"
        seen["matches"] += 1
        conversation = conversation_start(
            sphere_id=self.sphere.pk,
            a_user_id=second,
            a_tab=pairing.partner.tab,
            b_user_id=first,
            b_tab=pairing.arrival.tab,
            shared_interests=pairing.shared,
        )
        conversation_end(conversation=conversation, by_user_id=first, reason="ended")

    @invariant()
    def blocked_pairs_share_nothing(self) -> None:
        for a, b in itertools.permutations(self.ids, 2):
            if not is_blocked_between(a, b):
                continue
            assert not Follow.objects.filter(follower_id=a, followee_id=b).exists()
            assert not TalkAgainWish.objects.filter(wisher_id=a, about_id=b).exists()
            assert not Ring.objects.filter(
                caller_id=a, callee_id=b, state=Ring.State.PENDING
            ).exists()
            assert visible_presence(viewer_id=a, user_ids=[b]) == {b: None}
            handle = Profile.objects.get(user_id=b).handle
            with pytest.raises(ApplicationError):
                access_person(viewer_id=a, handle=handle)
            assert b in queue_request_for(user_id=a, sphere_id=self.sphere.pk).excluded


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_a_block_holds_whatever_the_order_of_actions(sphere: Sphere, backend: str) -> None:
    if backend == "redis":
        from tests.redis_support import shared_redis_url

        shared_redis_url()  # skips (fails under CI=true) without a Redis to use
    machine = type(f"Blocks_{backend}", (Blocks,), {"backend": backend, "sphere": sphere})
    seen.update(matches=0, joins_while_blocked=0)
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=10,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        ),
    )
    # The runs did what they are about: people met, and joined while blocks stood.
    assert seen["matches"] > 0
    assert seen["joins_while_blocked"] > 0


def test_a_block_made_while_both_wait_stops_their_pairing(sphere: Sphere) -> None:
    """The matcher decided from what it knew at the joins; the conversation is still refused."""
    ana, ben = (quick_member(f"{n}@example.com", n.title()) for n in ("ana", "ben"))
    block_create(blocker_id=ana.pk, blocked_id=ben.pk)
    with pytest.raises(PairingRefused) as refused:
        conversation_start(
            sphere_id=sphere.pk,
            a_user_id=ana.pk,
            a_tab="ana-tab",
            b_user_id=ben.pk,
            b_tab="ben-tab",
            shared_interests=(),
        )
    assert refused.value.code == "pairing_forbidden"
    assert not Conversation.objects.exists()
