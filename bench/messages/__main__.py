"""Messages: from the "Send message" press to the message painted on the other's open tab, on
one process and through Redis with two; and the thread page of a 10,000-message thread.

Delivery: two members who talked once, each in their own headless Chromium on
the thread page of the other. Run after run, one of them (the two take
turns) types a message and presses "Send message": the page sends it over
its open socket (``message.send``), the server saves it and, on commit, sends
``message.new`` to both people's tabs, then answers the sender
(``message.sent``); the other's page paints it. Start: the click (a capture
listener, before the page's handler). End: ``data-painted-at`` on the
message on the other's page, stamped by messages.js in the first animation
frame after it was placed. Both are ``performance.timeOrigin +
performance.now()``, one clock for both browsers on this machine. Then the
same with two server processes sharing a Redis of the benchmark's own, each
person on a different process.

Thread page: the newest page of a thread of 10,000 messages, rendered in
this process through Django's test client (no network), timed over 50 runs
after 5 warm-ups, with its number of queries (the same for 100 messages).
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import (
    MARKS_JS,
    median,
    open_page,
    our_server,
    percentile,
    redis_server,
    runs_arguments,
    scratch,
    session_cookies,
    write_result,
)

SCRIPTS = (MARKS_JS, Path(__file__).resolve().parent / "instrument.js")
TARGET_P50_MS = 20.0
TARGET_REDIS_P50_MS = 40.0
TARGET_PAGE_P50_MS = 10.0
STEP_TIMEOUT_MS = 30_000
WARM_UP = 3
PAGE_RUNS = 50
THREAD_SIZE = 10_000

ITEM = "document.querySelector(`#thread-log [data-message-id='${id}']`)"
PAINTED = f"(id) => {ITEM}?.dataset.paintedAt !== undefined"
PAINTED_AT = f"(id) => Number({ITEM}.dataset.paintedAt)"
KEY = "() => document.querySelector(\"#compose input[name='key']\").value"
SAVED = (
    "(key) => Number(document.querySelector(`#thread-log [data-key='${key}']`)"
    "?.dataset.messageId) || 0"
)
MARKS = "() => window.__bench.marks"
RESET = "() => { window.__bench.marks = {}; }"


def make_people() -> dict[str, Any]:
    """Two pairs who talked once: one to write live, one with a thread of 10,000 messages."""
    from django.utils import timezone

    from chatspheres.accounts.models import User
    from chatspheres.accounts.services import profile_create
    from chatspheres.calls.services import conversation_end, conversation_start
    from chatspheres.messaging.models import Message, Thread, ThreadMember
    from chatspheres.spheres.services import sphere_upsert

    sphere = sphere_upsert(slug="messages-bench", name="Messages Bench", tagline="", description="")
    people = {}
    for name in ("ana", "ben", "cai", "dee"):
        user = User.objects.create_user(email=f"{name}@bench.invalid", password=None)
        profile = profile_create(
            user=user, display_name=f"{name.title()} Bench", adult_confirmed=True
        )
        people[name] = (user, profile)
    for a, b in (("ana", "ben"), ("cai", "dee")):
        conversation = conversation_start(
            sphere_id=sphere.pk,
            a_user_id=people[a][0].pk,
            a_tab=f"tab-{a}",
            b_user_id=people[b][0].pk,
            b_tab=f"tab-{b}",
            shared_interests=[],
        )
        conversation_end(conversation=conversation, by_user_id=people[a][0].pk, reason="ended")
    cai, dee = people["cai"][0], people["dee"][0]
    low, high = sorted((cai.pk, dee.pk))
    thread = Thread.objects.create(low_id=low, high_id=high)
    Message.objects.bulk_create(
        Message(
            thread=thread,
            sender=cai if n % 2 else dee,
            body=f"Message number {n}: how did the week go? https://example.org/{n}",
            client_key=f"bench-{n:08d}",
        )
        for n in range(THREAD_SIZE)
    )
    newest = Message.objects.filter(thread=thread).order_by("-id").values_list("id", flat=True)[0]
    now = timezone.now()
    ThreadMember.objects.bulk_create(
        [
            ThreadMember(thread=thread, user=cai, other=dee, read_upto=newest, last_message_at=now),
            ThreadMember(thread=thread, user=dee, other=cai, read_upto=newest, last_message_at=now),
        ]
    )
    ana_cookie, ben_cookie = session_cookies([people["ana"][0].pk, people["ben"][0].pk])
    return {
        "cookies": (ana_cookie, ben_cookie),
        "handles": (people["ana"][1].handle, people["ben"][1].handle),
        "reader": cai,
        "reader_of": people["dee"][1].handle,
    }


def thread_page_figures(reader: Any, other_handle: str) -> dict[str, Any]:
    """Time the newest page of the 10,000-message thread; count its queries."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(reader)
    url = f"/messages/{other_handle}/"
    for _ in range(5):
        assert client.get(url).status_code == 200
    timings = []
    for _ in range(PAGE_RUNS):
        started = time.perf_counter()
        client.get(url)
        timings.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return {
        "p50_ms": round(median(timings), 2),
        "p90_ms": round(percentile(timings, 0.9), 2),
        "queries": len(captured),
        "messages_in_thread": THREAD_SIZE,
    }


