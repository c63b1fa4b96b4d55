"""The courier page never holds its queue behind one scan the server fails on (issue 11)."""

from __future__ import annotations

import json

from playwright.sync_api import Browser, Route, expect

from tests.browser.helpers import sign_in
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario


def test_a_scan_the_server_fails_on_is_set_aside_and_the_rest_are_sent(
    browser: Browser,
    live_server: str,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    # Our own page: the shared one fails on any console error, and a 500 logs one.
    context = browser.new_context(base_url=live_server, locale="id-ID")
    context.set_default_timeout(10_000)
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda exc: script_errors.append(str(exc)))
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    page.select_option("#node", "62.10.03")
    page.context.set_offline(True)
    serials = [
        story.first(scenario.TPS_B, "KOTAK", "GUB").serial,
        story.first(scenario.TPS_B, "KOTAK", "BUP").serial,
    ]
    for serial in serials:
        page.fill("#code", serial)
        page.get_by_role("button", name="Kirim", exact=True).click()
    expect(page.locator("#antrean")).to_contain_text("2 pindaian menunggu dikirim")

    poisoned = serials[0]

    def server(route: Route) -> None:
        events = json.loads(route.request.post_data or "{}").get("events", [])
        if any(e.get("serial") == poisoned for e in events):
            route.fulfill(status=500, json={"error": "internal", "message": "rusak"})
        else:
            route.continue_()

    page.route("**/api/v1/scans", server)
    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#antrean")).to_be_hidden(timeout=15_000)
    expect(page.locator("#riwayat")).to_contain_text("rusak")
    context.close()
    assert script_errors == []
