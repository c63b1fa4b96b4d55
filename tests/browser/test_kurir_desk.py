"""The issue's browser scenarios: a courier photographs a label at the wrong TPS and is told
so at once; the desk finds it by drilling down and exports it; a courier of another
kecamatan cannot open it. Screenshots of the courier and desk pages at both widths.

Headless Chromium has no BarcodeDetector, so the page reads the photo with the vendored jsQR
(the server's ``scanner.decode`` reads only what the page cannot).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from app.extensions import db
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import sign_in
from tests.desk import scenario

WRONG_TPS = "Kotak suara bupati ini untuk TPS 003 Kelurahan Tewah, bukan TPS 001"
Shot = Callable[[Page, str], Path]


@pytest.fixture
def story(demo_app: Flask, page: Page) -> scenario.Scenario:
    """The small distribution on the live server; the browser's clock on the same H-1."""
    demo_app.config["TEPAT_NOW"] = scenario.NOW.isoformat()
    page.clock.set_fixed_time(scenario.NOW - timedelta(minutes=2))
    return scenario.build(db.session, demo_app.config["TEPAT_KEY_DIR"])


def test_courier_photographs_a_box_at_the_wrong_tps_and_is_told_at_once(
    page: Page, story: scenario.Scenario, tmp_path: Path, screenshot: Shot
) -> None:
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    expect(page.locator("#camera-start")).to_be_visible()  # jsQR where BarcodeDetector is absent
    expect(page.locator("#camera-note")).to_be_hidden()
    page.select_option("#node", scenario.TPS_A)
    page.get_by_text("Jumlah, kondisi, segel").click()
    page.fill("#quantity", "1")
    page.select_option("#condition", "baik")
    page.fill("#counterpart", "Ketua KPPS 001")
    photo = tmp_path / "label.png"
    photo.write_bytes(scenario.qr_png(story.label(story.misdelivered)))
    page.set_input_files("#photo", str(photo))

    answer = page.locator("#hasil")
    expect(answer).to_have_class("result critical")
    expect(answer).to_contain_text("TOLAK")
    expect(answer).to_contain_text(WRONG_TPS)
    expect(answer).to_contain_text("Kotak suara bupati untuk TPS 003 Kelurahan Tewah")
    expect(page.locator("#riwayat li")).to_have_count(1)
    expect(page.locator("#antrean")).to_be_hidden()  # nothing left to send
    screenshot(page, "kurir-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "kurir-desktop")

    # A typed serial of a box that is where it belongs: a plain OK.
    page.set_viewport_size(PHONE)
    page.select_option("#node", "62.10.03")
    page.fill("#code", story.first(scenario.TPS_B, "KOTAK", "GUB").serial)
    page.get_by_role("button", name="Kirim", exact=True).click()
    expect(answer).to_contain_text("Kotak suara gubernur untuk TPS 003 Kelurahan Tewah")
    expect(page.locator("#riwayat li")).to_have_count(2)

    # No signal: the scan waits in the browser and goes out when the network is back.
    page.context.set_offline(True)
    page.fill("#code", story.first(scenario.TPS_B, "KIT").serial)
    page.get_by_role("button", name="Kirim", exact=True).click()
    expect(answer).to_contain_text("TERSIMPAN DI PERANGKAT")
    expect(page.locator("#antrean")).to_contain_text("1 pindaian menunggu dikirim")
    assert page.evaluate("JSON.parse(localStorage.getItem('tepat.outbox')).length") == 1
    page.context.set_offline(False)
    expect(page.locator("#antrean")).to_be_hidden()
    expect(answer).to_contain_text("Paket logistik TPS untuk TPS 003 Kelurahan Tewah")
    expect(page.locator("#riwayat li")).to_have_count(3)


def test_desk_drills_down_to_the_finding_and_exports_it(
    page: Page, story: scenario.Scenario, demo_app: Flask, screenshot: Shot
) -> None:
    from tests.conftest import login
    from tests.desk.conftest import wrong_tps_scan

    client = demo_app.test_client()  # the courier's scan, as in the first test
    login(client, "kurir.tewah")
    assert wrong_tps_scan(client, story).status_code == 200
    sign_in(page, "desk")
    page.goto("/desk")
    expect(page.locator("#principles .tile")).to_have_count(7)
    screenshot(page, "desk-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "desk-desktop")

    page.locator("#children").get_by_role("link", name="Tewah", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kecamatan Tewah")
    page.locator("#children").get_by_role("link", name="Tewah", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Kelurahan Tewah")
    page.get_by_role("link", name="TPS 001 Kelurahan Tewah").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("TPS 001 Kelurahan Tewah")
    finding = page.locator(".finding", has_text=WRONG_TPS)
    expect(finding).to_have_count(1)
    expect(finding).to_contain_text("Kritis")

    finding.get_by_role("link", name="Bukti").click()  # the evidence: the box's timeline
    expect(page.locator("#chain")).to_contain_text("Rantai hash utuh")
    expect(page.locator("#timeline li")).to_have_count(1)
    page.go_back()

    with page.expect_download() as download:
        page.get_by_role("link", name="Temuan CSV").click()
    text = Path(download.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert any(r[2] == "wrong_tps" and r[3] == WRONG_TPS for r in rows), rows[:3]


def test_a_courier_of_another_kecamatan_cannot_open_it(
    page: Page, story: scenario.Scenario
) -> None:
    sign_in(page, "kurir.kurun")
    # page.request shares the browser's session; a navigation to an error page would log
    # "Failed to load resource" in the console, which the harness rightly counts as an error.
    item = page.request.get(f"/kurir/barang/{story.misdelivered.serial}")
    assert item.status == 404 and "tidak ditemukan" in item.text()
    assert page.request.get("/kurir?simpul=62.10.03").status == 404
    assert page.request.get("/desk/wilayah/62.10.03").status == 403
    page.goto("/kurir")
    expect(page.locator("#node option").first).to_contain_text("PPK Kurun")
    assert scenario.TPS_A not in page.locator("#node").inner_html()
