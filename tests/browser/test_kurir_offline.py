"""Where the network is poor: the courier page opens offline and its scans wait, then go."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.helpers import sign_in
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario


def test_the_scan_page_opens_without_a_network_and_sends_later(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()  # now under the service worker, which keeps this copy of the page
    expect(page.get_by_role("heading", level=1)).to_have_text("Pindai serah terima")

    page.context.set_offline(True)
    page.reload()
    expect(page.get_by_role("heading", level=1)).to_have_text("Pindai serah terima")
    page.select_option("#node", "62.10.03")
    page.fill("#code", story.first(scenario.TPS_B, "KOTAK", "GUB").serial)
    page.get_by_role("button", name="Kirim", exact=True).click()
    expect(page.locator("#hasil")).to_contain_text("TERSIMPAN DI PERANGKAT")
    expect(page.locator("#antrean")).to_contain_text("1 pindaian menunggu dikirim")

    page.context.set_offline(False)
    expect(page.locator("#antrean")).to_be_hidden(timeout=15_000)
    expect(page.locator("#hasil")).to_contain_text("Kotak suara gubernur untuk TPS 003")
