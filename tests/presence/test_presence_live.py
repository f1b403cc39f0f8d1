"""Presence as the running site keeps it: a tab open anywhere makes its member online."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

from chatspheres.presence import tracker
from chatspheres.presence.selectors import MemberPresence, presence_of
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
# Bounds how long a change may take to show; it does not time anything.
LIMIT_SECONDS = 10


def eventually(read: Callable[[], T], holds: Callable[[T], bool]) -> T:
    """Read until ``holds`` is true of what was read, within a bound."""
    deadline = time.monotonic() + LIMIT_SECONDS
    while True:
        value = read()
        if holds(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def presence(user_id: int) -> Callable[[], MemberPresence]:
    return lambda: presence_of(user_ids=[user_id])[user_id]


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_a_member_with_a_tab_open_is_online_where_they_look_and_offline_once_it_closes(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tracker, "OFFLINE_GRACE_SECONDS", 0.5)
    ana = make_member("ana@example.com", spheres=(sphere,))
    assert not presence(ana.pk)().online

    tab = Tab(live_server, ana)
    seen = eventually(presence(ana.pk), lambda p: p.online)
    assert seen.online and seen.sphere_id is None

    tab.send({"type": "sphere.enter", "sphere": sphere.pk})
    seen = eventually(presence(ana.pk), lambda p: p.sphere_id == sphere.pk)
    assert (seen.online, seen.sphere_name) == (True, "Book Club")

    # A second tab on another page, then the first closes: still online.
    other = Tab(live_server, ana)
    tab.close()
    seen = eventually(presence(ana.pk), lambda p: p.sphere_id is None)
    assert seen.online

    other.close()
    seen = eventually(presence(ana.pk), lambda p: not p.online)
    assert not seen.online and seen.last_seen is not None
