"""The admin creates a user and a device token, sees the token once, and revokes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE
from tests.browser.helpers import sign_in


def test_admin_creates_user_and_token_sees_it_once_and_revokes_it(
    page: Page, screenshot: Callable[[Page, str], Path]
) -> None:
    page.set_viewport_size(DESKTOP)
    sign_in(page, "admin")
    page.get_by_role("navigation").get_by_role("link", name="Pengguna").click()
    expect(page.locator("#users")).to_contain_text("kurir.tewah")
    screenshot(page, "admin-users-desktop")

    page.get_by_role("link", name="Tambah pengguna").click()
    page.get_by_label("Nama pengguna").fill("pps.kasintu")
    page.get_by_label("Nama lengkap").fill("PPS Desa Kasintu")
    page.get_by_label("Peran").select_option("kurir")
    page.get_by_label("Cakupan wilayah").fill("62.10.03.2003")
    page.get_by_label("Kata sandi awal").fill("kata-sandi-panjang")
    page.get_by_role("button", name="Simpan pengguna").click()
    expect(page.locator(".flash")).to_have_text("Pengguna pps.kasintu dibuat.")
    user_page = page.url

    page.get_by_label("Nama perangkat baru").fill("HP PPS Kasintu")
    page.get_by_role("button", name="Buat token").click()
    token_field = page.locator("#new-token")
    expect(token_field).to_have_value(re.compile(r"^tpt_[A-Za-z0-9_-]{40,}$"))
    token = token_field.input_value()
    expect(page.locator("#new-token-box")).to_contain_text("tidak akan ditampilkan lagi")
    copy = page.get_by_role("button", name="Salin")
    expect(copy).to_be_visible()  # shown by tepat.js; without scripts the field is selectable
    copy.click()
    expect(page.get_by_role("button", name="Tersalin")).to_be_visible()
    screenshot(page, "admin-desktop")
    page.set_viewport_size(PHONE)
    screenshot(page, "admin-phone")

    page.goto(user_page)
    expect(page.locator("#new-token")).to_have_count(0)
    assert token not in page.content()  # shown once, never again
    row = page.locator("#tokens tbody tr", has_text="HP PPS Kasintu")
    expect(row).to_contain_text(token[:12])
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Cabut").click()
    expect(page.locator(".flash")).to_have_text("Token HP PPS Kasintu dicabut.")
    expect(row).to_contain_text("dicabut")
    expect(row.get_by_role("button", name="Cabut")).to_have_count(0)
