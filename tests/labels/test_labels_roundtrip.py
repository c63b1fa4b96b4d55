"""Print, rasterise, scan, verify: every layout and document gives back its payloads.

Each PDF is rendered with pypdfium2 at 200 and 300 dpi and read with zxing-cpp and,
where libzbar is installed, pyzbar; the scanned text must decode with the keyring to
exactly the payloads that were printed.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pytest
import zxingcpp

from labels import (
    LAYOUTS,
    CustodyParty,
    HandoverForm,
    HandoverLine,
    Keyring,
    KitLine,
    KitManifest,
    LabelLayout,
    LabelPayload,
    LabelSheetItem,
    SigningKey,
    decode,
    sign,
    write_handover_form,
    write_kit_manifest,
    write_labels,
)

try:
    from pyzbar import pyzbar
except ImportError:  # libzbar0 missing: zxing-cpp alone still checks every page
    pyzbar = None

KEY = SigningKey.generate("gm-2024a")
KEYRING = Keyring()
KEYRING.add(KEY.key_id, KEY)
SIGNER = KEYRING.signer(KEY)
BASE_URL = "https://tepat.example.id"
DPIS = (200, 300)

REGION = {
    "desa": "Tumbang Posu",
    "kecamatan": "Rungan Barat",
    "kabupaten": "Gunung Mas",
    "provinsi": "Kalimantan Tengah",
}

PAYLOADS = [
    LabelPayload("1111-2222-3333-4444", "KOTAK", "6210052016001", "GUB"),
    LabelPayload("AAAA-BBBB-CCCC-DDDD", "SURAT", "6210052016001", "BUP", 20),
    LabelPayload("0000-0000-0000-000Z", "SURAT", "6271012001007", "WAL", 65535),
    LabelPayload("ZZZZ-ZZZZ-ZZZZ-ZZZZ", "BILIK", "62.10.05.2016"),
    LabelPayload("5555-6666-7777-8888", "TINTA", "62.10.05", quantity=2),
    LabelPayload("9999-9999-9999-9999", "KIT", "62.10"),
    # The longest item type: the largest v1 label.
    LabelPayload("M0M0-M0M0-M0M0-M0M0", "BRAILLE_TEMP", "6210052016002", "GUB", 4),
    LabelPayload("Q1Q1-Q1Q1-Q1Q1-Q1Q1", "SEGEL", "6210052016003", quantity=30),
]


def sheet_items(url_form: bool = False) -> list[LabelSheetItem]:
    items = []
    for payload in PAYLOADS:
        label = sign(payload, SIGNER)
        text = label.to_url(BASE_URL) if url_form else label.to_text()
        items.append(LabelSheetItem.from_payload(label.payload, text, **REGION))
    return items


def expected(payloads: list[LabelPayload]) -> list[LabelPayload]:
    return sorted((sign(p, SIGNER).payload for p in payloads), key=lambda p: p.serial)


def rasters(pdf: bytes, pages: int | None = None) -> Iterator[tuple[int, npt.NDArray[np.uint8]]]:
    document = pdfium.PdfDocument(pdf)
    try:
        for index in range(len(document) if pages is None else pages):
            for dpi in DPIS:
                bitmap = document[index].render(scale=dpi / 72, grayscale=True)
                image = bitmap.to_numpy()
                yield dpi, image.reshape(image.shape[0], image.shape[1])
    finally:
        document.close()


def scan(pdf: bytes, pages: int | None = None) -> dict[str, list[LabelPayload]]:
    """Payloads read from every page at every dpi, per decoder and dpi."""
    found: dict[str, list[LabelPayload]] = {}
    for dpi, image in rasters(pdf, pages):
        codes = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        for code in codes:
            assert code.ec_level == "Q"
            found.setdefault(f"zxing@{dpi}", []).append(decode(code.text, KEYRING))
        if pyzbar is not None:
            for symbol in pyzbar.decode(image, symbols=[pyzbar.ZBarSymbol.QRCODE]):
                found.setdefault(f"zbar@{dpi}", []).append(decode(symbol.data, KEYRING))
    return {reader: sorted(p, key=lambda p: p.serial) for reader, p in found.items()}


def readers() -> set[str]:
    names = {"zxing"} | ({"zbar"} if pyzbar is not None else set())
    return {f"{name}@{dpi}" for name in names for dpi in DPIS}


@pytest.mark.parametrize("layout", LAYOUTS.values(), ids=lambda layout: layout.name)
def test_every_label_layout_scans_back_to_the_signed_payloads(layout: LabelLayout) -> None:
    out = io.BytesIO()
    assert write_labels(sheet_items(), layout, out) == len(PAYLOADS)
    found = scan(out.getvalue())
    assert set(found) == readers()
    for payloads in found.values():
        assert payloads == expected(PAYLOADS)


def test_link_form_scans_back_on_the_smallest_thermal_label() -> None:
    out = io.BytesIO()
    write_labels(sheet_items(url_form=True), LAYOUTS["thermal-100x50"], out)
    for payloads in scan(out.getvalue()).values():
        assert payloads == expected(PAYLOADS)


def kit() -> tuple[KitManifest, LabelPayload]:
    kit_label = sign(LabelPayload("KKKK-1111-2222-3333", "KIT", "6210052016001"), SIGNER)
    lines = tuple(
        KitLine(item.item_type_name, item.serial, item.quantity_text, item.race_name)
        for item in sheet_items() * 8
    )
    manifest = KitManifest(
        qr_text=kit_label.to_text(),
        serial="KKKK-1111-2222-3333",
        tps_number="001",
        destination_code="6210052016001",
        lines=lines,
        **REGION,
    )
    return manifest, kit_label.payload


def test_kit_manifest_qr_scans_back_to_the_kit() -> None:
    manifest, kit_payload = kit()
    out = io.BytesIO()
    assert write_kit_manifest(manifest, out) == 2  # 64 lines run onto a second page
    found = scan(out.getvalue(), pages=1)
    assert set(found) == readers()
    assert all(payloads == [kit_payload] for payloads in found.values())


def handover(lines: int, with_qr: bool = True) -> tuple[HandoverForm, LabelPayload]:
    leg = sign(LabelPayload("BAST-0000-0000-0017", "FORM", "62.10.05.2016"), SIGNER)
    form = HandoverForm(
        document_number="BAST/62.10.05/2024/0017",
        sender=CustodyParty("PPK Kecamatan Rungan Barat", "62.10.05"),
        receiver=CustodyParty("PPS Desa Tumbang Posu", "62.10.05.2016"),
        handed_over_at=datetime(2024, 11, 25, 7, 30, tzinfo=UTC),
        place="Kantor PPS Desa Tumbang Posu",
        lines=tuple(
            HandoverLine(name, quantity, race)
            for name, quantity, race in [
                ("Kotak Suara", "2 buah", None),
                ("Surat Suara", "420 lembar", "Gubernur"),
                ("Surat Suara", "420 lembar", "Bupati"),
                ("Bilik Suara", "4 buah", None),
                ("Tinta", "2 botol", None),
            ]
            * (lines // 5)
        ),
        qr_text=leg.to_text() if with_qr else None,
    )
    return form, leg.payload


def test_handover_form_qr_scans_back_to_its_leg() -> None:
    form, leg = handover(lines=10)
    out = io.BytesIO()
    assert write_handover_form(form, out) == 1
    found = scan(out.getvalue())
    assert set(found) == readers()
    assert all(payloads == [leg] for payloads in found.values())
