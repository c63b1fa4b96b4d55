"""Browser tests: the app on a real HTTP server in a thread, driven by headless Chromium.

The fixtures (browser, live_server, page, screenshot) live in tests/browser/fixtures.py,
loaded once for the whole run by tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.fixtures import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "DESKTOP", "PHONE"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder drives a browser (select or skip them with -m browser)."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
