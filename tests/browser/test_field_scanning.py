"""Field-ready scanning (issue 13): the answer sits where the courier looks, one line per cause;
QR codes are read in the page (jsQR where there is no BarcodeDetector) from photos and the
live camera; a label is verified and checked against the node's plan before it is sent,
so a wrong or forged label is caught with no network at all. Phone and desktop size.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from app.extensions import db
from app.plan.service import get_election
from labels.base45 import b45decode, b45encode
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, DESKTOP, PHONE
from tests.browser.helpers import sign_in
from tests.browser.test_kurir_desk import story  # noqa: F401  (the small distribution)
from tests.desk import scenario

SIZES = pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])


def forged(label: str) -> str:
    """The same label with one bit of its signature flipped (a copy someone altered)."""
    data = bytearray(b45decode(label.removeprefix("TP1:")))
    data[-1] ^= 1
    return "TP1:" + b45encode(bytes(data))


def in_view(page: Page, selector: str) -> bool:
    """Whether the element is inside the visible part of the window."""
    return bool(
        page.evaluate(
            """(sel) => { const r = document.querySelector(sel).getBoundingClientRect();
                         return r.top >= 0 && r.bottom <= window.innerHeight + 1; }""",
            selector,
        )
    )


def wait_for_checks(page: Page, node: str) -> None:
    """The page has kept the keys and the node's plan slice for offline checks."""
    page.wait_for_function(
        "(n) => localStorage.getItem('tepat.keys') && localStorage.getItem('tepat.slice.' + n)",
        arg=node,
    )


def pack_and_ship_tps_b(story: scenario.Scenario) -> None:  # noqa: F811
    """TPS 003's two boxes packed in its kit, sent to PPK Tewah past the gudang deadline."""
    kit = story.first(scenario.TPS_B, "KIT")
    election = get_election(db.session, scenario.ELECTION)
    packed = datetime(2024, 11, 25, 1, 0, tzinfo=UTC)
    scans = [
        (box, "kemas", "62.10", packed, {"container": story.label(kit)})
        for box in story.items[scenario.TPS_B]
        if box.item_type_code == "KOTAK"
    ]
    scans.append((kit, "kirim", "62.10", datetime(2024, 11, 26, 6, 0, tzinfo=UTC), {}))
    scenario._play(db.session, story.keyring, election, "gudang", scans)


@SIZES
def test_a_late_kit_gets_one_answer_per_cause_next_to_the_input(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
    size: dict[str, int],
    screenshot: Callable[[Page, str], Path],
) -> None:
    pack_and_ship_tps_b(story)
    page.set_viewport_size(size)
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    page.select_option("#node", "62.10.03")
    page.locator("#code").scroll_into_view_if_needed()
    page.fill("#code", story.first(scenario.TPS_B, "KIT").serial)
    page.get_by_role("button", name="Kirim", exact=True).click()

    answer = page.locator("#hasil")
    expect(answer).to_contain_text("Paket logistik TPS untuk TPS 003 Kelurahan Tewah")
    expect(answer).to_have_attribute("aria-live", "assertive")
    assert in_view(page, "#hasil") and in_view(page, "#code")
    lines = answer.locator(".result-lines li").all_inner_texts()
    assert lines, "a late kit is reported"
    assert len(lines) == len(set(lines)) <= 3, lines  # one line per cause, not one per item
    expect(answer).to_have_class("result warning")
    expect(answer.locator(".result-title")).to_have_text("PERHATIAN")
    screenshot(page, f"kurir-answer-{'phone' if size == PHONE else 'desktop'}")


@SIZES
def test_a_wrong_and_a_forged_label_are_caught_in_the_page_without_a_network(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
    size: dict[str, int],
    tmp_path: Path,
) -> None:
    page.set_viewport_size(size)
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    page.select_option("#node", scenario.TPS_A)
    wait_for_checks(page, scenario.TPS_A)
    page.context.set_offline(True)

    photo = tmp_path / "salah.png"
    photo.write_bytes(scenario.qr_png(story.label(story.misdelivered)))
    page.set_input_files("#photo", str(photo))  # read by jsQR, in the page
    answer = page.locator("#hasil")
    expect(answer).to_have_class("result critical")
    expect(answer.locator(".result-title")).to_have_text("TOLAK")
    expect(answer).to_contain_text("Salah alamat")
    expect(answer).to_contain_text("Kotak suara bupati")
    expect(answer).to_contain_text("Belum terkirim")
    assert in_view(page, "#hasil")

    fake = tmp_path / "palsu.png"
    fake.write_bytes(scenario.qr_png(forged(story.label(story.first(scenario.TPS_A, "KOTAK")))))
    page.set_input_files("#photo", str(fake))
    expect(answer).to_contain_text("Tanda tangan label tidak sah")
    expect(answer).to_have_class("result critical")
    expect(page.locator("#antrean")).to_contain_text("2 pindaian menunggu dikirim")

    page.context.set_offline(False)  # the server agrees on the wrong box, refuses the fake
    expect(page.locator("#antrean")).to_be_hidden(timeout=15_000)
    expect(answer).to_contain_text("Tanda tangan label tidak sah")
    expect(page.locator("#riwayat li")).to_have_count(2)


