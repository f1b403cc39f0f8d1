"""The server's share of connecting, without browsers: match and relay seen by Python clients.

Two signed-in members, each on a ``websockets`` client, do what the two call
pages do up to the offer: enter the sphere, the first queues, the second
queues (start), both receive ``match.found``; then the offerer sends a
4 KB offer (the size of a real one) and the answerer receives it. This
separates what the server costs (matching, the database, the relay) from
what the browsers cost in the call page's timeline.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from bench.common import median

OFFER = {"description": {"type": "offer", "sdp": "v=0\r\n" + "a=x\r\n" * 800}}
TIMEOUT = 10.0


async def _until(socket: Any, kind: str) -> tuple[float, dict[str, Any]]:
    """Wait (bounded) for the next frame of type ``kind``; when it arrived, and the frame."""
    async with asyncio.timeout(TIMEOUT):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == kind:
                return time.perf_counter(), frame


async def one_pair(url: str, origin: str, sphere: int, pair: tuple[str, str]) -> dict[str, float]:
    from websockets.asyncio.client import connect

    first, second = [
        await connect(url, origin=origin, additional_headers={"Cookie": cookie}, compression=None)  # type: ignore[arg-type]
        for cookie in pair
    ]
    try:
        for socket in (first, second):
            await _until(socket, "ready")
            await socket.send(json.dumps({"type": "sphere.enter", "sphere": sphere}))
            await _until(socket, "sphere.presence")
        await first.send(json.dumps({"type": "queue.join", "sphere": sphere}))
        await _until(first, "queue.waiting")
        start = time.perf_counter()
        await second.send(json.dumps({"type": "queue.join", "sphere": sphere}))
        (at_first, found), (at_second, _) = await asyncio.gather(
            _until(first, "match.found"), _until(second, "match.found")
        )
        offerer, answerer = (first, second) if found["polite"] is False else (second, first)
        sent = time.perf_counter()
        await offerer.send(
            json.dumps({"type": "signal", "conversation": found["conversation"], "data": OFFER})
        )
        received, _ = await _until(answerer, "signal")
        end = {"type": "call.end", "conversation": found["conversation"], "reason": "ended"}
        await first.send(json.dumps(end))
        await _until(first, "call.ended")
    finally:
        await first.close()
        await second.close()
    return {
        "match_ms": (max(at_first, at_second) - start) * 1000,
        "relay_4kb_offer_ms": (received - sent) * 1000,
    }


async def measure(port: int, sphere: int, pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Median match and relay times over ``pairs`` (one call each, one after another)."""
    url, origin = f"ws://127.0.0.1:{port}/ws/", f"http://127.0.0.1:{port}"
    runs = [await one_pair(url, origin, sphere, pair) for pair in pairs]
    return {
        "runs": len(runs),
        "match_ms_median": round(median([r["match_ms"] for r in runs]), 2),
        "relay_4kb_offer_ms_median": round(median([r["relay_4kb_offer_ms"] for r in runs]), 2),
        "match_ms": [round(r["match_ms"], 2) for r in runs],
        "relay_4kb_offer_ms": [round(r["relay_4kb_offer_ms"], 2) for r in runs],
    }
