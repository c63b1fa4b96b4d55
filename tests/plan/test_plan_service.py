"""Plan import, needs export and the plan pages, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import Workbook, load_workbook
from sqlalchemy import func, select

from app.errors import PlanImportError
from app.extensions import db
from app.plan import demo, service
from app.plan.models import CustodyNode, NodeKind, PlanLine, RouteLeg, Tps
from tests.conftest import login


def _csv(
    rows: list[list[object]], header: tuple[str, ...] = ("kode desa", "nomor tps", "dpt", "dptb")
) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode()


@pytest.fixture
def regions(app: Flask) -> Flask:
    """Gunung Mas regions, item rules and the election, but no TPS yet."""
    service.load_regions(db.session, io.StringIO(demo.data_text("gunung-mas-wilayah.csv")))
    service.ensure_item_types(db.session)
    service.ensure_election(
        db.session, demo.ELECTION_CODE, demo.ELECTION_NAME, demo.ELECTION_DAY, demo.RACES
    )
    return app


def test_import_builds_tps_nodes_routes_and_plan(regions: Flask) -> None:
    data = _csv([["62.10.03.2003", 1, 400, 5], ["62.10.03.2003", 2, 401, 0]])
    result = service.import_tps(db.session, demo.ELECTION_CODE, "62.10", "tps.csv", data)
    assert (result.created, result.updated) == (2, 0)
    assert db.session.get(Tps, "6210032003002").dpt == 401
    kpps = db.session.get(CustodyNode, "6210032003001")
    assert kpps.kind is NodeKind.KPPS and kpps.parent_code == "62.10.03.2003"
    assert db.session.get(CustodyNode, "62.10.03").parent_code == "62.10"
    ballots = db.session.scalar(
        select(PlanLine.quantity).where(
            PlanLine.destination == "6210032003001",
            PlanLine.item_type_code == "SURAT",
            PlanLine.race_kind == "GUB",
        )
    )
    assert ballots == 400 + 5 + 10
    leg = db.session.scalar(
        select(RouteLeg).where(RouteLeg.to_node == "6210032003001", RouteLeg.is_return.is_(False))
    )
    assert leg.day_offset == -1 and leg.deadline_at.isoformat().startswith("2024-11-26T13:00")


def test_reimport_updates_and_never_duplicates(regions: Flask) -> None:
    first = _csv([["62.10.03.2003", 1, 400, 0]])
    service.import_tps(db.session, demo.ELECTION_CODE, "62.10", "tps.csv", first)
    lines_before = db.session.scalar(select(func.count()).select_from(PlanLine))
    legs_before = db.session.scalar(select(func.count()).select_from(RouteLeg))
    result = service.import_tps(
        db.session, demo.ELECTION_CODE, "62.10", "tps.csv", _csv([["62.10.03.2003", 1, 420, 0]])
    )
    assert (result.created, result.updated) == (0, 1)
    assert db.session.scalar(select(func.count()).select_from(Tps)) == 1
    assert db.session.scalar(select(func.count()).select_from(PlanLine)) == lines_before
    assert db.session.scalar(select(func.count()).select_from(RouteLeg)) == legs_before


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        ([["62.10.03.9999", 1, 100, 0]], (2, "kode desa", "tidak dikenal")),
        ([["62.11.01.2001", 1, 100, 0]], (2, "kode desa", "bukan wilayah 62.10")),
        ([["62.10.03.2003", 1, 601, 0]], (2, "dpt", "0 sampai 600")),
        ([["62.10.03.2003", 1, "banyak", 0]], (2, "dpt", "bilangan bulat")),
        ([["62.10.03.2003", "", 100, 0]], (2, "nomor tps", "wajib")),
        ([["62.10.03.2003", 1, 100, -3]], (2, "dptb", "paling sedikit 0")),
        (
            [["62.10.03.2003", 1, 100, 0], ["62.10.03.2003", 1, 90, 0]],
            (3, "nomor tps", "sudah ada di baris 3"),
        ),
        ([["6210032003", 1, 100, 0]], (2, "kode desa", "PP.KK.CC.DDDD")),
    ],
)
def test_bad_rows_get_a_precise_error_and_import_nothing(
    regions: Flask, rows: list[list[object]], expected: tuple[int, str, str]
) -> None:
    good = [["62.10.03.2003", 5, 100, 0]]
    with pytest.raises(PlanImportError) as caught:
        service.import_tps(db.session, demo.ELECTION_CODE, "62.10", "tps.csv", _csv(good + rows))
    row, column, message = expected
    hits = [e for e in caught.value.errors if e.column == column and message in e.message]
    assert hits and hits[0].row == row + 1
    assert db.session.scalar(select(func.count()).select_from(Tps)) == 0


def test_missing_columns_are_reported_on_the_header(regions: Flask) -> None:
    with pytest.raises(PlanImportError) as caught:
        service.import_tps(
            db.session,
            demo.ELECTION_CODE,
            "62.10",
            "x.csv",
            _csv([["a", "b"]], header=("desa", "jumlah")),
        )
    assert caught.value.errors[0].row == 1 and caught.value.errors[0].column == "header"


def test_xlsx_with_tps_ids_imports_like_csv(regions: Flask) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["TPS ID", "DPT", "DPTb"])
    sheet.append(["6210032003001", 350, 2])
    sheet.append([6210032003002, 280, None])
    data = io.BytesIO()
    book.save(data)
    result = service.import_tps(
        db.session, demo.ELECTION_CODE, "62.10", "tps.xlsx", data.getvalue()
    )
    assert result.created == 2
    assert db.session.get(Tps, "6210032003002").number == 2


def test_demo_plan_totals_and_export(demo_app: Flask) -> None:
    sums = service.needs_table(db.session, demo.ELECTION_CODE, "62.10", "kabupaten")
    row = sums.rows[0]
    assert row["tps"] == 219 and row["dpt"] == 89_540
    assert row["needs"][("BILIK", "")] == 876
    assert (
        row["needs"][("KOTAK", "GUB")]
        + row["needs"][("KOTAK", "BUP")]
        + row["needs"][("KOTAK", "")]
        == 219 * 2 + 24
    )
    for level, count in (("kecamatan", 12), ("desa", 127), ("tps", 219)):
        table = service.needs_table(db.session, demo.ELECTION_CODE, "62.10", level)
        assert len(table.rows) == count
        out = io.BytesIO()
        service.export_needs(table, "xlsx", out)
        sheet = load_workbook(io.BytesIO(out.getvalue())).active
        assert sheet.max_row == count + 1
    out = io.BytesIO()
    service.export_needs(
        service.needs_table(db.session, demo.ELECTION_CODE, "62.10", "kecamatan"), "csv", out
    )
    records = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8-sig"))))
    assert records[0][:4] == ["kode", "nama", "jumlah_tps", "dpt"]
    assert sum(int(r[3]) for r in records[1:]) == 89_540


def test_home_page_lists_the_12_kecamatan_with_tps_counts(
    demo_app: Flask, client: FlaskClient
) -> None:
    assert client.get("/rencana").status_code == 302  # sign in first
    login(client, "desk")
    page = client.get("/rencana").get_data(as_text=True)
    for name in ("Sepang", "Kurun", "Tewah", "Rungan Barat", "Miri Manasa"):
        assert name in page
    assert page.count('href="/rencana?wilayah=62.10.') == 12
    assert "sintetis" in page


def test_kecamatan_user_sees_only_their_kecamatan(demo_app: Flask, client: FlaskClient) -> None:
    login(client, "kurir.tewah")
    assert client.get("/rencana").status_code == 200
    assert client.get("/rencana?wilayah=62.10.03").status_code == 200
    assert client.get("/rencana?wilayah=62.10.02").status_code == 404
    assert client.get("/rencana?wilayah=62.10").status_code == 404


def test_import_page_shows_row_errors_and_needs_the_right_role(
    demo_app: Flask, client: FlaskClient
) -> None:
    login(client, "desk")
    assert client.get("/rencana/impor").status_code == 403
    client.post("/keluar")
    login(client, "gudang")
    response = client.post(
        "/rencana/impor",
        data={"berkas": (io.BytesIO(_csv([["62.10.03.2003", 1, 9999, 0]])), "tps.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "baris" in response.get_data(as_text=True).lower() or "Baris" in response.get_data(
        as_text=True
    )
    assert db.session.get(Tps, "6210032003001").dpt != 9999


def test_export_page_downloads_xlsx(demo_app: Flask, client: FlaskClient) -> None:
    login(client, "admin")
    response = client.get("/rencana/ekspor?tingkat=desa&format=xlsx")
    assert response.status_code == 200
    assert load_workbook(io.BytesIO(response.data)).active.max_row == 128
    assert client.get("/rencana/ekspor?tingkat=planet").status_code == 422