async def one_send(writer: Any, reader: Any, text: str) -> dict[str, Any]:
    for page in (writer, reader):
        await page.evaluate(RESET)
    await writer.get_by_role("textbox", name="Write a message").fill(text)
    key = await writer.evaluate(KEY)
    await writer.get_by_role("button", name="Send message").click()
    # The writer's page places its message under the key once the server answered.
    await writer.wait_for_function(SAVED, arg=key, timeout=STEP_TIMEOUT_MS)
    message_id = await writer.evaluate(SAVED, key)
    await reader.wait_for_function(PAINTED, arg=message_id, timeout=STEP_TIMEOUT_MS, polling="raf")
    painted = await reader.evaluate(PAINTED_AT, message_id)
    writer_marks = await writer.evaluate(MARKS)
    reader_marks = await reader.evaluate(MARKS)
    press = writer_marks["press"]
    moments = {
        "message.send sent": writer_marks.get("send.message.send"),
        "message.new received (other)": reader_marks.get("recv.message.new"),
        "painted (other)": painted,
        "message.new received (own tab)": writer_marks.get("recv.message.new"),
    }
    return {
        "ms": painted - press,
        "moments": {name: round(at - press, 1) for name, at in moments.items() if at},
    }


async def measure(
    bases: tuple[str, str], people: dict[str, Any], runs: int
) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    ana_cookie, ben_cookie = people["cookies"]
    ana_handle, ben_handle = people["handles"]
    async with async_playwright() as playwright:
        ana_browser, ana = await open_page(playwright, bases[0], ana_cookie, scripts=SCRIPTS)
        ben_browser, ben = await open_page(playwright, bases[1], ben_cookie, scripts=SCRIPTS)
        try:
            for page, handle in ((ana, ben_handle), (ben, ana_handle)):
                answer = await page.goto(f"/messages/{handle}/")
                if answer is None or answer.status != 200 or "/messages/" not in page.url:
                    raise RuntimeError(f"the thread page did not open: {page.url}")
            for page in (ana, ben):
                await page.wait_for_function(
                    "() => window.__bench !== undefined", timeout=STEP_TIMEOUT_MS
                )
            await asyncio.sleep(1)  # both sockets open and ready
            results = []
            for index in range(WARM_UP + runs):
                writer, reader = (ana, ben) if index % 2 == 0 else (ben, ana)
                result = await one_send(writer, reader, f"Run {index}: no hurry, how was it?")
                if index >= WARM_UP:
                    results.append(result)
                    number = index - WARM_UP + 1
                    print(f"  run {number:2d}: {result['ms']:6.1f} ms {result['moments']}")
            return results
        finally:
            await ana_browser.close()
            await ben_browser.close()


def summary(results: list[dict[str, Any]], target: float) -> dict[str, Any]:
    latencies = [result["ms"] for result in results]
    steps = {
        step: round(median([run["moments"][step] for run in results if step in run["moments"]]), 1)
        for step in results[0]["moments"]
    }
    p50 = median(latencies)
    return {
        "p50_ms": round(p50, 1),
        "p90_ms": round(percentile(latencies, 0.9), 1),
        "min_ms": round(min(latencies), 1),
        "max_ms": round(max(latencies), 1),
        "mean_ms": round(statistics.fmean(latencies), 1),
        "per_run_ms": [round(value, 1) for value in latencies],
        "target_p50_ms": target,
        "meets_target": p50 <= target,
        "median_moments_after_press_ms": steps,
    }


