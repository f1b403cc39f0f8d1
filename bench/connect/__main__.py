"""Connecting: our call page against the floor, interleaved, in two real browsers.

Ours: two members, each in their own headless Chromium, open the call page of
a sphere they belong to, wait until their own camera shows in the preview
(the page's getUserMedia has resolved and a frame is painted), and press
"Join call". Start: the later of the two presses. End: the first remote video
frame painted on *both* sides (``requestVideoFrameCallback`` on the remote
video element). Then one of them presses "End call". Each run is a fresh pair
of members (the matcher keeps two people who just parted apart for a while, as
it should), on freshly loaded pages.

Floor: the same two browsers load a bare page (floor.html, served on
127.0.0.1 by this benchmark) that gets the same camera and microphone and makes
one ``RTCPeerConnection`` without ICE servers; the benchmark hands the offer
and the answer from one page to the other with ``page.evaluate``, either with
every candidate inside (non-trickle: after ICE gathering completes) or with
candidates forwarded one by one (trickle). Both are measured; the faster is
the floor. Start: the offerer begins. End: as for ours.

All timestamps are ``performance.timeOrigin + performance.now()`` taken in the
pages (bench/connect/instrument.js), so the two browsers share one clock. The
same instrumentation stamps the socket frames and peer-connection states, so
each run is also broken down into steps (match, offer, relay, answer, ICE +
DTLS, media). Finally the same server is driven by Python clients without
browsers (bench/connect/server_only.py): the server's own share of the match
and of a relay.

Runs: 10 of each (3 with --quick), interleaved ours, floor, floor, ours…,
after one discarded warm-up of each.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import http.server
import os
import re
import statistics
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import (
    median,
    our_server,
    percentile,
    save_figure,
    scratch,
    session_cookies,
    write_result,
)
from bench.connect import server_only
from tests.browser.chromium import CHROMIUM_FLAGS, find_chromium

HERE = Path(__file__).resolve().parent

TARGET_RATIO = 1.2
STEP_TIMEOUT_MS = 30_000  # every wait in a run is bounded by this

CAMERA_SHOWS = """() => {
  const video = document.getElementById("preview-video");
  return Boolean(video && video.srcObject && video.readyState >= 2
    && window.__bench && "preview.frame" in window.__bench.marks);
}"""
REMOTE_FRAME_SHOWS = """() => Boolean(window.__bench && "remote.frame" in window.__bench.marks)"""
MARKS = "() => window.__bench.marks"


# ------------------------------------------------------------------ set-up


def chromium_path() -> str:
    path, reason = find_chromium()
    if reason is not None:
        raise SystemExit(reason)
    return path


def make_pairs(count: int) -> tuple[str, int, list[tuple[str, str]]]:
    """A sphere and ``count`` pairs of signed-in members of it: slug, id, [(cookie, cookie)]."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from chatspheres.accounts.models import Profile, User
    from chatspheres.spheres.models import Membership, Sphere

    sphere = Sphere.objects.create(
        slug="connect-bench",
        name="Connect Bench",
        description="Where the benchmark's members meet.",
    )
    now = timezone.now()
    users = User.objects.bulk_create(
        User(email=f"connect-{i}@bench.invalid", password=make_password(None))
        for i in range(2 * count)
    )
    Profile.objects.bulk_create(
        Profile(user=user, display_name=f"Person {i}", handle=f"person-{i}", adult_confirmed_at=now)
        for i, user in enumerate(users)
    )
    Membership.objects.bulk_create(Membership(user=user, sphere=sphere) for user in users)
    cookies = session_cookies([user.pk for user in users])
    return sphere.slug, sphere.pk, [(cookies[2 * i], cookies[2 * i + 1]) for i in range(count)]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()


