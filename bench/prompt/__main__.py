"""A prompt: from the "Draw a prompt" press to the card painted on the partner's screen.

Two members, each in their own headless Chromium, meet in a sphere (both
open the call page and press "Join call"). Then, run after run, one of them
presses "Draw a prompt" (the two take turns): the page sends ``prompt.draw``,
the server draws a card, saves it with the conversation and, once that is
committed, sends ``prompt.card`` to both tabs; the partner's page paints the
card. Start: the click on the button (a capture listener, before the page's
own handler). End: the card painted on the partner's page (``data-painted-at``
on the card's text, stamped by prompts.js in the first animation frame after
the card was shown). Both are ``performance.timeOrigin + performance.now()``,
one clock for both browsers on this machine.

The drawing page also stamps ``prompt.draw`` sent and its own ``prompt.card``
back; the partner's page stamps ``prompt.card`` received. Their medians break
the latency down.

The bench sphere has a deck of its own with enough warm-up prompts for every
run (a pair never draws a prompt twice). Runs: 20 (5 with --quick) after 2
discarded warm-ups, one server process (`make run`), SQLite, no Redis.
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
TARGET_P50_MS = 100.0
STEP_TIMEOUT_MS = 30_000  # every wait in a run is bounded by this
WARM_UP = 2
SPHERE_SLUG = "prompt-bench"
BENCH_PROMPTS = 200

CARD_PAINTED = "() => document.querySelector('#prompt-text[data-painted-at]') !== null"
CARD_PAINTED_AT = "() => Number(document.querySelector('#prompt-text').dataset.paintedAt)"
CARD_TEXT = "() => document.querySelector('#prompt-text').textContent"
MARKS = "() => window.__bench.marks"
RESET = """() => {
  window.__bench.marks = {};
  delete document.querySelector('#prompt-text').dataset.paintedAt;
}"""


def make_pair() -> tuple[str, str]:
    """Two members of the bench sphere, whose deck has a warm-up prompt for every run; cookies."""
    from chatspheres.accounts.models import User
    from chatspheres.accounts.services import profile_create
    from chatspheres.prompts.models import Deck, Prompt
    from chatspheres.prompts.services import prompts_load_shipped
    from chatspheres.spheres.services import sphere_join, sphere_upsert

    sphere = sphere_upsert(
        slug=SPHERE_SLUG, name="Prompt Bench", tagline="", description="Where the two meet."
    )
    prompts_load_shipped()
    deck = Deck.objects.create(sphere=sphere, name="Prompt Bench")
    Prompt.objects.bulk_create(
        Prompt(deck=deck, depth=1, text=f"Tell me about the {n}th thing you noticed today.")
        for n in range(BENCH_PROMPTS)
    )
    users = [
        User.objects.create_user(email=f"{name}@bench.invalid", password=None)
        for name in ("drawer", "partner")
    ]
    for user, name in zip(users, ("Ana Bench", "Ben Bench"), strict=True):
        profile_create(user=user, display_name=name, adult_confirmed=True)
        sphere_join(user=user, sphere=sphere)
    first, second = session_cookies([user.pk for user in users])
    return first, second


async def meet(first: Any, second: Any) -> None:
    """Both open the call page and join; the Prompt card is ready on both once they are matched."""
    for page in (first, second):
        await page.goto(f"/spheres/{SPHERE_SLUG}/call/")
        await page.get_by_role("button", name="Join call").wait_for(timeout=STEP_TIMEOUT_MS)
        await page.wait_for_function(
            "() => !document.querySelector('#join-button').disabled", timeout=STEP_TIMEOUT_MS
        )
    await first.get_by_role("button", name="Join call").click()
    await first.get_by_role("button", name="Cancel").wait_for(timeout=STEP_TIMEOUT_MS)
    await second.get_by_role("button", name="Join call").click()
    for page in (first, second):
        await page.wait_for_function(
            "() => !document.querySelector('#prompt-draw').disabled", timeout=STEP_TIMEOUT_MS
        )


async def one_draw(drawer: Any, partner: Any) -> dict[str, Any]:
    """Press Draw a prompt on one page, wait for the card painted on the other; each step's time."""
    for page in (drawer, partner):
        await page.evaluate(RESET)
    await drawer.get_by_role("button", name="Draw a prompt").click()
    await partner.wait_for_function(CARD_PAINTED, timeout=STEP_TIMEOUT_MS, polling="raf")
    painted = await partner.evaluate(CARD_PAINTED_AT)
    await drawer.wait_for_function(CARD_PAINTED, timeout=STEP_TIMEOUT_MS, polling="raf")
    if await drawer.evaluate(CARD_TEXT) != await partner.evaluate(CARD_TEXT):
        raise RuntimeError("the two screens show different cards")
    drawer_marks = await drawer.evaluate(MARKS)
    partner_marks = await partner.evaluate(MARKS)
    press = drawer_marks["press"]
    moments = {
        "prompt.draw sent": drawer_marks.get("send.prompt.draw"),
        "prompt.card received (partner)": partner_marks.get("recv.prompt.card"),
        "card painted (partner)": painted,
        "prompt.card received (drawer)": drawer_marks.get("recv.prompt.card"),
        "card painted (drawer)": await drawer.evaluate(CARD_PAINTED_AT),
    }
    return {
        "ms": painted - press,
        "moments": {name: round(at - press, 2) for name, at in moments.items() if at is not None},
    }


async def measure(base: str, cookies: tuple[str, str], runs: int) -> list[dict[str, Any]]:
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        first_browser, first = await open_page(playwright, base, cookies[0], scripts=SCRIPTS)
        second_browser, second = await open_page(playwright, base, cookies[1], scripts=SCRIPTS)
        try:
            await meet(first, second)
            results = []
            for index in range(WARM_UP + runs):
                # The two take turns drawing.
                drawer, partner = (first, second) if index % 2 == 0 else (second, first)
                result = await one_draw(drawer, partner)
                if index >= WARM_UP:
                    results.append(result)
                    print(f"  run {index - WARM_UP + 1:2d}: {result['ms']:6.1f} ms")
            return results
        finally:
            await first_browser.close()
            await second_browser.close()


def main() -> None:
    args = runs_arguments(__doc__.splitlines()[0])
    runs = args.runs
    began = time.monotonic()
    with scratch() as area:
        cookies = make_pair()
        load_before = os.getloadavg()
        with our_server(area) as (_process, port):
            base = f"http://127.0.0.1:{port}"
            print(f"prompt: {runs} runs (+{WARM_UP} warm-up) on {base}")
            results = asyncio.run(measure(base, cookies, runs))
        load_after = os.getloadavg()

    write_press_result(
        "prompt",
        results,
        args=args,
        warm_up=WARM_UP,
        target_p50_ms=TARGET_P50_MS,
        load=(load_before, load_after),
        began=began,
        headline="press → card painted on the partner's screen",
        target_name="a prompt: from Draw a prompt to the card on the partner's screen",
        notes_tail=".",
        figures={
            "definition": (
                'From the click on "Draw a prompt" (one person\'s call page) to the card painted'
                " on the partner's call page (the other browser): both performance.timeOrigin +"
                " performance.now(), one clock on this machine. The click sends prompt.draw;"
                " the server draws, saves the card with the conversation and, on commit, sends"
                " prompt.card to both tabs."
            ),
            "server": "one process (python -m chatspheres.server), SQLite, no Redis",
            "browsers": "two headless Chromium (/usr/bin/chromium), one per person, in a call",
        },
    )


if __name__ == "__main__":
    main()
