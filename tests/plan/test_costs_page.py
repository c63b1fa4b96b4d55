"""Leg budgets and costs from a page, not only the CLI (issue 13, tepat biaya)."""

from __future__ import annotations

import pytest
from flask import Flask

from app.extensions import db
from app.plan.models import LegCost
from tests.conftest import login

pytestmark = pytest.mark.db

LEG = "62.10>62.10.07"  # gudang -> PPK Miri Manasa (by boat)


def test_the_warehouse_enters_a_budget_and_a_cost_and_the_overrun_shows(demo_app: Flask) -> None:
    client = demo_app.test_client()
    login(client, "gudang")
    page = client.get("/rencana/biaya")
    assert page.status_code == 200 and f'value="{LEG}"' in page.get_data(as_text=True)
    budget = client.post("/rencana/biaya/anggaran", data={"leg": LEG, "jumlah": "10.000.000"})
    assert budget.status_code == 303
    cost = client.post(
        "/rencana/biaya/catat", data={"leg": LEG, "jumlah": "12500000", "catatan": "sewa kelotok"}
    )
    assert cost.status_code == 303
    html = client.get("/rencana/biaya").get_data(as_text=True)
    assert "Rp10.000.000" in html and "Rp12.500.000" in html and "Rp2.500.000" in html
    (row,) = db.session.query(LegCost).filter_by(note="sewa kelotok").all()
    assert row.note == "sewa kelotok" and row.recorded_by is not None

    assert (
        client.post("/rencana/biaya/catat", data={"leg": LEG, "jumlah": "banyak"}).status_code
        == 422
    )
    assert client.post("/rencana/biaya/catat", data={"leg": "", "jumlah": "5"}).status_code == 422
    assert client.post("/rencana/biaya/catat", data={"leg": LEG, "jumlah": "0"}).status_code == 422
    unknown = client.post(
        "/rencana/biaya/catat", data={"leg": "62.10>62.10.02.2001", "jumlah": "5"}
    )
    assert unknown.status_code == 404


def test_the_desk_reads_costs_but_cannot_enter_them(demo_app: Flask) -> None:
    client = demo_app.test_client()
    login(client, "desk")
    assert client.get("/rencana/biaya").status_code == 200
    assert client.post("/rencana/biaya/catat", data={"leg": LEG, "jumlah": "5"}).status_code == 403
    courier = demo_app.test_client()
    login(courier, "kurir.tewah")
    assert (
        courier.post("/rencana/biaya/anggaran", data={"leg": LEG, "jumlah": "5"}).status_code == 403
    )


def test_a_cost_over_budget_reaches_the_desk_whose_findings_were_cached(
    demo_app: Flask,
) -> None:
    """The desk caches a kabupaten's live findings against what they depend on: a cost or
    budget recorded later is seen on the next request (the kabupaten's costs version)."""
    desk = demo_app.test_client()
    login(desk, "desk")

    def cost_findings() -> list[dict[str, object]]:
        body = desk.get("/api/v1/findings?wilayah=62.10&prinsip=biaya").get_json()
        return [f for f in body["findings"] if f["principle"] == "biaya"]

    assert not cost_findings()  # computed and cached
    warehouse = demo_app.test_client()
    login(warehouse, "gudang")
    warehouse.post("/rencana/biaya/anggaran", data={"leg": LEG, "jumlah": "1000000"})
    assert not cost_findings()  # a budget alone is no overrun
    warehouse.post("/rencana/biaya/catat", data={"leg": LEG, "jumlah": "1500000"})
    (over,) = cost_findings()
    assert over["live"] and over["severity"] in ("warning", "critical")
