"""What the relay lane's own Python code costs per frame, step by step (no sockets).

``python -m bench.relay.lanecost`` builds the real-time core in this process
(a MemoryHub runtime, the registry the apps filled, two tabs in one call) and
hands one 190-byte signal at a time to ``Tab.receive_now``, as uvicorn's
callback does on the lane; the partner's "socket" is a stand-in with
GatewayWebSocketProtocol's own ``can_write_now`` / ``write_text_now`` over a
transport that discards the bytes. It reports the cost of the whole lane, of
the write alone (websockets' framing: not ours), and of each step the lane
takes, timed on its own.

Two ways to count:

* CPU time (default): the best of many interleaved rounds of
  ``time.process_time``; quick, but a shared machine's noise shows;
* ``--instructions``: instructions executed, counted by valgrind's callgrind
  (a run with the loop and one without; the difference over the iterations);
  exact and repeatable whatever else the machine does, but each step takes a
  minute or so under valgrind.

``first gateway`` is the lane as it was before the real-time core was
rewritten (``Connection.receive_now`` of chatspheres/realtime/gateway.py at
commit cf54473), kept here as a reference for the figures in
docs/performance.md: it checked the size, decoded, compared the conversation
and took a token, then wrote to the partner.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

FRAME = (
    '{"type":"signal","conversation":"%s","data":{"candidate":{"candidate":"candidate:842163049'
    " 1 udp 1677729535 198.51.100.7 52614 typ srflx raddr 10.0.0.2 rport 52614 generation 0"
    ' uf","sdpMid":"0","sdpMLineIndex":0}}}'
)
ITERATIONS = 20_000


def build() -> dict[str, Callable[[], Any]]:
    """Set the core up in this process; the steps to time, by name."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chatspheres.settings")
    os.environ.setdefault("CHATSPHERES_VAR_DIR", tempfile.mkdtemp(prefix="lanecost-"))
    os.environ["REALTIME_RATE_PER_SECOND"] = "1000000000"
    os.environ["REALTIME_RATE_BURST"] = "1000000000"
    import django

    django.setup()
    import msgspec
    from django.conf import settings
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    from chatspheres.calls.realtime import CallTab, _for_this_call, _relay_decoder
    from chatspheres.common.events import tab_channel
    from chatspheres.realtime import metrics
    from chatspheres.realtime.hub import Envelope, MemoryHub
    from chatspheres.realtime.protocol import nesting_depth_ok
    from chatspheres.realtime.registry import registry
    from chatspheres.realtime.runtime import Runtime
    from chatspheres.realtime.tab import FloodGuard, Tab

    class NullTransport:
        def write(self, data: bytes) -> None:
            pass

        def is_closing(self) -> bool:
            return False

    class Lane:
        """GatewayWebSocketProtocol's writing half, over a transport that discards."""

        handshake_complete = True
        close_sent = False
        initial_response = None

        def __init__(self) -> None:
            self.conn = ServerProtocol(state=State.OPEN)
            self.transport = NullTransport()
            self.writable = asyncio.Event()
            self.writable.set()

        def can_write_now(self) -> bool:
            return (
                self.handshake_complete
                and not self.close_sent
                and self.initial_response is None
                and self.writable.is_set()
                and not self.transport.is_closing()
            )

        def write_text_now(self, text: str) -> bool:
            if not self.can_write_now():
                return False
            self.conn.send_text(text.encode())
            self.transport.write(b"".join(self.conn.data_to_send()))
            return True

    async def send(_message: Any) -> None:
        pass

    runtime = Runtime(hub=MemoryHub(), registry=registry, single_process=True)
    a = Tab(tab_id="A" * 16, user_id=1, session_key="s", send=send, runtime=runtime, lane=Lane())  # type: ignore[arg-type]
    b = Tab(tab_id="B" * 16, user_id=2, session_key="s", send=send, runtime=runtime, lane=Lane())  # type: ignore[arg-type]
    conversation = "c" * 22
    a.state(CallTab).enter(conversation, b.id, 2, True)
    b.state(CallTab).enter(conversation, a.id, 1, False)
    loop = asyncio.new_event_loop()
    loop.run_until_complete(runtime.hub.subscribe(tab_channel(a.id), a))
    loop.run_until_complete(runtime.hub.subscribe(tab_channel(b.id), b))
    text = FRAME % conversation
    envelope = Envelope(text, "signal", (conversation,))
    lane = Lane()

    # The first gateway's lane (gateway.Connection at commit cf54473), for reference.
    class OldEnvelope(msgspec.Struct, array_like=True, frozen=True):
        frame: str
        kind: int = 0
        conversation: str | None = None
        partner: str | None = None

    class FirstGateway:
        def __init__(self, hub: MemoryHub) -> None:
            self.hub, self._closed, self.lane = hub, False, Lane()
            self.conversation: str | None = conversation
            self.partner_channel: str | None = None
            self.guard = FloodGuard(rate=1e9, burst=10**9, flood_limit=100, flood_window=2)

        def receive_now(self, text: str) -> bool:
            channel = self.partner_channel
            if channel is None or len(text) > settings.REALTIME_MAX_FRAME_BYTES:
                return False
            try:
                frame = _relay_decoder.decode(text)
            except msgspec.MsgspecError:
                return False
            conversation = frame.conversation
            if conversation != self.conversation or not self.guard.take_token():
                return False
            try:
                if self.hub.publish_now(channel, OldEnvelope(text, 1, conversation)):  # type: ignore[arg-type]
                    return True
            except Exception:  # noqa: S110  (the original logged it)
                pass
            self.guard.refund()
            return False

        def deliver_now(self, envelope: Any) -> bool:
            if envelope.kind != 1 or self.lane is None:
                return False
            if envelope.conversation != self.conversation or self._closed:
                return True
            return self.lane.write_text_now(envelope.frame)

    old_hub = MemoryHub()
    first, second = FirstGateway(old_hub), FirstGateway(old_hub)
    first.partner_channel, second.partner_channel = "conn:b", "conn:a"
    loop.run_until_complete(old_hub.subscribe("conn:a", first))  # type: ignore[arg-type]
    loop.run_until_complete(old_hub.subscribe("conn:b", second))  # type: ignore[arg-type]

    assert a.receive_now(text) and first.receive_now(text)
    return {
        "whole lane (Tab.receive_now)": lambda: a.receive_now(text),
        "first gateway's whole lane (reference)": lambda: first.receive_now(text),
        "the write alone (websockets framing, not ours)": lambda: lane.write_text_now(text),
        "loop overhead (subtracted from each step)": lambda: True,
        "settings.REALTIME_MAX_FRAME_BYTES (one read)": lambda: settings.REALTIME_MAX_FRAME_BYTES,
        "nesting_depth_ok(frame)": lambda: nesting_depth_ok(text),
        "guard.take_token()": lambda: a.guard.take_token(),
        "decode (Signal | MediaState)": lambda: _relay_decoder.decode(text),
        "tab.state(CallTab)": lambda: a.state(CallTab),
        "Envelope(frame, kind, meta)": lambda: Envelope(text, "signal", (conversation,)),
        "observer _for_this_call": lambda: _for_this_call(b, envelope),
        "lane.can_write_now()": lambda: lane.can_write_now(),
        "metrics.RELAYED.inc()": lambda: (metrics.RELAYED.inc(), True),
        "hub.publish_now → deliver_now → write": lambda: runtime.hub.publish_now(
            tab_channel(b.id), envelope
        ),
    }


