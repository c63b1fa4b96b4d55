"""Accessibility (issue 13) at desktop size: axe-core finds no serious or critical violation on
any page of any role; the pages have a favicon. Phone size: test_accessibility.py."""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.axe import ROLES, audit, every_page_of  # noqa: F401  (audit: a fixture)
from tests.browser.conftest import DESKTOP
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario


@pytest.mark.parametrize("size", [DESKTOP], ids=["desktop"])
@pytest.mark.parametrize("username", ROLES)
def test_no_serious_violation_on_any_page_of_a_role(
    audit: BrowserContext,  # noqa: F811
    story: scenario.Scenario,  # noqa: F811
    username: str,
    size: dict[str, int],
) -> None:
    found = every_page_of(audit, story, username, size)
    assert found == [], "\n".join(found)


def test_the_pages_have_a_favicon(audit: BrowserContext) -> None:  # noqa: F811
    page = audit.new_page()
    page.goto("/masuk")
    href = page.eval_on_selector("link[rel=icon]", "(el) => el.href")
    assert page.request.get(href).status == 200
