"""Accessibility (issue 13) at phone size: axe-core finds no serious or critical violation on
any page of any role; touch targets are at least 24 px; focus is visible.

The same audit at desktop size is in test_accessibility_desktop.py: each walk of every page
of five roles takes about a minute, so the two files run in parallel (pytest-xdist keeps a
file in one process). axe-core and the CSP bypass: tests/browser/axe.py.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import BrowserContext

from tests.browser.axe import ROLES, audit, every_page_of  # noqa: F401  (audit: a fixture)
from tests.browser.conftest import PHONE
from tests.browser.helpers import sign_in
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario


@pytest.mark.parametrize("size", [PHONE], ids=["phone"])
@pytest.mark.parametrize("username", ROLES)
def test_no_serious_violation_on_any_page_of_a_role(
    audit: BrowserContext,  # noqa: F811
    story: scenario.Scenario,  # noqa: F811
    username: str,
    size: dict[str, int],
) -> None:
    found = every_page_of(audit, story, username, size)
    assert found == [], "\n".join(found)


def test_focus_is_visible_on_the_photo_button_and_header_links(
    audit: BrowserContext,  # noqa: F811
    story: scenario.Scenario,  # noqa: F811
) -> None:
    page = audit.new_page()
    page.set_viewport_size(PHONE)
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    page.focus("#photo")
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Tab")  # focus arrives by keyboard: :focus-visible applies
    outline = page.eval_on_selector(
        "label[for=photo]",
        "(el) => getComputedStyle(el).outlineStyle + ' ' + getComputedStyle(el).outlineWidth",
    )
    assert outline.startswith("solid") and not outline.endswith(" 0px"), outline
    for link in page.locator("header.top a, header.top button").all():
        if link.is_visible():
            box = link.bounding_box()
            assert box is not None and box["height"] >= 24 and box["width"] >= 24, (
                link.inner_text(),
                box,
            )