@contextmanager
def floor_server() -> Iterator[int]:
    """Serve floor.html and floor.js on a free loopback port."""
    handler = functools.partial(QuietHandler, directory=str(HERE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ one person


@dataclass
class Person:
    """One browser, its context (camera and microphone granted) and its page."""

    name: str
    browser: Any
    context: Any
    page: Any
    console: list[str] = field(default_factory=list)
    candidates: asyncio.Queue[dict[str, Any]] | None = None


async def open_person(playwright: Any, name: str) -> Person:
    browser = await playwright.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_FLAGS, headless=True
    )
    context = await browser.new_context(
        permissions=["camera", "microphone"], viewport={"width": 1280, "height": 800}
    )
    await context.add_init_script(path=str(HERE / "instrument.js"))
    page = await context.new_page()
    person = Person(name=name, browser=browser, context=context, page=page)
    page.on("console", lambda msg: person.console.append(f"[{msg.type}] {msg.text}"))
    page.on("pageerror", lambda error: person.console.append(f"[pageerror] {error}"))

    async def floor_candidate(candidate: dict[str, Any]) -> None:
        if person.candidates is not None:
            person.candidates.put_nowait(candidate)

    await page.expose_function("floorCandidate", floor_candidate)
    return person


async def marks(person: Person) -> dict[str, float]:
    return dict(await person.page.evaluate(MARKS))


# ------------------------------------------------------------------ runs


async def run_ours(
    base: str, slug: str, pair: tuple[str, str], people: tuple[Person, Person]
) -> dict[str, Any]:
    """One call on the call page, as two people make it."""
    from playwright.async_api import expect

    url = f"{base}/spheres/{slug}/call/"
    for person, cookie in zip(people, pair, strict=True):
        name, value = cookie.split("=", 1)
        await person.context.clear_cookies()
        await person.context.add_cookies([{"name": name, "value": value, "url": base}])
    await asyncio.gather(*(p.page.goto(url) for p in people))
    await asyncio.gather(
        *(
            p.page.wait_for_function(CAMERA_SHOWS, timeout=STEP_TIMEOUT_MS, polling=50)
            for p in people
        )
    )
    for person in people:
        await person.page.get_by_role("button", name="Join call").click(timeout=STEP_TIMEOUT_MS)
    await asyncio.gather(
        *(
            p.page.wait_for_function(REMOTE_FRAME_SHOWS, timeout=STEP_TIMEOUT_MS, polling=50)
            for p in people
        )
    )
    a, b = await asyncio.gather(*(marks(p) for p in people))
    start = max(a["join"], b["join"])
    end = max(a["remote.frame"], b["remote.frame"])

    first, second = people
    await first.page.get_by_role("button", name="End call").click(timeout=STEP_TIMEOUT_MS)
    status = second.page.get_by_role("status", name="Call status")
    await expect(status).to_have_text(re.compile("ended the call"), timeout=STEP_TIMEOUT_MS)
    return {"ms": end - start, "milestones": ours_milestones(a, b, start)}


async def run_floor(
    floor_url: str, people: tuple[Person, Person], *, trickle: bool
) -> dict[str, Any]:
    """One call between two bare pages, the benchmark carrying offer and answer."""
    offerer, answerer = people
    await asyncio.gather(*(p.page.goto(floor_url) for p in people))
    await asyncio.gather(
        *(
            p.page.wait_for_function(CAMERA_SHOWS, timeout=STEP_TIMEOUT_MS, polling=50)
            for p in people
        )
    )
    for person in people:
        await person.page.click("#start-button", timeout=STEP_TIMEOUT_MS)
        person.candidates = asyncio.Queue() if trickle else None
    answered = asyncio.Event()
    accepted = asyncio.Event()

    async def forward(source: Person, target: Person, target_ready: asyncio.Event) -> None:
        assert source.candidates is not None
        await target_ready.wait()
        while True:
            candidate = await source.candidates.get()
            await target.page.evaluate("c => floor.candidate(c)", candidate)

    forwarders = []
    if trickle:
        forwarders = [
            asyncio.create_task(forward(offerer, answerer, answered)),
            asyncio.create_task(forward(answerer, offerer, accepted)),
        ]
    try:
        offer = await offerer.page.evaluate("t => floor.offer(t)", trickle)
        answer = await answerer.page.evaluate("([o, t]) => floor.answer(o, t)", [offer, trickle])
        answered.set()
        await offerer.page.evaluate("a => floor.accept(a)", answer)
        accepted.set()
        await asyncio.gather(
            *(
                p.page.wait_for_function(REMOTE_FRAME_SHOWS, timeout=STEP_TIMEOUT_MS, polling=50)
                for p in people
            )
        )
    finally:
        for task in forwarders:
            task.cancel()
        await asyncio.gather(*forwarders, return_exceptions=True)
        for person in people:
            person.candidates = None
    a, b = await asyncio.gather(*(marks(p) for p in people))
    await asyncio.gather(*(p.page.evaluate("() => floor.close()") for p in people))
    start = a["start"]
    end = max(a["remote.frame"], b["remote.frame"])
    return {"ms": end - start, "milestones": floor_milestones(a, b, start)}


# ------------------------------------------------------------------ where the time goes


def _both(a: dict[str, float], b: dict[str, float], name: str) -> float | None:
    """When ``name`` had happened on both sides (None if it did not happen on one)."""
    if name in a and name in b:
        return max(a[name], b[name])
    return None


def _segments(boundaries: list[tuple[str, float | None]], start: float) -> dict[str, float]:
    """Consecutive stretches between named moments: how long each step took (ms)."""
    segments = {}
    previous = start
    for name, at in boundaries:
        if at is None:
            continue
        segments[name] = round(at - previous, 2)
        previous = at
    return segments


def ours_milestones(a: dict[str, float], b: dict[str, float], start: float) -> dict[str, Any]:
    """Moments after the start (ms) and the steps between them, on the call page."""
    offerer, answerer = (a, b) if "send.signal.offer" in a else (b, a)
    moments = {
        "socket open (both; negative = before start)": _both(a, b, "ws.open"),
        "match.found received (both)": _both(a, b, "recv.match.found"),
        "peer connection created (both)": _both(a, b, "pc.created"),
        "offer sent": offerer.get("send.signal.offer"),
        "offer received": answerer.get("recv.signal.offer"),
        "answer sent": answerer.get("send.signal.answer"),
        "answer received": offerer.get("recv.signal.answer"),
        "first candidate received (both)": _both(a, b, "recv.signal.candidate"),
        "ICE connected (both)": _both(a, b, "ice.connected"),
        "DTLS connected (both)": _both(a, b, "pc.connected"),
        "video track (both)": _both(a, b, "track.video"),
        "first remote frame (both)": _both(a, b, "remote.frame"),
    }
    steps = _segments(
        [
            ("match: press → match.found at the offerer", offerer.get("recv.match.found")),
            ("offer made (match.found → offer sent)", offerer.get("send.signal.offer")),
            ("offer carried (server relay)", answerer.get("recv.signal.offer")),
            ("answer made", answerer.get("send.signal.answer")),
            ("answer carried (server relay)", offerer.get("recv.signal.answer")),
            ("ICE + DTLS (→ connected on both)", moments["DTLS connected (both)"]),
            ("media (→ first remote frame on both)", moments["first remote frame (both)"]),
        ],
        start,
    )
    return {
        "moments": {name: round(at - start, 2) for name, at in moments.items() if at is not None},
        "steps": steps,
    }


def floor_milestones(a: dict[str, float], b: dict[str, float], start: float) -> dict[str, Any]:
    """Moments after the start (ms) and the steps between them, on the bare page."""
    moments = {
        "offer ready": a.get("offer.ready"),
        "offer received": b.get("offer.received"),
        "answer ready": b.get("answer.ready"),
        "answer received": a.get("answer.received"),
        "ICE connected (both)": _both(a, b, "ice.connected"),
        "DTLS connected (both)": _both(a, b, "pc.connected"),
        "video track (both)": _both(a, b, "track.video"),
        "first remote frame (both)": _both(a, b, "remote.frame"),
    }
    steps = _segments(
        [
            ("offer made", moments["offer ready"]),
            ("offer carried (page.evaluate)", moments["offer received"]),
            ("answer made", moments["answer ready"]),
            ("answer carried (page.evaluate)", moments["answer received"]),
            ("ICE + DTLS (→ connected on both)", moments["DTLS connected (both)"]),
            ("media (→ first remote frame on both)", moments["first remote frame (both)"]),
        ],
        start,
    )
    return {
        "moments": {name: round(at - start, 2) for name, at in moments.items() if at is not None},
        "steps": steps,
    }


def medians_of(runs: list[dict[str, Any]], part: str) -> dict[str, float]:
    """Median of each moment (sorted by time) or step (in order) over the runs."""
    names: list[str] = []
    for run in runs:
        names.extend(n for n in run["milestones"][part] if n not in names)
    medians = {}
    for name in names:
        values = [run["milestones"][part][name] for run in runs if name in run["milestones"][part]]
        medians[name] = round(median(values), 1)
    if part == "moments":
        return dict(sorted(medians.items(), key=lambda item: item[1]))
    return medians


def summary(values: list[float]) -> dict[str, float]:
    return {
        "median_ms": round(median(values), 1),
        "p90_ms": round(percentile(values, 0.9), 1),
        "min_ms": round(min(values), 1),
        "max_ms": round(max(values), 1),
        "stdev_ms": round(statistics.stdev(values), 1) if len(values) > 1 else 0.0,
    }


# ------------------------------------------------------------------ the benchmark


async def measure(
    base: str,
    slug: str,
    pairs: list[tuple[str, str]],
    floor_url: str,
    *,
    runs: int,
    warmup: int,
    floors: list[str],
) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    results: dict[str, list[dict[str, Any]]] = {
        "ours": [],
        **{f"floor_{mode}": [] for mode in floors},
    }
    async with async_playwright() as playwright:
        people = (await open_person(playwright, "A"), await open_person(playwright, "B"))
        try:
            for index in range(warmup + runs):
                label = "warm-up" if index < warmup else f"run {index - warmup + 1}/{runs}"
                row = []
                ours = await run_ours(base, slug, pairs[index], people)
                row.append(f"ours {ours['ms']:7.1f} ms")
                if index >= warmup:
                    results["ours"].append({"run": index - warmup + 1, **ours})
                for mode in floors:
                    floor = await run_floor(floor_url, people, trickle=mode == "trickle")
                    row.append(f"floor ({mode}) {floor['ms']:7.1f} ms")
                    if index >= warmup:
                        results[f"floor_{mode}"].append({"run": index - warmup + 1, **floor})
                print(f"  {label:>10}: " + " · ".join(row), flush=True)
        except Exception:
            for person in people:
                if person.console:
                    print(f"--- browser console of {person.name} ---")
                    print("\n".join(person.console[-40:]))
            raise
        finally:
            for person in people:
                await person.browser.close()
    return results


def plot(results: dict[str, list[dict[str, Any]]], steps: dict[str, dict[str, float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), gridspec_kw={"width_ratios": [1, 1]})
    styles = {
        "ours": ("tab:blue", "o"),
        "floor_nontrickle": ("tab:green", "s"),
        "floor_trickle": ("tab:olive", "^"),
    }
    names = {
        "ours": "ChatSpheres call page",
        "floor_trickle": "floor: bare page, trickle ICE",
        "floor_nontrickle": "floor: bare page, non-trickle",
    }
    for key, runs in results.items():
        colour, marker = styles.get(key, ("tab:gray", "x"))
        xs = [run["run"] for run in runs]
        ys = [run["ms"] for run in runs]
        left.plot(
            xs,
            ys,
            marker=marker,
            color=colour,
            label=f"{names.get(key, key)}, median {median(ys):.0f} ms",
        )
        left.axhline(median(ys), color=colour, linestyle=":", linewidth=1)
    left.set_xlabel("run (interleaved: ours, floors, ours, floors…)")
    left.xaxis.get_major_locator().set_params(integer=True)
    left.set_ylabel("both pressed → first remote frame on both (ms)")
    left.set_ylim(bottom=0)
    left.set_title("Time to first remote frame, per run")
    left.legend(fontsize=8, loc="lower right")

    # Where the time goes: median steps, stacked, one colour per kind of step.
    cmap = plt.get_cmap("tab10")
    kinds: list[str] = []
    rows = list(steps)
    for row, key in enumerate(rows):
        left_edge = 0.0
        for name, took in steps[key].items():
            kind = name.split(" (")[0].split(":")[0]
            first = kind not in kinds
            if first:
                kinds.append(kind)
            width = max(took, 0.0)
            right.barh(
                row,
                width,
                left=left_edge,
                color=cmap(kinds.index(kind) % 10),
                edgecolor="white",
                label=kind if first else None,
            )
            left_edge += width
    right.set_yticks(
        range(len(rows)), [names.get(k, k).replace(", ", "\n") for k in rows], fontsize=8
    )
    right.set_xlabel("ms (median of each step)")
    right.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncol=4)
    right.set_title("Where the time goes")
    save_figure(fig, "connect")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 runs instead of 10 (development)")
    parser.add_argument(
        "--runs", type=int, help="measured runs of each (default 10, 3 with --quick)"
    )
    parser.add_argument(
        "--floor",
        choices=["nontrickle", "trickle", "both"],
        default="both",
        help="how the floor passes ICE candidates (default: measure both; the faster is the floor)",
    )
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 10)
    warmup = 1
    floors = ["nontrickle", "trickle"] if args.floor == "both" else [args.floor]
    began = time.monotonic()

    with scratch() as area:
        server_runs = 5 if args.quick else 10
        slug, sphere_id, pairs = make_pairs(warmup + runs + server_runs)
        load_before = os.getloadavg()
        with our_server(area) as (_process, port), floor_server() as floor_port:
            base = f"http://127.0.0.1:{port}"
            floor_url = f"http://127.0.0.1:{floor_port}/floor.html"
            print(f"connect: {runs} runs each (+{warmup} warm-up), interleaved")
            print(f"  ours on {base}, floor on {floor_url}")
            results = asyncio.run(
                measure(base, slug, pairs, floor_url, runs=runs, warmup=warmup, floors=floors)
            )
            print(f"  server only (Python clients, no browser): {server_runs} matches and relays")
            server = asyncio.run(server_only.measure(port, sphere_id, pairs[warmup + runs :]))
        load_after = os.getloadavg()

    ours_ms = [run["ms"] for run in results["ours"]]
    floor_stats = {
        key: summary([run["ms"] for run in runs_])
        for key, runs_ in results.items()
        if key != "ours"
    }
    # The floor is the fastest of the floors measured.
    floor_key = min(floor_stats, key=lambda key: floor_stats[key]["median_ms"])
    ours_stats = summary(ours_ms)
    ratio = ours_stats["median_ms"] / floor_stats[floor_key]["median_ms"]
    ratio_p90 = ours_stats["p90_ms"] / floor_stats[floor_key]["p90_ms"]
    breakdown = {key: medians_of(runs_, "moments") for key, runs_ in results.items()}
    steps = {key: medians_of(runs_, "steps") for key, runs_ in results.items()}
    elapsed = time.monotonic() - began

    print()
    print(f"  ours:  median {ours_stats['median_ms']:.0f} ms, p90 {ours_stats['p90_ms']:.0f} ms")
    for key, stats in floor_stats.items():
        print(f"  {key}: median {stats['median_ms']:.0f} ms, p90 {stats['p90_ms']:.0f} ms")
    print(
        f"  ratio ours / {floor_key}: {ratio:.2f} (median), {ratio_p90:.2f} (p90); "
        f"target ≤ {TARGET_RATIO}"
    )
    for key, moments in breakdown.items():
        print(f"  median moments after the start, {key}:")
        for name, at in moments.items():
            print(f"    {at:8.1f} ms  {name}")
    for key, parts in steps.items():
        print(f"  median steps, {key} (sum {sum(parts.values()):.0f} ms):")
        for name, took in parts.items():
            print(f"    {took:8.1f} ms  {name}")
    print(
        f"  server only: match {server['match_ms_median']:.1f} ms, "
        f"relay of a 4 KB offer {server['relay_4kb_offer_ms_median']:.2f} ms (medians)"
    )
    print(f"  load average (1 min) before {load_before[0]:.1f}, after {load_after[0]:.1f}")
    print(f"  took {elapsed:.0f} s")

    write_result(
        "connect",
        {
            "definition": (
                "From the moment both people have camera access (the page's getUserMedia has"
                " resolved and the preview painted a frame) and pressed Join call (ours: the later"
                " press; floor: the offerer starts) to the first remote video frame painted on both"
                " sides (requestVideoFrameCallback on the remote video element); timestamps are"
                " performance.timeOrigin + performance.now() in the pages."
            ),
            "runs": runs,
            "warmup_runs_discarded": warmup,
            "order": "interleaved per run: ours, then " + ", ".join(f"floor ({m})" for m in floors),
            "floor": {
                "page": "bench/connect/floor.html + floor.js",
                "modes_measured": floors,
                "used_for_ratio": floor_key.removeprefix("floor_"),
                "how": (
                    "RTCPeerConnection without ICE servers; offer and answer handed between the"
                    " pages by the benchmark with page.evaluate; nontrickle = each description"
                    " carries every host candidate (sent after ICE gathering completes); trickle ="
                    " candidates forwarded one by one through an exposed function"
                ),
            },
            "browsers": (
                "two headless Chromium (/usr/bin/chromium), one per person, fake camera and"
                " microphone"
            ),
            "ours": {**ours_stats, "per_run_ms": [round(v, 1) for v in ours_ms]},
            **{
                key: {**stats, "per_run_ms": [round(run["ms"], 1) for run in results[key]]}
                for key, stats in floor_stats.items()
            },
            "ratio_median": round(ratio, 3),
            "ratio_median_by_floor": {
                key.removeprefix("floor_"): round(ours_stats["median_ms"] / stats["median_ms"], 3)
                for key, stats in floor_stats.items()
            },
            "ratio_p90": round(ratio_p90, 3),
            "breakdown_median_ms_after_start": breakdown,
            "breakdown_median_steps_ms": steps,
            "server_only": {
                "what": (
                    "the same server, Python websockets clients instead of browsers: second"
                    " queue.join → match.found at both, and a 4 KB offer relayed between them"
                ),
                **server,
            },
            "load_average_1min": {"before": load_before[0], "after": load_after[0]},
            "per_run": results,
            "targets": [
                {
                    "name": "time to first remote frame, call page / bare trickle page (medians)",
                    "target": f"<= {TARGET_RATIO}x",
                    "value": f"{ratio:.2f}x",
                    "passed": ratio <= TARGET_RATIO,
                }
            ],
            "elapsed_seconds": round(elapsed, 1),
        },
    )
    plot(results, steps)


if __name__ == "__main__":
    main()