def y4m(png: bytes, path: Path) -> Path:
    """A short grey video of the picture, for Chromium's fake camera."""
    import io

    from PIL import Image

    picture = Image.open(io.BytesIO(png)).convert("L")
    frame = Image.new("L", (640, 480), 255)
    picture.thumbnail((440, 440))
    frame.paste(picture, ((640 - picture.width) // 2, (480 - picture.height) // 2))
    chroma = bytes([128]) * (320 * 240)
    with path.open("wb") as out:
        out.write(b"YUV4MPEG2 W640 H480 F5:1 Ip A1:1 C420jpeg\n")
        for _ in range(5):
            out.write(b"FRAME\n" + frame.tobytes() + chroma + chroma)
    return path


@pytest.fixture
def camera_page(
    browser: Browser,
    live_server: str,
    story: scenario.Scenario,  # noqa: F811
    tmp_path: Path,
) -> Iterator[Page]:
    """A Chromium whose camera films the label of TPS 003's governor box."""
    video = y4m(
        scenario.qr_png(story.label(story.first(scenario.TPS_B, "KOTAK", "GUB"))),
        tmp_path / "label.y4m",
    )
    filming = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    context = filming.new_context(base_url=live_server, locale="id-ID", viewport=PHONE)
    context.grant_permissions(["camera"])
    errors: list[str] = []
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    filming.close()
    assert errors == []


def test_the_live_camera_reads_a_label_without_barcode_detector(
    camera_page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    page = camera_page
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    assert page.evaluate("'BarcodeDetector' in window") is False
    page.select_option("#node", "62.10.03")
    page.get_by_role("button", name="Pindai dengan kamera").click()
    expect(page.locator("#camera")).to_be_visible()
    answer = page.locator("#hasil")
    expect(answer).to_contain_text("Kotak suara gubernur untuk TPS 003", timeout=15_000)
    page.get_by_role("button", name="Tutup kamera").click()
    expect(page.locator("#camera")).to_be_hidden()
    expect(page.locator("#riwayat li")).to_have_count(1)  # one scan while the label stayed


@SIZES
def test_the_packing_page_reads_photos_and_refuses_another_tps_item_at_once(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
    size: dict[str, int],
    tmp_path: Path,
) -> None:
    page.set_viewport_size(size)
    kit = story.first(scenario.TPS_B, "KIT")
    sign_in(page, "gudang")
    page.goto("/gudang/kemas?paket=" + kit.serial)
    expect(page.get_by_role("button", name="Pindai dengan kamera")).to_be_visible()
    photo = tmp_path / "kotak.png"
    box = story.first(scenario.TPS_B, "KOTAK", "GUB")
    photo.write_bytes(scenario.qr_png(story.label(box)))
    page.set_input_files("#kemas-photo", str(photo))
    expect(page.locator(f'tr[data-serial="{box.serial}"]')).to_have_class("packed")
    answer = page.locator("#kemas-answer")
    expect(answer.locator(".result-title")).to_have_text("OK")
    assert in_view(page, "#kemas-answer")

    other = tmp_path / "lain.png"
    other.write_bytes(scenario.qr_png(story.label(story.first(scenario.TPS_A, "KOTAK", "BUP"))))
    page.set_input_files("#kemas-photo", str(other))
    expect(answer).to_have_class("result critical")
    expect(answer.locator(".result-title")).to_have_text("TOLAK")
    expect(answer).to_contain_text("bukan untuk")


def test_label_text_forms_parse_the_same_in_the_page_as_in_python(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    """tepat-scan.js reads both text forms of a label as labels/payload.py writes them."""
    from app.items.service import label_text

    item = story.first(scenario.TPS_B, "KOTAK", "BUP")
    text = label_text(item, story.signer)
    raw = b45decode(text.removeprefix("TP1:"))
    link = "HTTPS://TEPAT.EXAMPLE/L/" + base64.b32encode(raw).decode().rstrip("=")
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    for form in (text, link):
        parsed = page.evaluate(
            "(t) => { const l = TepatScan.parseLabel(t); return {serial: l.serial, "
            "type: l.itemType, destination: l.destination, race: l.race, quantity: l.quantity}; }",
            form,
        )
        assert parsed == {
            "serial": item.serial,
            "type": "KOTAK",
            "destination": scenario.TPS_B,
            "race": "BUP",
            "quantity": item.quantity,
        }
    assert page.evaluate("TepatScan.parseLabel('halo') === null")


def test_findings_of_one_scan_are_grouped_by_cause_with_counts(page: Page) -> None:
    """Where the server still sends one finding per item, the page groups them by code."""
    page.goto("/masuk")
    page.add_script_tag(url="/static/js/tepat-scan.js")
    late = {"code": "late", "severity": "warning", "message": "Tiba lewat tenggat"}
    wrong = {"code": "wrong_tps", "severity": "critical", "message": "Salah TPS"}
    groups = page.evaluate(
        "(r) => TepatScan.groupFindings(r).map((g) => [g.code, g.severity, g.count])",
        {"findings": [late] * 43 + [wrong]},
    )
    assert groups == [["wrong_tps", "critical", 1], ["late", "warning", 43]]
    grouped = {
        "groups": [{"code": "late", "severity": "warning", "count": 43, "message": "43 barang"}]
    }
    assert page.evaluate("(r) => TepatScan.groupFindings(r)[0].message", grouped) == "43 barang"


@SIZES
def test_an_item_is_taken_out_of_the_kit_again_with_a_reason(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
    size: dict[str, int],
) -> None:
    page.set_viewport_size(size)
    kit = story.first(scenario.TPS_B, "KIT")
    box = story.first(scenario.TPS_B, "KOTAK", "BUP")
    sign_in(page, "gudang")
    page.goto("/gudang/kemas?paket=" + kit.serial)
    scan = page.get_by_label("Pindai barang")
    scan.fill(story.label(box))
    scan.press("Enter")
    row = page.locator(f'tr[data-serial="{box.serial}"]')
    expect(row).to_have_class("packed")
    page.once("dialog", lambda dialog: dialog.accept("Salah hitung"))
    row.get_by_role("button", name="Keluarkan").click()
    expect(row).not_to_have_class("packed")
    expect(row.get_by_role("button", name="Keluarkan")).to_be_hidden()
    expect(page.locator("#kemas-answer")).to_contain_text("Dikeluarkan dari paket")
    expect(page.locator("#kemas-count")).to_have_text("0")


def test_the_courier_page_in_english_answers_in_english(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
    tmp_path: Path,
) -> None:
    sign_in(page, "kurir.tewah")
    page.goto("/bahasa/en")
    page.goto("/kurir")
    page.select_option("#node", scenario.TPS_A)
    photo = tmp_path / "wrong.png"
    photo.write_bytes(scenario.qr_png(story.label(story.misdelivered)))
    page.set_input_files("#photo", str(photo))
    answer = page.locator("#hasil")
    expect(answer).to_contain_text("Ballot box (regent) for TPS 003 Kelurahan Tewah")
    expect(answer).to_contain_text("This ballot box (regent) is for TPS 003 Kelurahan Tewah")
    expect(answer.locator(".result-title")).to_have_text("REFUSE")


def test_the_demo_phone_scans_on_the_demo_clock(
    browser: Browser,
    live_server: str,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    """With TEPAT_NOW (the demo) the page's clock runs from the server's: no 2-year skew."""
    from datetime import timedelta

    from sqlalchemy import select

    from app.custody.models import CustodyEvent, FindingRow

    context = browser.new_context(base_url=live_server, locale="id-ID", viewport=PHONE)
    page = context.new_page()  # this phone's own clock says today, not 26 November 2024
    sign_in(page, "kurir.tewah")
    page.goto("/kurir")
    page.select_option("#node", "62.10.03")
    box = story.first(scenario.TPS_B, "KOTAK", "GUB")
    page.fill("#code", box.serial)
    page.get_by_role("button", name="Kirim", exact=True).click()
    expect(page.locator("#hasil")).to_contain_text("Kotak suara gubernur untuk TPS 003")
    context.close()
    db.session.rollback()
    event = db.session.scalars(select(CustodyEvent).where(CustodyEvent.serial == box.serial)).one()
    assert abs(event.device_time - scenario.NOW) < timedelta(minutes=10)
    skew = db.session.scalars(select(FindingRow).where(FindingRow.code == "clock_skew")).all()
    assert skew == []


@SIZES
def test_leg_costs_are_entered_on_a_page(
    page: Page, size: dict[str, int], screenshot: Callable[[Page, str], Path]
) -> None:
    page.set_viewport_size(size)
    sign_in(page, "gudang")
    page.goto("/rencana/biaya")
    form = page.locator("form", has=page.get_by_role("button", name="Catat biaya"))
    form.get_by_label("Leg").select_option("62.10>62.10.09")
    form.get_by_label("Jumlah (rupiah)").fill("9.400.000")
    form.get_by_label("Catatan").fill("sewa kelotok")
    form.get_by_role("button", name="Catat biaya").click()
    expect(page.locator(".flash")).to_have_text("Biaya dicatat.")
    expect(page.locator("#legs")).to_contain_text("Rp9.400.000")
    screenshot(page, f"biaya-{'phone' if size == PHONE else 'desktop'}")


def test_the_desk_chart_opens_on_the_latest_hours_on_a_phone(
    page: Page,
    story: scenario.Scenario,  # noqa: F811
) -> None:
    sign_in(page, "desk")
    page.goto("/desk")
    chart = page.locator(".chart-card .scroll")
    expect(chart).to_be_visible()
    left, room, width = chart.evaluate("(el) => [el.scrollLeft, el.clientWidth, el.scrollWidth]")
    assert width > room and left + room >= width - 1  # scrolled to the right end
