"""The public pages and the profile's account section on a phone: they fit, axe finds nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.axe import assert_no_axe_violations
from tests.browser.chromium import CHROMIUM_FLAGS
from tests.browser.conftest import run_outside_playwright
from tests.conftest import make_member

PHONE = {"width": 390, "height": 844}


def fits_the_width(page: Page) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} is {overflow}px wider than the phone"


def test_pages_and_the_account_section_fit_a_phone_and_pass_axe(
    playwright: Any,
    chromium_executable: str,
    live_server: Any,
    screenshot: Callable[[Page, str], None],
) -> None:
    run_outside_playwright(lambda: make_member("ana@example.com", name="Ana"))
    browser = playwright.chromium.launch(
        executable_path=chromium_executable, args=CHROMIUM_FLAGS, headless=True
    )
    try:
        page = browser.new_context(base_url=live_server.url, viewport=PHONE).new_page()
        for path, heading in [
            ("/guidelines/", "Community guidelines"),
            ("/terms/", "Terms"),
            ("/privacy/", "Privacy"),
            ("/contact/", "Contact"),
        ]:
            page.goto(path)
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            fits_the_width(page)
            assert_no_axe_violations(page, heading)
        screenshot(page, "privacy-phone")

        page.goto("/accounts/login/")
        page.get_by_label("Email", exact=True).fill("ana@example.com")
        page.get_by_label("Password", exact=True).fill("a-long-test-password")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/spheres/")
        page.goto("/profile/")
        account = page.get_by_role("region", name="Your account")
        for name in ("Change email", "Change password", "Download my data", "Delete my account"):
            expect(account.get_by_role("link", name=name, exact=True)).to_be_visible()
        fits_the_width(page)
        assert_no_axe_violations(page, "profile")
        account.scroll_into_view_if_needed()
        screenshot(page, "profile-account-phone")

        with page.expect_download() as download:
            account.get_by_role("link", name="Download my data").click()
        assert download.value.suggested_filename.startswith("chatspheres-data-")

        account.get_by_role("link", name="Delete my account").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Delete my account")
        fits_the_width(page)
        assert_no_axe_violations(page, "delete my account")
        page.get_by_label("Your email address").fill("ana@example.com")
        page.get_by_label("Your password").fill("not my password")
        page.get_by_role("button", name="Delete my account").click()
        expect(page.get_by_role("alert")).to_contain_text(
            "That is not your email address and password, so nothing was deleted."
        )
    finally:
        browser.close()
