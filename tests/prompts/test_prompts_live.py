"""Prompts over a real socket: two tabs in a call draw, pass and go deeper together."""

from __future__ import annotations

from typing import Any

import pytest

from chatspheres.prompts.models import Card
from chatspheres.prompts.services import prompts_load_shipped
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.test_resume import live_server_hub_log_size
from tests.realtime.wsclient import Tab, match

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_two_tabs_share_cards_and_go_deeper_only_together(
    live_server: LiveServer, sphere: Sphere
) -> None:
    prompts_load_shipped()
    ana = Tab(live_server, make_member("ana@example.com", name="Ana", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", name="Ben", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]

    ana.send({"type": "prompt.draw", "conversation": conversation})
    for_ana, for_ben = ana.receive_type("prompt.card"), ben.receive_type("prompt.card")
    assert for_ana["text"] == for_ben["text"]
    assert (for_ana["depth"], for_ana["how"], for_ana["by_me"], for_ben["by_me"]) == (
        1,
        "draw",
        True,
        False,
    )

    ben.send({"type": "prompt.pass", "conversation": conversation})
    passed = ana.receive_type("prompt.card")
    assert passed["how"] == "pass" and passed["depth"] == 1
    assert passed["text"] != for_ana["text"]
    assert ben.receive_type("prompt.card")["text"] == passed["text"]

    ben.send({"type": "prompt.deeper", "conversation": conversation})
    told_ana = ana.receive_type("prompt.depth")
    assert (told_ana["depth"], told_ana["partner_wants"], told_ana["you_want"]) == (1, True, False)
    assert ben.receive_type("prompt.depth")["you_want"] is True

    ana.send({"type": "prompt.deeper", "conversation": conversation})
    for tab in (ana, ben):
        rose = tab.receive_type("prompt.depth")
        assert (rose["depth"], rose["rose"], rose["partner_wants"]) == (2, True, False)
        dealt = tab.receive_type("prompt.card")
        assert (dealt["depth"], dealt["how"]) == (2, "deeper")
    assert list(
        Card.objects.filter(conversation__public_id=conversation).values_list("depth", flat=True)
    ) == [1, 1, 2]


def test_only_the_call_tabs_may_draw(live_server: LiveServer, sphere: Sphere) -> None:
    prompts_load_shipped()
    ana_user = make_member("ana@example.com", name="Ana", spheres=(sphere,))
    ana = Tab(live_server, ana_user)
    ben = Tab(live_server, make_member("ben@example.com", name="Ben", spheres=(sphere,)))
    cleo = Tab(live_server, make_member("cleo@example.com", name="Cleo", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]

    cleo.send({"type": "prompt.draw", "conversation": conversation})
    assert cleo.receive_type("error")["code"] == "not_in_conversation"
    ana_elsewhere = Tab(live_server, ana_user)
    ana_elsewhere.send({"type": "prompt.deeper", "conversation": conversation})
    assert ana_elsewhere.receive_type("error")["code"] == "not_in_conversation"
    assert not Card.objects.exists()

    ana.send({"type": "call.end", "conversation": conversation, "reason": "ended"})
    ana.receive_type("call.ended")
    ben.receive_type("call.ended")
    ben.send({"type": "prompt.draw", "conversation": conversation})
    assert ben.receive_type("error")["code"] == "not_in_conversation"


def test_a_tab_told_to_resync_is_shown_its_card_and_who_wants_to_go_deeper(
    live_server: LiveServer, sphere: Sphere, settings: Any
) -> None:
    prompts_load_shipped()
    settings.REALTIME_EVENT_LOG_SIZE = 3
    live_server_hub_log_size(3)
    ana = Tab(live_server, make_member("ana@example.com", name="Ana", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", name="Ben", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    ana.send({"type": "prompt.draw", "conversation": conversation})
    drawn = ana.receive_type("prompt.card")["text"]
    ben.receive_type("prompt.card")
    ana.drop()
    ben.receive_type("call.partner_away")
    ben.send({"type": "prompt.deeper", "conversation": conversation})
    ben.receive_type("prompt.depth")
    for index in range(5):
        ben.send({"type": "chat.send", "conversation": conversation, "text": f"line {index}"})
    assert ana.reconnect()["resumed"] is True
    ana.receive_type("resync")
    # Other apps answer the resync too (call.state, notification.unread): take ours.
    frames = {}
    for _ in range(10):
        frame = ana.receive()
        frames[frame["type"]] = frame
        if {"prompt.card", "prompt.depth"} <= frames.keys():
            break
    card, depth = frames["prompt.card"], frames["prompt.depth"]
    assert (card["text"], card["by_me"]) == (drawn, True)
    assert (depth["depth"], depth["partner_wants"], depth["you_want"]) == (1, True, False)
