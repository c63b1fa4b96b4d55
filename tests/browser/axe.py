"""axe-core in a browser test: a context that may inject it, and the serious violations of a page.

axe-core is vendored under tests/browser/vendor/axe-core (MPL-2.0) for the tests only; the
app never serves it. The pages forbid inline scripts (CSP), so these contexts bypass the CSP
to inject it; every other browser test runs under the real policy.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page

from app.extensions import db
from tests.browser.helpers import sign_in
from tests.desk import scenario
from tests.web.test_i18n_pages import pages

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
#: The roles whose every page is audited.
ROLES = ["admin", "gudang", "kurir.tewah", "desk", "bawaslu"]
#: WCAG 2.2 AA and best practice, target size (24 px) included.
RUN = """async () => {
  const result = await axe.run(document, {
    runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa",
                                    "best-practice"]},
  });
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ` +
                v.nodes.slice(0, 3).map((n) => n.target.join(" ")).join(" | "));
}"""


@pytest.fixture
def audit(browser: Browser, live_server: str) -> Iterator[BrowserContext]:
    """A context that lets the test inject axe-core despite the pages' CSP."""
    context = browser.new_context(base_url=live_server, locale="id-ID", bypass_csp=True)
    context.set_default_timeout(15_000)
    yield context
    context.close()


def violations(page: Page) -> list[str]:
    """The serious and critical violations axe-core finds on the page."""
    page.add_script_tag(path=str(AXE))
    return list(page.evaluate(RUN))


def every_page_of(
    audit: BrowserContext, story: scenario.Scenario, username: str, size: dict[str, int]
) -> list[str]:
    """The violations on the login page and on every page of a role, at one window size."""
    page = audit.new_page()
    page.set_viewport_size(size)
    page.goto("/masuk")
    found = [f"/masuk: {v}" for v in violations(page)]
    sign_in(page, username)
    for url in pages(story)[username]:
        page.goto(url)
        found += [f"{url}: {v}" for v in violations(page)]
    db.session.rollback()
    return found
