"""English pages translate the custody layer's Indonesian messages, one sentence pattern per
finding (issue 13: item names, findings and scan answers were left in Indonesian)."""

from __future__ import annotations

import re

import pytest

from app.english import english, translate_pack, translate_scan_result, what

INDONESIAN = re.compile(
    r"\b(dan|untuk|tidak|belum|sudah|dengan|yang|dari|ke|di|ini|barang|tiba|lewat|tenggat|"
    r"dipindai|kurang|lebih|kotak|surat|suara|gudang|tercatat|lembar|buah|wilayah)\b",
    re.IGNORECASE,
)


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Tiba di PPS Desa Tumbang Hatung 26-11-2024 14.40 WIB, lewat tenggat "
            "26-11-2024 14.00 WIB (jam perangkat belum terverifikasi)",
            "Arrived at PPS Desa Tumbang Hatung 26-11-2024 14.40 WIB, past the deadline "
            "26-11-2024 14.00 WIB (device clock unverified)",
        ),
        (
            "Kotak suara bupati ini untuk TPS 003 Kelurahan Tewah, bukan TPS 001",
            "This ballot box (regent) is for TPS 003 Kelurahan Tewah, not TPS 001",
        ),
        (
            "TPS 001 Kelurahan Tewah kurang 119 lembar surat suara bupati: tercatat 281 dari "
            "rencana 400",
            "TPS 001 Kelurahan Tewah short 119 sheets ballot paper (regent): recorded 281 of "
            "400 planned",
        ),
        (
            "Biaya gudang KPU Kabupaten Gunung Mas → PPK Miri Manasa Rp12.500.000 melebihi "
            "anggaran Rp10.000.000 (lebih Rp2.500.000)",
            "Cost of KPU warehouse Kabupaten Gunung Mas → PPK Miri Manasa Rp12.500.000 exceeds "
            "the budget Rp10.000.000 (over by Rp2.500.000)",
        ),
        (
            "Kit TPS 7F3K9QZ2AB4CD5EF, 43 barang di dalamnya: tiba di PPK Kurun "
            "26-11-2024 15.00 WIB, lewat tenggat 25-11-2024 18.00 WIB",
            "TPS kit 7F3K9QZ2AB4CD5EF, 43 items inside: arrived at PPK Kurun "
            "26-11-2024 15.00 WIB, past the deadline 25-11-2024 18.00 WIB",
        ),
        (
            "Dihitung 0 lembar, label tertulis 20 (selisih -20)",
            "Counted 0 sheets, the label says 20 (difference -20)",
        ),
        (
            "Kit TPS dilaporkan basah di PPS Desa Sare Rangan",
            "TPS kit reported wet at PPS Desa Sare Rangan",
        ),
        (
            "Belum sampai di PPK Kurun padahal tenggat 25-11-2024 18.00 WIB sudah lewat",
            "Not yet at PPK Kurun although the deadline 25-11-2024 18.00 WIB has passed",
        ),
        (
            "Label yang sama dipindai di PPS Kelurahan Tewah padahal barang tercatat di "
            "TPS 007 Kelurahan Kurun: kemungkinan label ganda",
            "The same label was scanned at PPS Kelurahan Tewah while the item is recorded at "
            "TPS 007 Kelurahan Kurun: possibly a cloned label",
        ),
        (
            "Surat suara gubernur ini untuk wilayah Kabupaten Katingan (62.06), tetapi dipindai "
            "di wilayah Kabupaten Gunung Mas (62.10) (tertukar)",
            "This ballot paper (governor) is for the region Kabupaten Katingan (62.06) but was "
            "scanned in the region Kabupaten Gunung Mas (62.10) (swapped)",
        ),
        ("Diterima.", "Accepted."),
        (
            "Belum sampai di PPK Kurun padahal tenggat 25-11-2024 18.00 WIB sudah lewat "
            "(beserta 43 barang di dalamnya)",
            "Not yet at PPK Kurun although the deadline 25-11-2024 18.00 WIB has passed "
            "(with the 43 items inside)",
        ),
    ],
)
def test_findings_and_answers_read_in_english(message: str, expected: str) -> None:
    assert english(message) == expected
    assert not INDONESIAN.search(expected)


def test_a_message_no_pattern_knows_is_kept_as_written() -> None:
    assert english("Pesan baru yang belum dikenal") == "Pesan baru yang belum dikenal"


def test_item_names_and_whole_answers() -> None:
    assert what("Kotak suara bupati") == "Ballot box (regent)"
    assert what("Bupati") == "Regent"
    scan = translate_scan_result(
        {
            "message": "Diterima.",
            "findings": [{"message": "Dihitung 0 lembar, label tertulis 20 (selisih -20)"}],
            "item": {"what": "Surat suara gubernur", "destination_name": "TPS 001"},
        }
    )
    assert scan["message"] == "Accepted." and scan["item"]["what"] == "Ballot paper (governor)"
    assert scan["findings"][0]["message"].startswith("Counted 0 sheets")
    pack = translate_pack(
        {
            "message": "Masuk paket.",
            "problems": [],
            "kit": {
                "lines": [{"type_name": "Kotak suara", "race": "Bupati", "note": ""}],
                "extra": [{"type_name": "Tinta", "race": None, "note": "untuk TPS 003"}],
            },
        }
    )
    assert pack["message"] == "Packed." and pack["kit"]["lines"][0]["type_name"] == "Ballot box"
    assert pack["kit"]["extra"][0]["note"] == "For TPS 003"
