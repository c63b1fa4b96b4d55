"""The KPPS closes the TPS with no signal: the record waits on the phone, then goes."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.closing.models import ClosingRecord
from app.extensions import db
from tests.browser.helpers import sign_in
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario


def test_a_closing_filed_offline_is_sent_when_the_network_is_back(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    page.get_by_role("link", name="Penutupan TPS").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Penutupan TPS")
    page.select_option("#tutup-tps", scenario.TPS_A)
    page.select_option("#tutup-race", "GUB")
    for name, value in {
        "received": "400",
        "used": "300",
        "invalid": "6",
        "spoiled": "4",
        "unused": "96",
        "voters_signed": "301",
        "reserve_drawn": "4",
        "seals": "KS-1, KS-2",
    }.items():
        page.fill(f"#tutup-form [name={name}]", value)

    page.context.set_offline(True)
    page.get_by_role("button", name="Simpan penutupan").click()
    expect(page.locator("#tutup-hasil")).to_contain_text("TERSIMPAN DI PERANGKAT")
    expect(page.locator("#tutup-antrean")).to_contain_text("1 catatan menunggu dikirim")

    page.context.set_offline(False)
    page.evaluate("window.dispatchEvent(new Event('online'))")
    expect(page.locator("#tutup-antrean")).to_be_hidden(timeout=15_000)
    expect(page.locator("#tutup-riwayat")).to_contain_text("accepted")
    db.session.expire_all()
    stored = db.session.scalar(select(ClosingRecord))
    assert stored is not None
    assert (stored.tps, stored.race_kind, stored.unused, stored.seals) == (
        scenario.TPS_A,
        "GUB",
        96,
        ["KS-1", "KS-2"],
    )


def test_the_closing_page_opens_without_a_network_once_the_scan_page_was_opened(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    """The KPPS who opened the scan page once can open the closing page with no signal."""
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    assert page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    # The worker keeps the closing page when it installs, before anyone opens it.
    page.wait_for_function(
        "caches.keys().then((names) => Promise.all(names.map((n) => caches.open(n)"
        ".then((c) => c.match('/kurir/tutup'))))).then((hits) => hits.some(Boolean))",
        timeout=15_000,
    )
    page.context.set_offline(True)
    page.goto("/kurir/tutup")
    expect(page.get_by_role("heading", level=1)).to_have_text("Penutupan TPS")
    expect(page.locator("#tutup-form")).to_be_visible()
