"""Who may write to whom is read by ``access_correspondent`` (for pages) and by ``send_context``
(for the hot path of sending), each one query compiled once per process. This walks every
combination of blocks, calls, connections, follows and closed accounts: both say what the rules
say, and never disagree."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction
from django.utils import timezone

from chatspheres.accounts.models import User
from chatspheres.common.errors import NotFound
from chatspheres.connections.models import Bond, Follow
from chatspheres.messaging.selectors import access_correspondent, send_context
from chatspheres.safety.models import Block
from tests.conftest import make_member
from tests.messaging.helpers import handle_of, send

pytestmark = pytest.mark.django_db

BLOCKS = ("none", "ana blocked ben", "ben blocked ana")
BONDS = ("none", "talked", "connected without a call")


class _RolledBack(Exception):
    """Ends one combination's savepoint, so the next starts from nothing."""


def _verdict(call: object) -> str:
    try:
        call()  # type: ignore[operator]
    except NotFound as refused:
        return refused.code
    return "may write"


def _arrange(ana: User, ben: User, *, block: str, bond: str, follows: bool, active: bool) -> None:
    if block == "ana blocked ben":
        Block.objects.create(blocker=ana, blocked=ben)
    elif block == "ben blocked ana":
        Block.objects.create(blocker=ben, blocked=ana)
    if bond == "talked":
        Bond.objects.create(user=ana, other=ben, conversations=1)
    elif bond == "connected without a call":
        Bond.objects.create(user=ana, other=ben, connected_at=timezone.now())
    if follows:
        Follow.objects.create(follower=ana, followee=ben)
    if not active:
        User.objects.filter(pk=ben.pk).update(is_active=False)


def _rule(*, block: str, bond: str, follows: bool, active: bool) -> str:
    """Who may write, in words: people who talked or are connections, never across a block;
    someone one only follows is told they can't write yet; anyone else does not exist."""
    if block != "none" or not active:
        return "no_such_person"
    if bond != "none":
        return "may write"
    return "cannot_write" if follows else "no_such_person"


def test_the_send_path_and_the_pages_agree_on_who_may_write_to_whom() -> None:
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    ben_handle = handle_of(ben)
    seen = set()
    for block, bond, follows, active in itertools.product(
        BLOCKS, BONDS, (False, True), (True, False)
    ):
        try:
            with transaction.atomic():
                _arrange(ana, ben, block=block, bond=bond, follows=follows, active=active)
                page = _verdict(lambda: access_correspondent(viewer_id=ana.pk, handle=ben_handle))
                context = send_context(sender_id=ana.pk, handle=ben_handle, client_key="k" * 8)
                sending = context.refusal.code if context.refusal else "may write"
                rule = _rule(block=block, bond=bond, follows=follows, active=active)
                assert sending == page == rule, (block, bond, follows, active)
                assert (context.recipient_id == ben.pk) == (page == "may write")
                seen.add(page)
                raise _RolledBack
        except _RolledBack:
            pass
    # Every answer happened at least once: the walk is not vacuous.
    assert seen == {"may write", "no_such_person", "cannot_write"}
    for handle in ("nobody-here", handle_of(ana)):
        page = _verdict(lambda handle=handle: access_correspondent(viewer_id=ana.pk, handle=handle))
        context = send_context(sender_id=ana.pk, handle=handle, client_key="k" * 8)
        assert page == "no_such_person" and context.refusal is not None
        assert context.refusal.code == page and context.recipient_id is None


def test_the_send_context_finds_the_pairs_thread_and_a_keys_earlier_message() -> None:
    from chatspheres.spheres.services import sphere_upsert
    from tests.messaging.helpers import pair

    ana, ben = pair(sphere_upsert(slug="walks", name="Walks", tagline="W.", description="W."))
    first = send(ana, ben, "Hello", client_key="first-key").message
    context = send_context(sender_id=ana.pk, handle=handle_of(ben), client_key="first-key")
    assert context.already_sent_id == first.pk and context.thread_id == first.thread_id
    assert (context.sender_name, context.sender_handle) == ("Ana", handle_of(ana))
    fresh = send_context(sender_id=ana.pk, handle=handle_of(ben), client_key="other-key")
    assert fresh.already_sent_id is None and fresh.thread_id == first.thread_id
    # Ben's keys are his own: the same key from him is a new message.
    assert send_context(sender_id=ben.pk, handle=handle_of(ana), client_key="first-key") == (
        send_context(sender_id=ben.pk, handle=handle_of(ana), client_key="never-used")
    )
