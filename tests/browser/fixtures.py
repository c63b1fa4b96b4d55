"""Browser fixtures shared by every test that drives Chromium (a plugin of tests/conftest.py).

One Playwright session serves the whole run: a second ``sync_playwright()`` in the same
process would fail, so tests anywhere import nothing from here and just name the fixtures.
The server runs ``demo_app``: the Gunung Mas demo on a private copy of the test database
(SQLite or PostgreSQL, like every database test), demo accounts' password DEMO_PASSWORD.
Chromium is Debian's (/usr/bin/chromium): Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from werkzeug.serving import make_server

from tests.web.helpers import compile_translations

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole run."""
    if not Path(CHROMIUM).exists():
        # A skipped browser test is not a passing one: `make test` installs Chromium.
        pytest.fail(
            f"{CHROMIUM} is missing: run `make test` (it installs chromium) "
            "or apt-get install chromium"
        )
    compile_translations()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def live_server(demo_app: Flask) -> Iterator[str]:
    """The demo app served on 127.0.0.1 at a free port; yields its base URL."""
    server = make_server("127.0.0.1", 0, demo_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="tepat-live", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def page(browser: Browser, live_server: str) -> Iterator[Page]:
    """A fresh page (Indonesian, phone-sized until resized) that fails on any script error."""
    context = browser.new_context(base_url=live_server, locale="id-ID", viewport=PHONE)
    context.set_default_timeout(10_000)
    new_page = context.new_page()
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # CSP violations and script errors land here; the browser fetches the favicon on its
        # own schedule (offline too), so only it may fail. A test that takes the network
        # away also gets a line for each request the browser refused then: the page handles
        # those (a fetch that raced navigator.onLine falls back to its cached copy).
        url = message.location.get("url", "")
        offline = "net::ERR_INTERNET_DISCONNECTED" in message.text
        if (
            message.type == "error"
            and not offline
            and not url.endswith(("favicon.ico", "favicon.svg"))
        ):
            errors.append(f"{message.text} ({message.location.get('url')})")

    new_page.on("console", on_console)
    new_page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield new_page
    context.close()
    assert errors == [], "errors in the browser console"


@pytest.fixture
def screenshot(tmp_path: Path) -> Callable[[Page, str], Path]:
    """Save a full-page PNG; to docs/screenshots/ with ``make screenshots`` (TEPAT_SCREENSHOTS)."""
    folder = Path(os.environ.get("TEPAT_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str) -> Path:
        path = folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
