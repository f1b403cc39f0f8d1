"""Browser journeys: one real Chromium per participant, with a fake camera and microphone.

Chromium comes from the system (``CHATSPHERES_CHROMIUM``, else ``/usr/bin/chromium``);
``playwright install`` is never needed. Without it the journeys are skipped, except
under ``CI=true`` where a missing browser is a failure.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from tests.browser.chromium import CHROMIUM_FLAGS, find_chromium

PASSWORD = "a-long-test-password-42"
BROWSER_TIME_ZONE = "America/Sao_Paulo"

T = TypeVar("T")


def run_outside_playwright(fn: Callable[[], T]) -> T:
    """Run ``fn`` (ORM code) on a fresh thread.

    While Playwright's sync API is active, the test thread looks like it is
    inside an event loop, and Django refuses database calls there.
    """

    def call() -> T:
        from django.db import connections

        try:
            return fn()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


@pytest.fixture(scope="session")
def chromium_executable() -> str:
    """The system Chromium, or a skip (a failure under CI=true) with the reason."""
    path, reason = find_chromium()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def playwright(chromium_executable: str, live_server: Any) -> Iterator[Playwright]:
    """Playwright for one test; it stops before the live server and its database go away."""
    with sync_playwright() as instance:
        yield instance


@pytest.fixture
def screenshot() -> Callable[[Page, str], None]:
    """Save a full-page screenshot to $CHATSPHERES_SCREENSHOTS, when it is set."""
    folder = os.environ.get("CHATSPHERES_SCREENSHOTS")

    def take(page: Page, name: str) -> None:
        if not folder:
            return
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


@pytest.fixture
def call_sphere(live_server: Any) -> Any:
    """A sphere of its own for each journey, made through the ORM."""
    from chatspheres.spheres.models import Sphere

    slug = f"journey-{uuid.uuid4().hex[:8]}"
    return run_outside_playwright(
        lambda: Sphere.objects.create(
            slug=slug, name="Night Owls", description="People who talk best after dark."
        )
    )


@dataclass
class Participant:
    """One person: their own browser, context (camera and mic granted) and page."""

    name: str
    email: str
    browser: Browser
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)

    def sign_up(self) -> None:
        page = self.page
        page.goto("/accounts/signup/")
        page.get_by_label("Email", exact=True).fill(self.email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("Display name", exact=True).fill(self.name)
        page.get_by_label("I am 18 or older").check()
        page.get_by_role("button", name="Sign up").click()
        # Sign-up ends on "Check your email", taken address or not (decision
        # 0006); with verification optional the new account logs in at once.
        expect(page.get_by_role("heading", name="Check your email")).to_be_visible()
        page.goto("/accounts/login/")
        page.get_by_label("Email", exact=True).fill(self.email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_load_state()

    def open_call_page(self, slug: str) -> None:
        """Join the sphere, then press "Start a conversation" to reach the call page."""
        page = self.page
        page.goto(f"/spheres/{slug}/")
        page.get_by_role("button", name="Join sphere").click()
        expect(page.get_by_role("button", name="Leave sphere")).to_be_visible(timeout=10_000)
        page.get_by_role("button", name="Start a conversation").click()
        page.wait_for_url(re.compile(rf"/spheres/{re.escape(slug)}/call/"), timeout=10_000)


@pytest.fixture
def participant(
    playwright: Playwright, chromium_executable: str, live_server: Any
) -> Iterator[Callable[..., Participant]]:
    """Make participants; each gets a browser of its own, closed after the test."""
    made: list[Participant] = []

    def make(
        name: str,
        base_url: str | None = None,
        extra_args: Sequence[str] = (),
        time_zone: str = BROWSER_TIME_ZONE,
    ) -> Participant:
        """A person in a browser of their own, on the test server or the one at ``base_url``.

        ``extra_args`` go to this person's Chromium only (e.g. a fake microphone's sound file);
        ``time_zone`` is the browser's, which sign-up puts on the profile.
        """
        browser = playwright.chromium.launch(
            executable_path=chromium_executable, args=[*CHROMIUM_FLAGS, *extra_args], headless=True
        )
        context = browser.new_context(
            base_url=base_url or live_server.url,
            permissions=["camera", "microphone"],
            viewport={"width": 1280, "height": 800},
            # Sign-up takes the time zone from the browser; this one is not the server's.
            timezone_id=time_zone,
        )
        page = context.new_page()
        person = Participant(
            name=name,
            email=f"{name.split()[0].lower()}-{uuid.uuid4().hex[:8]}@example.com",
            browser=browser,
            context=context,
            page=page,
        )
        page.on("console", lambda msg: person.console.append(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda error: person.console.append(f"[pageerror] {error}"))
        made.append(person)
        return person

    yield make

    for person in made:
        if person.console:
            print(f"--- browser console of {person.name} ---")
            print("\n".join(person.console))
        person.browser.close()


def cut_connections(user_id: int) -> list[str]:
    """Abort the TCP connection of every socket the member has on the test server.

    The live server runs in this process, so the test reaches its runtime and
    drops the sockets the way a network failure would: no close frame, the
    browser sees 1006 and the server loses the tab (it may come back). Returns
    the ids of the tabs cut.
    """
    import asyncio

    from chatspheres.realtime import runtime

    server = runtime.current()
    loop = server._loop
    assert loop is not None, "the test server's real-time runtime is not running"

    async def cut() -> list[str]:
        cut_tabs = []
        for tab in list(server.tabs.values()):
            if tab.user_id != user_id or tab.closed:
                continue
            assert tab.lane is not None, "cutting a socket needs the fast lane's transport"
            tab.lane.transport.abort()
            cut_tabs.append(tab.id)
        return cut_tabs

    return asyncio.run_coroutine_threadsafe(cut(), loop).result(timeout=10)


def say(sender: Participant, receiver: Participant, text: str) -> None:
    """Type a line in the call's chat and press Send; it must reach the other side."""
    sender.page.get_by_label("Message").fill(text)
    sender.page.get_by_role("button", name="Send").click()
    expect(receiver.page.get_by_role("log")).to_contain_text(text, timeout=10_000)
