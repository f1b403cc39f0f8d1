"""A resuming tab sends what it missed before anything newer, once each."""

from __future__ import annotations

import asyncio
from typing import Any

from chatspheres.realtime.hub import Envelope, MemoryHub
from chatspheres.realtime.registry import registry
from chatspheres.realtime.runtime import Runtime
from chatspheres.realtime.tab import Tab


class SlowHub(MemoryHub):
    """Subscribing takes a round trip, during which a live event arrives (as with Redis)."""

    def __init__(self) -> None:
        super().__init__()
        self.tab: Tab | None = None
        self.live: Envelope | None = None

    async def subscribe(self, channel: str, inbox: Any) -> None:
        await asyncio.sleep(0)
        if self.live is not None and self.tab is not None:
            await self.tab.deliver(self.live)
            self.live = None
        await super().subscribe(channel, inbox)


def test_an_event_arriving_while_a_resuming_tab_subscribes_waits_for_the_replay() -> None:
    async def scenario() -> list[str]:
        hub = SlowHub()
        runtime = Runtime(hub=hub, registry=registry, single_process=True)
        sent: list[str] = []

        async def send(message: Any) -> None:
            sent.append(message["text"])

        tab = Tab(tab_id="tab-1", user_id=7, session_key="s", send=send, runtime=runtime)
        missed = [await hub.publish_logged(7, "tab:tab-1", Envelope('{"n":1}', "x")) for _ in "ab"]
        after = missed[0].id - 1
        hub.tab = tab
        hub.live = await hub.publish_logged(7, "tab:tab-1", Envelope('{"n":3}', "x"))
        # What the gateway does for a resuming tab: hold, subscribe, catch up.
        tab.hold()
        await hub.subscribe("tab:tab-1", tab)
        assert await tab.catch_up(after)
        return sent

    sent = asyncio.run(scenario())
    ids = [int(frame.split(",")[0].removeprefix('{"id":')) for frame in sent]
    assert ids == sorted(ids) and len(ids) == len(set(ids)) == 3
