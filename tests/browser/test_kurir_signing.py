"""The courier page signs its scans with a WebCrypto Ed25519 key of the browser (issue 11)."""

from __future__ import annotations

from playwright.sync_api import Page, expect
from sqlalchemy import select

from app.custody import ledger
from app.custody.models import CustodyEvent, Device
from app.extensions import db
from tests.browser.helpers import sign_in
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario


def test_the_page_registers_a_key_and_signs_every_scan(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    has_ed25519 = "crypto.subtle.generateKey({name: 'Ed25519'}, false, ['sign'])"
    assert page.evaluate(has_ed25519 + ".then(() => true, () => false)"), "no WebCrypto Ed25519"
    page.select_option("#node", "62.10.03")
    page.fill("#code", story.first(scenario.TPS_B, "KOTAK", "GUB").serial)
    page.get_by_role("button", name="Kirim", exact=True).click()
    expect(page.locator("#antrean")).to_be_hidden(timeout=15_000)

    db.session.expire_all()
    device = db.session.scalar(select(Device).where(Device.public_key.is_not(None)))
    assert device is not None and device.device_id.startswith("web-")
    newest = db.session.scalar(select(CustodyEvent).order_by(CustodyEvent.server_time.desc()))
    assert newest.device_id == device.device_id and newest.signature is not None
    # The server checked it on the way in; verify checks it again from the stored bytes.
    problems = [p for p in ledger._signature_problems(db.session) if str(newest.event_id) in p]
    assert problems == []
