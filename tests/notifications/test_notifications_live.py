"""A notification reaches every tab of its member live, and a tab that was away catches up."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.notifications.models import Notification
from chatspheres.notifications.services import notification_send, notifications_mark_all_read
from tests.conftest import LiveServer, make_member
from tests.realtime.test_resume import live_server_hub_log_size
from tests.realtime.wsclient import Tab

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_a_notification_arrives_live_on_every_tab_and_after_a_reconnect(
    live_server: LiveServer,
) -> None:
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    on_sphere_page, on_people_page = Tab(live_server, ben), Tab(live_server, ben)

    notification_send(recipient_id=ben.pk, kind=Notification.Kind.NEW_FOLLOWER, actor_id=ana.pk)
    for tab in (on_sphere_page, on_people_page):
        told = tab.receive_type("notification.new")
        assert told["notification"]["text"] == "Ana followed you"
        assert told["notification"]["read"] is False and told["unread"] == 1

    # The socket drops; meanwhile Ana's call rings out; the tab comes back and catches up.
    on_people_page.drop()
    notification_send(recipient_id=ben.pk, kind=Notification.Kind.MISSED_RING, actor_id=ana.pk)
    assert on_people_page.reconnect()["resumed"] is True
    caught_up = on_people_page.receive_type("notification.new")
    assert caught_up["notification"]["text"] == "You missed a call from Ana"
    assert caught_up["unread"] == 2

    notifications_mark_all_read(user_id=ben.pk)
    assert on_sphere_page.receive_type("notification.new")["unread"] == 2
    assert on_sphere_page.receive_type("notification.unread") == {
        "type": "notification.unread",
        "unread": 0,
    }


def test_a_tab_away_too_long_to_catch_up_is_sent_the_unread_count(
    live_server: LiveServer, settings: Any
) -> None:
    settings.REALTIME_EVENT_LOG_SIZE = 2
    live_server_hub_log_size(2)
    ana = make_member("ana@example.com", name="Ana")
    ben = make_member("ben@example.com", name="Ben")
    tab = Tab(live_server, ben)
    tab.drop()
    for _ in range(4):
        notification_send(recipient_id=ben.pk, kind=Notification.Kind.NEW_FOLLOWER, actor_id=ana.pk)
    assert tab.reconnect()["resumed"] is True
    tab.receive_type("resync")
    # Each app sends what the page must reload (the calls app: call.state).
    after_resync = {frame["type"]: frame for frame in (tab.receive(), tab.receive())}
    assert after_resync["notification.unread"] == {"type": "notification.unread", "unread": 4}
