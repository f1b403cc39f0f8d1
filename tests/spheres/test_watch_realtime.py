"""Through the real gateway: starting to wait in a sphere tells its watchers, live."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.notifications.models import Notification
from chatspheres.spheres.models import Sphere
from chatspheres.spheres.services import sphere_watch_create
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab

pytestmark = pytest.mark.django_db(transaction=True)


def next_of_type(tab: Tab, kind: str, *, within: int = 20) -> dict[str, Any]:
    """The first frame of type ``kind`` among the next few (others are skipped)."""
    for _ in range(within):
        frame = tab.receive()
        if frame["type"] == kind:
            return frame
    raise AssertionError(f"no {kind} among {within} frames")


def test_someone_starting_to_wait_reaches_a_watchers_tab_as_a_notification(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = make_member("ana@example.com", name="Ana", spheres=(sphere,))
    ben = make_member("ben@example.com", name="Ben", spheres=(sphere,))
    for member in (ana, ben):
        sphere_watch_create(user_id=member.pk, sphere_id=sphere.pk)
    bens_tab = Tab(live_server, ben)
    anas_tab = Tab(live_server, ana)

    anas_tab.send({"type": "queue.join", "sphere": sphere.pk})
    assert next_of_type(anas_tab, "queue.waiting")["sphere"] == sphere.pk
    told = next_of_type(bens_tab, "notification.new")
    assert told["notification"]["kind"] == "someone_waiting"
    assert told["notification"]["text"] == "Someone is waiting in Book Club"
    assert told["notification"]["url"] == "/spheres/book-club/"
    # The one waiting is never told about themselves.
    assert not Notification.objects.filter(recipient=ana).exists()


def test_a_failure_to_tell_the_watchers_leaves_the_wait_alone(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**_kwargs: Any) -> None:
        raise RuntimeError("the notifications table is unavailable")

    monkeypatch.setattr("chatspheres.matching.realtime.sphere_watchers_notify", broken)
    anas_tab = Tab(live_server, make_member("ana@example.com", name="Ana", spheres=(sphere,)))
    anas_tab.send({"type": "queue.join", "sphere": sphere.pk})
    assert next_of_type(anas_tab, "queue.waiting")["sphere"] == sphere.pk
    # No error frame came in between: the next answer is the one to Cancel.
    anas_tab.send({"type": "queue.leave"})
    frame = anas_tab.receive_type("queue.left")
    assert frame["reason"] == "cancelled"
