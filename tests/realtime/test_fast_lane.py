"""The synchronous relay lane: the uvicorn internals it relies on, and turning it off."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from chatspheres.realtime.fastpath import GatewayWebSocketProtocol
from chatspheres.realtime.tab import Tab as ServerTab
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab, match, signal


def test_uvicorn_still_has_what_the_lane_relies_on() -> None:
    """An upgrade that moves these fails here, instead of silently taking the slow route."""
    source = inspect.getsource(WebSocketsSansIOProtocol)
    for method in ("send_receive_event_to_app", "handle_connect", "send", "receive"):
        assert callable(getattr(WebSocketsSansIOProtocol, method)), method
    init = inspect.getsource(WebSocketsSansIOProtocol.__init__)
    for attribute in (
        "self.queue",
        "self.frames",
        "self.writable",
        "self.conn",
        "self.handshake_complete",
        "self.close_sent",
        "self.initial_response",
    ):
        assert attribute in init, attribute
    assert "self.curr_msg_data_type" in source
    assert "self.transport" in source
    # The lane hands the frame over exactly where uvicorn queues it for the app.
    handing_over = inspect.getsource(WebSocketsSansIOProtocol.send_receive_event_to_app)
    assert "self.queue.put_nowait" in handing_over
    assert GatewayWebSocketProtocol.__mro__[1] is WebSocketsSansIOProtocol


def recorded_lane(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    taken: list[bool] = []
    receive_now = ServerTab.receive_now

    def recording(self: ServerTab, text: str) -> bool:
        taken.append(receive_now(self, text))
        return taken[-1]

    monkeypatch.setattr(ServerTab, "receive_now", recording)
    return taken


@pytest.mark.django_db(transaction=True)
def test_the_lane_carries_signals_in_a_call(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = recorded_lane(monkeypatch)
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    for index in range(10):
        ana.send(signal(found["conversation"], f"ping-{index}"))
        assert ben.receive_type("signal") == signal(found["conversation"], f"ping-{index}")
        ben.send(signal(found["conversation"], f"pong-{index}"))
        assert ana.receive_type("signal") == signal(found["conversation"], f"pong-{index}")
    ana.send(signal("someone-elses", "declined"))
    assert ana.receive()["code"] == "not_in_conversation"  # declined, answered by the ASGI route
    assert taken.count(True) == 20
    assert taken[-1] is False


@pytest.mark.django_db(transaction=True)
def test_with_the_lane_turned_off_every_frame_takes_the_ordinary_route(
    live_server: LiveServer, sphere: Sphere, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    settings.REALTIME_FAST_LANE = False
    taken = recorded_lane(monkeypatch)
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    for index in range(10):
        ana.send(signal(found["conversation"], f"ping-{index}"))
        assert ben.receive_type("signal") == signal(found["conversation"], f"ping-{index}")
    assert taken == []
