"""In Chromium: a print job's progress bar fills and offers the PDF; packing ticks items off.

Runs the page scripts for real (the CSP forbids inline script, so any violation shows up as
a console error and fails the test).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

import labels
from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import sign_in
from tests.items.conftest import Warehouse

pytestmark = pytest.mark.browser


def test_print_progress_and_kit_packing_in_a_browser(
    warehouse: Warehouse, page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    warehouse.app.config["TEPAT_LABEL_SYNC_LIMIT"] = 0  # the job runs in a thread; the page polls
    sign_in(page, "gudang")
    page.goto("/gudang/label")
    page.get_by_label("Wilayah").fill(warehouse.tps)
    screenshot(page, "gudang-label-phone")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "gudang-label-desktop")
    page.set_viewport_size(PHONE)
    page.get_by_role("button", name="Cetak", exact=True).click()
    expect(page.locator("#job-download")).to_be_visible()
    expect(page.locator("#job-state")).to_have_text("Selesai")
    total = page.locator("#job-total").inner_text()
    assert int(total) == len(warehouse.items(warehouse.tps)) > 60
    assert page.locator("#job-progress").get_attribute("max") == total
    screenshot(page, "gudang-job-phone")

    kit = warehouse.items(warehouse.tps, "KIT")[0]
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    ink = warehouse.items(warehouse.tps, "TINTA")[0]
    page.set_viewport_size(DESKTOP)
    page.goto("/gudang/kemas")
    page.get_by_label("Label paket").fill(warehouse.label(kit))
    page.get_by_label("Label paket").press("Enter")
    scan = page.get_by_label("Pindai barang")
    scan.fill(warehouse.label(box))
    scan.press("Enter")
    expect(page.locator(f'tr[data-serial="{box.serial}"]')).to_have_class("packed")
    scan.fill(labels.format_serial(ink.serial))
    scan.press("Enter")
    expect(page.locator(f'tr[data-serial="{ink.serial}"] .tick')).to_have_text("\u2713")
    expect(page.locator("#kemas-count")).to_have_text("2")
    expect(scan).to_be_focused()  # the barcode gun can go on scanning
    stranger = warehouse.issue(warehouse.other_tps, ["KOTAK"])[0]
    scan.fill(warehouse.label(stranger))
    scan.press("Enter")
    expect(page.locator("#kemas-messages .alert").first).to_contain_text("bukan untuk")
    expect(page.locator("#kemas-extra")).to_be_visible()
    screenshot(page, "gudang-kemas-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "gudang-kemas-phone")
