"""Steps shared by the browser tests."""

from __future__ import annotations

from playwright.sync_api import Page

from tests.conftest import DEMO_PASSWORD


def sign_in(page: Page, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form, as a person would."""
    page.goto("/masuk")
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(password)
    page.get_by_role("button", name="Masuk").click()
    page.wait_for_url(lambda url: "/masuk" not in url)