def main() -> None:
    args = runs_arguments(__doc__.splitlines()[0])
    began = time.monotonic()
    with scratch() as area:
        env = {"RATE_LIMIT_MESSAGE": "1000000000/s", "RATE_LIMIT_MESSAGE_LINK": "1000000000/s"}
        area_env = area.env
        area_env.update(env)
        os.environ.update(env)
        people = make_people()
        page = thread_page_figures(people["reader"], people["reader_of"])
        print(
            f"messages: thread page of {THREAD_SIZE} messages p50 {page['p50_ms']} ms,"
            f" {page['queries']} queries"
        )
        load_before = os.getloadavg()
        with our_server(area, env=env) as (_process, port):
            base = f"http://127.0.0.1:{port}"
            print(f"messages: {args.runs} sends (+{WARM_UP} warm-up), one process")
            one = asyncio.run(measure((base, base), people, args.runs))
        with (
            redis_server() as redis,
            our_server(area, env={**env, "REDIS_URL": redis.url}) as (_p1, port1),
            our_server(area, env={**env, "REDIS_URL": redis.url}) as (_p2, port2),
        ):
            bases = (f"http://127.0.0.1:{port1}", f"http://127.0.0.1:{port2}")
            print(f"messages: {args.runs} sends (+{WARM_UP} warm-up), two processes and Redis")
            two = asyncio.run(measure(bases, people, args.runs))
        load_after = os.getloadavg()
    one_figures, two_figures = summary(one, TARGET_P50_MS), summary(two, TARGET_REDIS_P50_MS)
    print(
        f"  send → painted: one process p50 {one_figures['p50_ms']} ms,"
        f" two with Redis p50 {two_figures['p50_ms']} ms"
    )
    print(f"  took {time.monotonic() - began:.0f} s")
    write_result(
        "messages",
        {
            "definition": (
                'From the click on "Send message" (one person\'s thread page) to the message'
                " painted on the other person's open thread page (the other browser): both"
                " performance.timeOrigin + performance.now(), one clock on this machine. The"
                " page sends the message over its open socket (message.send); the server saves"
                " it, on commit sends message.new to both people's tabs, then answers the"
                " sender (message.sent)."
            ),
            "browsers": "two headless Chromium (/usr/bin/chromium), one per person",
            "runs": args.runs,
            "warmup_runs_discarded": WARM_UP,
            "quick": bool(args.quick),
            "one_process": one_figures,
            "two_processes_redis": {**two_figures, "redis": redis.version},
            "thread_page": {**page, "target_p50_ms": TARGET_PAGE_P50_MS},
            "targets": [
                {
                    "name": "a message: send → painted on the other's tab, one process",
                    "target": f"p50 at most {TARGET_P50_MS:.0f} ms",
                    "value": one_figures["p50_ms"],
                    "passed": one_figures["meets_target"],
                },
                {
                    "name": "a message: send → painted, two processes through Redis",
                    "target": f"p50 at most {TARGET_REDIS_P50_MS:.0f} ms",
                    "value": two_figures["p50_ms"],
                    "passed": two_figures["meets_target"],
                },
                {
                    "name": f"the thread page of {THREAD_SIZE:,} messages (in process)",
                    "target": f"p50 at most {TARGET_PAGE_P50_MS:.0f} ms",
                    "value": page["p50_ms"],
                    "passed": page["p50_ms"] <= TARGET_PAGE_P50_MS,
                },
            ],
            "notes": [
                f"The thread page takes {page['queries']} queries with {THREAD_SIZE:,} messages,"
                " the same as with a hundred (tests/messaging/test_queries.py).",
                f"Load average (1 min) {load_before[0]:.1f} before and {load_after[0]:.1f} after"
                " the run, on a shared 2-core machine.",
            ],
        },
    )


if __name__ == "__main__":
    main()
