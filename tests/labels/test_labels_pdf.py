"""The PDF writers: outputs, pages, printed words, colours and layout checks."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from reportlab.lib.units import mm

from labels import (
    A4_DOCUMENT,
    A4_STICKER,
    LAYOUTS,
    CustodyParty,
    HandoverForm,
    HandoverLine,
    Keyring,
    KitLine,
    KitManifest,
    LabelPayload,
    LabelSheetItem,
    LayoutError,
    SigningKey,
    THERMAL_100x50,
    format_local_time,
    qr_matrix,
    sign,
    write_handover_form,
    write_kit_manifest,
    write_labels,
)
from labels.layouts import LARGEST_LABEL_MODULES
from labels.qr import MIN_MODULE_SIZE, module_size

KEY = SigningKey.generate("gm-2024a")
KEYRING = Keyring()
KEYRING.add(KEY.key_id, KEY)
SIGNER = KEYRING.signer(KEY)


def item(race: str | None = "GUB", serial: str = "1111-2222-3333-4444") -> LabelSheetItem:
    label = sign(LabelPayload(serial, "SURAT", "6210052016007", race, 20), SIGNER)
    return LabelSheetItem.from_payload(
        label.payload,
        label.to_text(),
        desa="Tumbang Posu",
        kecamatan="Rungan Barat",
        kabupaten="Gunung Mas",
        provinsi="Kalimantan Tengah",
    )


def page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [page.get_textpage().get_text_bounded() for page in document]
    finally:
        document.close()


def test_box_sticker_carries_tps_pps_ppk_kabkota_provinsi() -> None:
    out = io.BytesIO()
    write_labels([item()], A4_STICKER, out)
    (text,) = page_texts(out.getvalue())
    for words in (
        "PEMILIHAN GUBERNUR",
        "Surat Suara",
        "TPS 007",
        "Isi: 20 lembar",
        "PPS: Tumbang Posu",
        "PPK: Rungan Barat",
        "Kab/Kota: Gunung Mas",
        "Provinsi: Kalimantan Tengah",
        "1111-2222-3333-4444",
    ):
        assert words in text


@pytest.mark.parametrize(
    ("race", "rgb"),
    [("GUB", (0x80, 0x00, 0x00)), ("BUP", (0x87, 0xCE, 0xEB)), ("WAL", (0x40, 0xE0, 0xD0))],
)
def test_race_band_has_the_ballot_marker_colour(race: str, rgb: tuple[int, int, int]) -> None:
    out = io.BytesIO()
    write_labels([item(race)], THERMAL_100x50, out)
    document = pdfium.PdfDocument(out.getvalue())
    image = document[0].render(scale=2).to_pil().convert("RGB")
    # The band runs along the top of the label; sample its right-hand end.
    assert image.getpixel((image.width - 10, 4)) == rgb
    document.close()


def test_writers_accept_paths_and_binary_files_and_are_reproducible(tmp_path: Path) -> None:
    items = [item(serial=f"0000-0000-0000-000{n}") for n in range(10)]
    buffer = io.BytesIO()
    write_labels(items, A4_STICKER, buffer)
    write_labels(items, A4_STICKER, str(tmp_path / "a.pdf"))
    write_labels(items, A4_STICKER, tmp_path / "b.pdf")
    with (tmp_path / "c.pdf").open("wb") as handle:
        write_labels(items, A4_STICKER, handle)
    for name in ("a.pdf", "b.pdf", "c.pdf"):
        assert (tmp_path / name).read_bytes() == buffer.getvalue()


def test_page_streams_are_binary_flate_without_ascii85() -> None:
    out = io.BytesIO()
    write_labels([item()], A4_STICKER, out)
    assert b"/FlateDecode" in out.getvalue()
    assert b"ASCII85" not in out.getvalue()


def test_progress_is_reported_after_each_page() -> None:
    seen: list[int] = []
    count = write_labels((item() for _ in range(20)), A4_STICKER, io.BytesIO(), seen.append)
    assert count == 20
    assert seen == [8, 16, 20]
    assert len(page_texts(_pdf([item()] * 20))) == 3


def _pdf(items: list[LabelSheetItem]) -> bytes:
    out = io.BytesIO()
    write_labels(items, A4_STICKER, out)
    return out.getvalue()


def test_no_labels_is_an_error() -> None:
    with pytest.raises(LayoutError):
        write_labels([], A4_STICKER, io.BytesIO())


def test_long_names_are_shrunk_or_cut_to_fit_the_label() -> None:
    long_item = dataclasses.replace(item(), desa="Desa Dengan Nama Yang Sangat Panjang " * 4)
    out = io.BytesIO()
    write_labels([long_item], THERMAL_100x50, out)
    (text,) = page_texts(out.getvalue())
    assert "PPS: Desa Dengan" in text and "\u2026" in text


def test_every_layout_fits_the_largest_v1_label_at_0_4_mm() -> None:
    """Longest item type and key id, widest destination, in both text forms."""
    long_key = SigningKey.generate("tepat-2024-gm-01")
    ring = Keyring()
    ring.add(long_key.key_id, long_key)
    largest = sign(
        LabelPayload("ZZZZ-ZZZZ-ZZZZ-ZZZZ", "ABCDEFGHIJKL", "9999999999999", "WAL", 65535),
        ring.signer(long_key),
    )
    texts = (
        largest.to_text(),
        largest.to_url("https://tepat.example.id"),
        largest.to_url("https://logistik.kpu-kabupaten-gunungmas.go.id"),
    )
    assert max(qr_matrix(text).size for text in texts) <= LARGEST_LABEL_MODULES
    for layout in (*LAYOUTS.values(), A4_DOCUMENT):
        for text in texts:
            matrix = qr_matrix(text)
            assert module_size(matrix, layout.qr_side) >= MIN_MODULE_SIZE


@pytest.mark.parametrize(
    "changes",
    [
        {"qr_side": 20 * mm},  # below 0.4 mm per module for the largest label
        {"columns": 3},  # three 99 mm columns do not fit on A4
        {"qr_side": 70 * mm},  # QR taller than the cell
    ],
)
def test_impossible_layouts_are_refused_when_defined(changes: dict[str, object]) -> None:
    with pytest.raises(LayoutError):
        dataclasses.replace(A4_STICKER, **changes)  # type: ignore[arg-type]


def kit_manifest(lines: int) -> KitManifest:
    kit = sign(LabelPayload("KKKK-1111-2222-3333", "KIT", "6210052016007"), SIGNER)
    return KitManifest(
        qr_text=kit.to_text(),
        serial="KKKK-1111-2222-3333",
        tps_number="007",
        desa="Tumbang Posu",
        kecamatan="Rungan Barat",
        kabupaten="Gunung Mas",
        provinsi="Kalimantan Tengah",
        destination_code="6210052016007",
        lines=tuple(
            KitLine("Surat Suara", f"0000-0000-0000-{n:04d}", "20 lembar", "Bupati")
            for n in range(lines)
        ),
    )


def test_kit_manifest_lists_every_item_with_a_checkbox_column() -> None:
    out = io.BytesIO()
    pages = write_kit_manifest(kit_manifest(51), out)
    texts = page_texts(out.getvalue())
    assert len(texts) == pages == 2
    everything = "".join(texts)
    assert "DAFTAR KELENGKAPAN LOGISTIK TPS" in texts[0]
    assert "Desa/Kelurahan (PPS)" in texts[0] and "Tumbang Posu" in texts[0]
    for n in range(51):
        assert f"0000-0000-0000-{n:04d}" in everything
    assert all("Cek" in text for text in texts)
    assert "Diperiksa oleh (KPPS)" in texts[-1]
    assert "Halaman 2 dari 2" in texts[-1]


def handover_form(lines: int) -> HandoverForm:
    return HandoverForm(
        document_number="BAST/62.10.05/2024/0017",
        sender=CustodyParty("PPK Kecamatan Rungan Barat", "62.10.05"),
        receiver=CustodyParty("PPS Desa Tumbang Posu", "62.10.05.2016"),
        handed_over_at=datetime(2024, 11, 25, 7, 30, tzinfo=UTC),
        place="Kantor PPS Desa Tumbang Posu",
        lines=tuple(
            HandoverLine(f"Kotak Suara {n + 1}", "1 buah", "Gubernur") for n in range(lines)
        ),
    )


def test_handover_form_has_both_parties_witness_and_blank_receipt_columns() -> None:
    out = io.BytesIO()
    assert write_handover_form(handover_form(5), out) == 1
    (text,) = page_texts(out.getvalue())
    for words in (
        "BERITA ACARA SERAH TERIMA LOGISTIK",
        "Nomor: BAST/62.10.05/2024/0017",
        "Senin, 25 November 2024 pukul 14.30 WIB",
        "PPK Kecamatan Rungan Barat (62.10.05)",
        "PIHAK PERTAMA",
        "PIHAK KEDUA",
        "SAKSI",
        "Jumlah Rencana",
        "Jumlah Diterima",
        "Kondisi",
        "Nomor Segel",
    ):
        assert words in text


def test_long_handover_tables_continue_over_pages_with_signatures_at_the_end() -> None:
    out = io.BytesIO()
    pages = write_handover_form(handover_form(120), out)
    texts = page_texts(out.getvalue())
    assert pages == len(texts) >= 3
    for number, text in enumerate(texts, start=1):
        assert f"Halaman {number} dari {pages}" in text
        assert "Nomor Segel" in text  # every page, the signed one too, shows the table
    everything = "".join(texts)
    for n in range(1, 121):
        assert re.search(rf"\bKotak Suara {n}\b", everything)
    assert "Yang Menerima" in texts[-1]
    assert all("Yang Menerima" not in text for text in texts[:-1])


def test_handover_time_is_shown_in_the_regions_zone() -> None:
    moment = datetime(2024, 11, 26, 23, 15, tzinfo=UTC)
    assert format_local_time(moment, "WIB") == "Rabu, 27 November 2024 pukul 06.15 WIB"
    assert format_local_time(moment, "WIT") == "Rabu, 27 November 2024 pukul 08.15 WIT"


def test_naive_handover_time_is_refused() -> None:
    with pytest.raises(LayoutError):
        dataclasses.replace(handover_form(1), handed_over_at=datetime(2024, 11, 26, 8, 0))


@pytest.mark.parametrize("lines", range(1, 70, 3))
def test_signatures_never_stand_alone_on_a_page(lines: int) -> None:
    """Whatever the table's length, the signed page also shows the table's last rows."""
    out = io.BytesIO()
    write_handover_form(handover_form(lines), out)
    last = page_texts(out.getvalue())[-1]
    assert "Yang Menerima" in last and re.search(rf"\bKotak Suara {lines}\b", last)


def test_handover_printed_in_advance_has_blanks_for_time_and_names() -> None:
    form = dataclasses.replace(handover_form(3), handed_over_at=None)
    out = io.BytesIO()
    write_handover_form(form, out)
    (text,) = page_texts(out.getvalue())
    assert "Pada hari ini ................ tanggal" in text and "pukul ........ WIB" in text
    assert "1. Nama: ......" in text


def test_recorded_handover_fills_names_counts_condition_and_seals() -> None:
    form = dataclasses.replace(
        handover_form(1),
        sender=CustodyParty("PPK Kecamatan Rungan Barat", "62.10.05", "Yohanes Ahat"),
        receiver=CustodyParty("PPS Desa Tumbang Posu", "62.10.05.2016", "Rini Damang"),
        lines=(HandoverLine("Kotak Suara", "2 buah", "Gubernur", "2 buah", "Baik", "S-01, S-02"),),
    )
    out = io.BytesIO()
    write_handover_form(form, out)
    (text,) = page_texts(out.getvalue())
    for words in ("1. Nama: Yohanes Ahat", "2. Nama: Rini Damang", "(Rini Damang)", "S-01, S-02"):
        assert words in text
