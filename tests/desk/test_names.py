"""Findings name places as people do; times show in the region's own zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.custody.names import PlaceNames
from app.extensions import db
from app.words import local_time
from tests.desk.conftest import World

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            "Diterima di PPS 62.10.03.2001 tanpa catatan pengiriman ke sana",
            "Diterima di PPS Desa Sare Rangan tanpa catatan pengiriman ke sana",
        ),
        (
            "Belum sampai di PPK 62.10.03 padahal tenggat 25-11-2024 18.00 WIB sudah lewat",
            "Belum sampai di PPK Tewah padahal tenggat 25-11-2024 18.00 WIB sudah lewat",
        ),
        (
            "Dipindai di TPS 6210031005001, di luar rute ke TPS 6210031005003 "
            "(62.10 -> 62.10.03 -> 62.10.03.1005 -> 6210031005003)",
            "Dipindai di TPS 001 Kelurahan Tewah, di luar rute ke TPS 003 Kelurahan Tewah (rute: "
            "gudang KPU Kabupaten Gunung Mas → PPK Tewah → PPS Kelurahan Tewah → "
            "TPS 003 Kelurahan Tewah)",
        ),
        (
            "Surat suara gubernur ini untuk wilayah 62.06, tetapi dipindai di wilayah 62.10 "
            "(tertukar)",
            "Surat suara gubernur ini untuk wilayah Kabupaten Katingan (62.06), tetapi dipindai di "
            "wilayah Kabupaten Gunung Mas (62.10) (tertukar)",
        ),
        (
            "Label yang sama dipindai di TPS 6210031005001 padahal barang tercatat di "
            "62.10.03.1005",
            "Label yang sama dipindai di TPS 001 Kelurahan Tewah padahal barang tercatat di "
            "PPS Kelurahan Tewah",
        ),
        (
            "TPS 6210031005003 kurang 1 buah formhsl bupati: tercatat 0 dari rencana 1",
            "TPS 003 Kelurahan Tewah kurang 1 buah formulir Model C.Hasil-KWK (plano) bupati: "
            "tercatat 0 dari rencana 1",
        ),
        (
            "Kit TPS dilaporkan basah di PPS 99.99.99.9999",  # no name stored: the code stays
            "Kit TPS dilaporkan basah di PPS 99.99.99.9999",
        ),
    ],
)
def test_messages_name_the_places(world: World, message: str, expected: str) -> None:
    with world.app.app_context():
        assert PlaceNames(db.session).text(message) == expected


@pytest.mark.parametrize(
    ("region", "expected"),
    [
        ("62.10.03", "26 Nov 2024 15.00 WIB"),  # Kalimantan Tengah
        ("73.71", "26 Nov 2024 16.00 WITA"),  # Kota Makassar
        ("9471012001001", "26 Nov 2024 17.00 WIT"),  # a TPS in Kota Jayapura
    ],
)
def test_times_show_in_the_regions_zone(world: World, region: str, expected: str) -> None:
    with world.app.test_request_context():
        assert local_time(datetime(2024, 11, 26, 8, 0, tzinfo=UTC), region) == expected