def cpu_times(
    steps: dict[str, Callable[[], Any]], rounds: int, iterations: int
) -> dict[str, float]:
    """Best (least disturbed) CPU microseconds per call, rounds interleaved over the steps."""
    runs: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            began = time.process_time()
            for _ in range(iterations):
                step()
            runs[name].append((time.process_time() - began) / iterations * 1e6)
    return {name: min(values) for name, values in runs.items()}


def instructions(name: str, iterations: int) -> int:
    """Instructions one step executes per call, from two runs under callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (apt-get install valgrind)")

    def counted(n: int) -> int:
        result = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                "--callgrind-out-file=/dev/null",
                sys.executable,
                "-m",
                "bench.relay.lanecost",
                "--run-step",
                name,
                "--iterations",
                str(n),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        found = re.search(r"Collected : (\d+)", result.stderr)
        if found is None:
            raise RuntimeError(f"no instruction count from callgrind: {result.stderr[-500:]}")
        return int(found.group(1))

    return round((counted(iterations) - counted(0)) / iterations)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay.lanecost", description=__doc__)
    parser.add_argument(
        "--instructions", action="store_true", help="count instructions under valgrind"
    )
    parser.add_argument("--rounds", type=int, default=30, help="CPU-time rounds (default 30)")
    parser.add_argument("--iterations", type=int, default=ITERATIONS)
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document (for bench.relay's result)"
    )
    parser.add_argument("--run-step", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_step is not None:  # one step's loop, for callgrind
        step = build()[args.run_step]
        for _ in range(args.iterations):
            step()
        return
    steps = build()
    if args.instructions:
        unit = "instructions"
        names = list(steps)
        # Two at a time: valgrind is single-threaded.
        with ThreadPoolExecutor(2) as pool:
            counts = dict(
                zip(names, pool.map(lambda n: instructions(n, args.iterations), names), strict=True)
            )
        costs: dict[str, float] = {name: float(count) for name, count in counts.items()}
    else:
        unit = "µs of CPU"
        costs = cpu_times(steps, args.rounds, min(args.iterations, 5_000))
    overhead = costs["loop overhead (subtracted from each step)"]
    write = costs["the write alone (websockets framing, not ours)"]
    net = {
        name: cost if "loop overhead" in name else cost - overhead for name, cost in costs.items()
    }
    ours = costs["whole lane (Tab.receive_now)"] - write
    before = costs["first gateway's whole lane (reference)"] - write
    summary = {
        "command": "python -m bench.relay.lanecost"
        + (" --instructions" if args.instructions else ""),
        "unit": unit,
        "method": (
            "instructions per call (callgrind), net of the loop"
            if args.instructions
            else f"best of {args.rounds} interleaved rounds of CPU time per call, net of the loop"
        ),
        "steps": {name: round(value, 3) for name, value in net.items()},
        "ours_without_the_write": round(ours, 3),
        "first_gateway_without_the_write": round(before, 3),
        "ours_over_first_gateway": round(ours / before, 2) if before else None,
    }
    if args.json:
        print(json.dumps(summary))
        return
    print(f"Relay lane, per relayed frame ({unit}; the steps net of the loop's own cost):")
    for name, value in net.items():
        print(f"  {value:10.3f}  {name}" if unit != "instructions" else f"  {value:10,.0f}  {name}")
    print(
        f"ours without the write: {ours:,.3f}; the first gateway's: {before:,.3f}"
        f" ({summary['ours_over_first_gateway']}x)"
    )


if __name__ == "__main__":
    main()
