"""How a call ends, as each side is told it, over a real socket."""

from __future__ import annotations

import pytest

from chatspheres.calls.models import Conversation
from chatspheres.spheres.models import Sphere
from tests.conftest import LiveServer, make_member
from tests.realtime.wsclient import Tab, match

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("live_server", ["memory", "redis"], indirect=True)
def test_two_end_call_presses_at_once_both_read_as_ended(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    found, _ = match(ana, ben, sphere.pk)
    conversation = found["conversation"]
    end = {"type": "call.end", "conversation": conversation, "reason": "ended"}
    ana.send(end)
    ben.send(end)
    # One press is saved first; both tabs are told once that the call ended
    # ("ended", never "left"), and the second press is no error.
    for_ana, for_ben = ana.receive(), ben.receive()
    assert {for_ana["type"], for_ben["type"]} == {"call.ended"}
    assert for_ana["reason"] == for_ben["reason"] == "ended"
    assert {for_ana["by_me"], for_ben["by_me"]} == {True, False}
    saved = Conversation.objects.get(public_id=conversation)
    assert (saved.state, saved.end_reason) == ("ended", "ended")
    first = ana if for_ana["by_me"] else ben
    assert saved.ended_by_id == first.user.pk
    # Nothing else follows for that call: both can look for someone new at once.
    for tab in (ana, ben):
        tab.send({"type": "queue.join", "sphere": sphere.pk})
        assert tab.receive_type("queue.waiting")["sphere"] == sphere.pk


def test_each_way_a_call_ends_tells_the_other_side_its_reason(
    live_server: LiveServer, sphere: Sphere
) -> None:
    ana = Tab(live_server, make_member("ana@example.com", spheres=(sphere,)))
    ben = Tab(live_server, make_member("ben@example.com", spheres=(sphere,)))
    cleo = Tab(live_server, make_member("cleo@example.com", spheres=(sphere,)))
    # Ana presses Next: Ben reads "Ana moved on".
    found, _ = match(ana, ben, sphere.pk)
    ana.send({"type": "call.end", "conversation": found["conversation"], "reason": "next"})
    assert ana.receive_type("call.ended")["by_me"] is True
    told = ben.receive_type("call.ended")
    assert (told["reason"], told["by_me"]) == ("next", False)
    # Cleo closes her page while talking with Ben: Ben reads "Cleo left".
    found, _ = match(ben, cleo, sphere.pk)
    cleo.close()
    told = ben.receive_type("call.ended")
    assert (told["conversation"], told["reason"], told["by_me"]) == (
        found["conversation"],
        "left",
        False,
    )
