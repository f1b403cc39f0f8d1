"""A ring: from the "Call now" press to the ringing card painted on the other person's tab.

Two members who are connections, each in their own headless Chromium. The
callee's tab is on the spheres list (any page will do). The caller opens
People and presses "Call now" on the callee: the call page loads, opens its
socket and sends ``ring.start``; the server saves the ring and tells every
tab of the callee, which shows the ringing card. Start: the click on the
link (a capture listener, before navigation). End: the card painted on the
callee's page (``data-painted-at``, stamped by ringing.js in the first
animation frame after the card was added). Both are
``performance.timeOrigin + performance.now()``, one clock for both browsers on
this machine. The callee then presses Escape (Decline) and the caller's page
says so, before the next run.

The caller's page also stamps its steps (bench/ring/instrument.js): the call
page's navigation start, its DOM ready, the socket open, ``ready``,
``ring.start`` sent and ``ring.ringing`` back; the callee's page stamps
``ring.incoming`` received. Their medians break the latency down.

Runs: 20 (5 with --quick) after 2 discarded warm-ups, one server process
(`make run`), SQLite, no Redis.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

from bench.common import (
    MARKS_JS,
    open_page,
    our_server,
    runs_arguments,
    scratch,
    session_cookies,
    write_press_result,
)

SCRIPTS = (MARKS_JS, Path(__file__).resolve().parent / "instrument.js")
TARGET_P50_MS = 150.0
STEP_TIMEOUT_MS = 30_000  # every wait in a run is bounded by this
WARM_UP = 2

CARD_PAINTED = "() => document.querySelector('[role=alertdialog][data-painted-at]') !== null"
CARD_PAINTED_AT = (
    "() => Number(document.querySelector('[role=alertdialog][data-painted-at]').dataset.paintedAt)"
)
MARKS = "() => window.__bench.marks"
NAVIGATION = """() => {
  const [entry] = performance.getEntriesByType("navigation");
  return { start: performance.timeOrigin, responseEnd: performance.timeOrigin + entry.responseEnd };
}"""


def make_pair() -> tuple[str, str, str, int]:
    """Two connected members (they talked, both wished to talk again): cookies, handle, id."""
    from chatspheres.accounts.models import User
    from chatspheres.accounts.services import profile_create
    from chatspheres.calls.services import (
        conversation_end,
        conversation_reflect,
        conversation_start,
    )
    from chatspheres.connections.services import talk_again_wish
    from chatspheres.spheres.services import sphere_join, sphere_upsert

    sphere = sphere_upsert(
        slug="ring-bench", name="Ring Bench", tagline="", description="Where the two first met."
    )
    caller, callee = (
        User.objects.create_user(email=f"{name}@bench.invalid", password=None)
        for name in ("caller", "callee")
    )
    for user, name in ((caller, "Ana Bench"), (callee, "Ben Bench")):
        profile_create(user=user, display_name=name, adult_confirmed=True)
        sphere_join(user=user, sphere=sphere)
    conversation = conversation_start(
        sphere_id=sphere.pk,
        a_user_id=caller.pk,
        a_tab="bench-a",
        b_user_id=callee.pk,
        b_tab="bench-b",
        shared_interests=[],
    )
    conversation_end(conversation=conversation, by_user_id=caller.pk, reason="ended")
    for user in (caller, callee):
        conversation_reflect(conversation=conversation, user_id=user.pk, rating="good")
    talk_again_wish(wisher_id=caller.pk, about_id=callee.pk)
    talk_again_wish(wisher_id=callee.pk, about_id=caller.pk)
    caller_cookie, callee_cookie = session_cookies([caller.pk, callee.pk])
    callee.profile.refresh_from_db()
    return caller_cookie, callee_cookie, callee.profile.handle, callee.pk


def callee_online(user_id: int) -> bool:
    from chatspheres.presence.selectors import is_online

    return is_online(user_id=user_id)


async def one_ring(caller: Any, callee: Any, handle: str) -> dict[str, Any]:
    """Press Call now, wait for the card on the other page, decline; the times of each step."""
    from playwright.async_api import expect

    await callee.evaluate("() => { window.__bench.marks = {}; }")
    await caller.goto("/people/")
    call_now = caller.locator(f"a[href='/call/{handle}/']").first
    await call_now.wait_for(timeout=STEP_TIMEOUT_MS)
    await call_now.click()
    await callee.wait_for_function(CARD_PAINTED, timeout=STEP_TIMEOUT_MS, polling="raf")
    painted = await callee.evaluate(CARD_PAINTED_AT)
    callee_marks = await callee.evaluate(MARKS)
    await caller.wait_for_function(
        "() => 'recv.ring.ringing' in window.__bench.marks", timeout=STEP_TIMEOUT_MS
    )
    caller_marks = await caller.evaluate(MARKS)
    navigation = await caller.evaluate(NAVIGATION)
    press = caller_marks["press"]
    # Decline, and see the caller told, so the next ring starts from rest.
    await callee.keyboard.press("Escape")
    await expect(
        caller.get_by_role("heading", name="Ben Bench can't talk right now.")
    ).to_be_visible(timeout=STEP_TIMEOUT_MS)
    moments = {
        "call page navigation starts": navigation["start"],
        "call page received": navigation["responseEnd"],
        "call page DOM ready": caller_marks.get("dom.ready"),
        "socket opening": caller_marks.get("ws.connecting"),
        "socket open": caller_marks.get("ws.open"),
        "ready received": caller_marks.get("recv.ready"),
        "ring.start sent": caller_marks.get("send.ring.start"),
        "ring.incoming received (callee)": callee_marks.get("recv.ring.incoming"),
        "card painted (callee)": painted,
        "ring.ringing received (caller)": caller_marks.get("recv.ring.ringing"),
    }
    return {
        "ms": painted - press,
        "moments": {name: round(at - press, 2) for name, at in moments.items() if at is not None},
    }


async def measure(
    base: str, cookies: tuple[str, str], handle: str, user_id: int, runs: int
) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        caller_browser, caller = await open_page(playwright, base, cookies[0], scripts=SCRIPTS)
        callee_browser, callee = await open_page(playwright, base, cookies[1], scripts=SCRIPTS)
        try:
            await callee.goto("/spheres/")
            for _ in range(300):  # bounded: presence is written within a second or two
                if await asyncio.to_thread(callee_online, user_id):
                    break
                await asyncio.sleep(0.05)
            else:
                raise RuntimeError("the callee never showed as online")
            results = []
            for index in range(WARM_UP + runs):
                result = await one_ring(caller, callee, handle)
                if index >= WARM_UP:
                    results.append(result)
                    print(f"  run {index - WARM_UP + 1:2d}: {result['ms']:6.1f} ms")
            return results
        finally:
            await caller_browser.close()
            await callee_browser.close()


def main() -> None:
    args = runs_arguments(__doc__.splitlines()[0])
    runs = args.runs
    began = time.monotonic()
    with scratch() as area:
        caller_cookie, callee_cookie, handle, callee_id = make_pair()
        load_before = os.getloadavg()
        with our_server(area) as (_process, port):
            base = f"http://127.0.0.1:{port}"
            print(f"ring: {runs} runs (+{WARM_UP} warm-up) on {base}")
            results = asyncio.run(
                measure(base, (caller_cookie, callee_cookie), handle, callee_id, runs)
            )
        load_after = os.getloadavg()

    write_press_result(
        "ring",
        results,
        args=args,
        warm_up=WARM_UP,
        target_p50_ms=TARGET_P50_MS,
        load=(load_before, load_after),
        began=began,
        headline="press → card painted",
        target_name="a ring: from the Call now press to the ringing card painted",
        notes_tail=(
            ". Most of it is the browser loading the call page and the socket's"
            " handshake; the server's own work for ring.start (saving the ring, telling"
            " the callee's tabs) is a few milliseconds of the step from ring.start sent to"
            " ring.incoming received."
        ),
        figures={
            "definition": (
                'From the click on "Call now" (People page, caller\'s browser) to the ringing card'
                " painted on the callee's tab on another page (callee's browser): both"
                " performance.timeOrigin + performance.now(), one clock on this machine. The"
                " caller's click loads the call page, which opens its socket and sends ring.start."
            ),
            "server": "one process (python -m chatspheres.server), SQLite, no Redis",
            "browsers": "two headless Chromium (/usr/bin/chromium), one per person",
        },
    )


if __name__ == "__main__":
    main()
