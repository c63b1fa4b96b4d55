"""The desk and the courier pages on a small distribution (SQLite and PostgreSQL).

What the issue asks, as users notice it: a scan at the wrong TPS answers in plain words;
the desk sees it at every level of the drill-down with its evidence, filters and exports
it; observers read but cannot scan; a courier of another kecamatan sees nothing of it.
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from tests.desk.conftest import World
from tests.desk.scenario import TPS_A, TPS_B

pytestmark = pytest.mark.db

WRONG_TPS = "Kotak suara bupati ini untuk TPS 003 Kelurahan Tewah, bukan TPS 001"


def page(world: World, username: str, url: str, status: int = 200) -> str:
    """GET a page as a demo account and check its status."""
    response = world.client(username).get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:800])
    return response.get_data(as_text=True)


def test_a_box_at_the_wrong_tps_is_answered_in_plain_words(world: World) -> None:
    result = world.misdelivery
    assert result["status"] == "accepted"
    messages = [f["message"] for f in result["findings"]]
    assert WRONG_TPS in messages
    assert result["item"]["what"] == "Kotak suara bupati"
    assert result["item"]["destination_name"] == "TPS 003 Kelurahan Tewah"
    # No codes left for people to decode.
    assert not any(re.search(r"\d{13}|62\.10\.03\.1005", m) for m in messages), messages


def test_the_kabupaten_at_a_glance(world: World) -> None:
    html = page(world, "desk", "/desk")
    assert "Kabupaten Gunung Mas" in html
    tiles = html[html.index('id="principles"') : html.index('id="delivered"')]
    for name in (
        "Tepat jenis",
        "Tepat jumlah",
        "Tepat kualitas",
        "Tepat waktu",
        "Tepat sasaran",
        "Akuntabilitas",
    ):
        assert name in tiles
    assert re.search(r'class="tile critical"[^>]*prinsip=sasaran', tiles)  # the wrong TPS
    table = html[html.index('id="children"') :]
    tewah = re.search(
        r"<tr>\s*<td><a href=\"/desk/wilayah/62.10.03\">Tewah</a>.*?</tr>", table, re.S
    )
    assert tewah is not None
    assert tewah.group(0).count("badge critical") >= 2  # sasaran and waktu
    assert '<svg class="chart"' in html and "<polyline" in html  # progress over time


def test_drill_down_to_the_tps_shows_the_finding_and_the_items(world: World) -> None:
    kecamatan = page(world, "desk", "/desk/wilayah/62.10.03")
    assert 'href="/desk/wilayah/62.10.03.1005"' in kecamatan and WRONG_TPS in kecamatan
    desa = page(world, "desk", "/desk/wilayah/62.10.03.1005")
    assert "TPS 001 Kelurahan Tewah" in desa and f'href="/desk/wilayah/{TPS_A}"' in desa
    tps = page(world, "desk", f"/desk/wilayah/{TPS_A}")
    assert WRONG_TPS in tps
    assert "Kotak suara gubernur" in tps and "Paket logistik TPS" in tps  # its own items
    assert "26 Nov 2024" in tps and "WIB" in tps  # times in the region's zone
    other = page(world, "desk", f"/desk/wilayah/{TPS_B}")  # where the box should be
    assert WRONG_TPS in other
    assert re.search(r'class="tile critical"[^>]*prinsip=waktu', other)  # its kit is overdue


def test_one_late_kit_is_one_row_with_the_count_of_its_items(world: World) -> None:
    html = page(world, "desk", "/desk/temuan?wilayah=62.10.03&kode=late")
    rows = re.findall(r'<li class="finding sev-\w+">', html)
    assert len(rows) == 1
    assert "× 3 barang" in html
    evidence = re.search(r'href="(/desk/barang/\w+)#e-([0-9a-f-]+)"', html)
    assert evidence is not None and evidence.group(2) == world.story.late_event


@pytest.mark.parametrize(
    ("query", "present", "absent"),
    [
        ("prinsip=sasaran", "Salah TPS", "Terlambat"),
        ("tingkat=warning", "Diterima tanpa catatan kirim", "Salah TPS"),
        ("tahap=pps", "Terlambat", "Salah TPS"),
        ("wilayah=62.10.03.1005&kode=wrong_tps", WRONG_TPS, "Lewat tenggat"),
    ],
)
def test_findings_filters(world: World, query: str, present: str, absent: str) -> None:
    html = page(world, "bawaslu", f"/desk/temuan?{query}")
    listing = html[html.index('<ol class="findings">') :]
    assert present in listing and absent not in listing


def test_item_timeline_shows_events_chain_and_findings(world: World) -> None:
    kit = world.story.first(TPS_A, "KIT")
    html = page(world, "desk", f"/desk/barang/{kit.serial}")
    assert "Rantai hash utuh" in html
    assert html.count('<li id="e-') == 6  # kirim, terima x3, kirim x2
    assert f'id="e-{world.story.late_event}"' in html
    assert "PPS Kelurahan Tewah" in html and "WIB" in html
    hashes = re.findall(r'<code title="([0-9a-f]{64})">', html[html.index('id="timeline"') :])
    assert hashes[0] == "0" * 64  # the chain starts at the genesis hash
    proof = re.search(rf'href="(/api/v1/ledger/inclusion/{world.story.late_event})"', html)
    assert proof is not None
    body = world.client("desk").get(proof.group(1)).get_json()
    assert body["event_hash"] in hashes and body["proof"] is not None
    box = world.story.misdelivered
    box_page = page(world, "desk", f"/desk/barang/{box.serial}")
    assert WRONG_TPS in box_page and "belum masuk checkpoint log" in box_page  # sent later


def test_exports_of_findings_and_status(world: World) -> None:
    client = world.client("desk")
    response = client.get("/desk/ekspor/temuan.csv?wilayah=62.10.03")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert 'filename="temuan-62.10.03.csv"' in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0][:4] == ["Tingkat", "Prinsip", "Kode", "Temuan"]
    wrong = next(r for r in rows if r[2] == "wrong_tps")
    assert wrong[0] == "Kritis" and wrong[3].startswith(WRONG_TPS)
    late = next(r for r in rows if r[2] == "late")
    assert late[4] == "3"

    book = load_workbook(io.BytesIO(client.get("/desk/ekspor/temuan.xlsx?wilayah=62.10.03").data))
    values = [c.value for row in book.active.iter_rows() for c in row]
    assert any(isinstance(v, str) and v.startswith(WRONG_TPS) for v in values)
    pdf = client.get("/desk/ekspor/temuan.pdf?wilayah=62.10.03&prinsip=sasaran")
    assert pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")

    status = client.get("/desk/ekspor/status.csv?wilayah=62.10.03").get_data(as_text=True)
    tewah = next(
        r
        for r in csv.reader(io.StringIO(status.lstrip("\ufeff")), delimiter=";")
        if r[0] == "62.10.03.1005"
    )
    assert tewah[1] == "Tewah" and tewah[2] == "3"  # Kelurahan Tewah has 3 TPS
    assert client.get("/desk/ekspor/status.xlsx").status_code == 200
    assert client.get("/desk/ekspor/status.pdf").data.startswith(b"%PDF")


def test_observers_read_everything_but_cannot_scan(world: World) -> None:
    page(world, "bawaslu", "/desk")
    page(world, "bawaslu", f"/desk/wilayah/{TPS_A}")
    page(world, "bawaslu", "/kurir", status=403)
    answer = world.client("bawaslu").post("/api/v1/scans", json={"events": []})
    assert answer.status_code == 403
    assert 'href="/kurir"' not in page(world, "bawaslu", "/desk")  # no scan link in the menu


def test_a_courier_of_another_kecamatan_sees_nothing_of_tewah(world: World) -> None:
    box = world.story.misdelivered
    page(world, "kurir.tewah", f"/kurir/barang/{box.serial}")
    page(world, "kurir.kurun", f"/kurir/barang/{box.serial}", status=404)
    page(world, "kurir.kurun", "/kurir?simpul=62.10.03", status=404)
    page(world, "kurir.kurun", "/desk", status=403)
    page(world, "desk", "/desk/wilayah/62.11", status=404)  # outside the desk's kabupaten


def test_the_courier_page_offers_the_nodes_of_the_scope_only(world: World) -> None:
    html = page(world, "kurir.tewah", "/kurir")
    options = re.findall(r'<option value="(\d[\d.]*)"', html[: html.index('id="target"')])
    assert options[0] == "62.10.03" and TPS_A in options
    assert all(o.startswith("62.10.03") or o.startswith("621003") for o in options)
    assert re.search(r'<option value="62.10.03" data-parent="62.10" selected>PPK Tewah', html)
    assert 'capture="environment"' in html and 'data-scan-url="/api/v1/scans"' in html
    assert re.search(r'<option value="62.10" data-parent="" data-above="1">', html)  # kembali
