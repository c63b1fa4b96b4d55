"""The desk signs in, reads the plan of the 12 kecamatan, and switches to English."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP
from tests.browser.helpers import sign_in


def test_desk_sees_the_12_kecamatan_then_english(
    page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/masuk\?next=/"))  # anonymous: the login form
    screenshot(page, "login-phone")
    sign_in(page, "desk")
    expect(page).to_have_url(re.compile(r"/desk$"))  # the desk lands on its own page
    page.goto("/rencana")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Rencana kebutuhan logistik")
    expect(page.locator("#needs tbody tr")).to_have_count(12)
    expect(page.locator("#needs")).to_contain_text("Tewah")
    expect(page.locator(".stats")).to_contain_text("89.540")
    screenshot(page, "plan-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "plan-desktop")

    page.get_by_role("link", name="EN", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Logistics needs plan")
    expect(page.locator(".stats")).to_contain_text("89,540")
    expect(page.locator("#needs tbody tr")).to_have_count(12)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
