"""Taking a wrong item out of a kit (issue 13): a ``keluarkan`` event with its reason."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.custody.models import CustodyEvent
from app.extensions import db
from tests.items.conftest import Warehouse

pytestmark = pytest.mark.db


def test_a_wrong_item_is_taken_out_of_the_kit_with_a_reason(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps, ["KIT", "KOTAK"])
    stranger = warehouse.issue(warehouse.other_tps, ["KOTAK"])[0]
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    client = warehouse.client("gudang")

    def post(url: str, **body: Any) -> Any:
        return client.post(
            url, json={"paket": kit.serial, **body}, headers={"Accept": "application/json"}
        )

    wrong = post("/gudang/kemas", label=warehouse.label(stranger)).get_json()
    assert wrong["severity"] == "critical"
    assert [line["serial"] for line in wrong["kit"]["extra"]] == [stranger.serial]
    page = client.get("/gudang/kemas", query_string={"paket": kit.serial}).get_data(as_text=True)
    assert f'class="small secondary take-out" data-serial="{stranger.serial}"' in page

    no_reason = post("/gudang/kemas/keluarkan", serial=stranger.serial, reason=" ")
    assert no_reason.status_code == 422 and "alasan" in no_reason.get_json()["message"]
    out = post("/gudang/kemas/keluarkan", serial=stranger.serial, reason="Salah paket")
    body = out.get_json()
    assert out.status_code == 200 and body["status"] == "accepted", body
    assert body["severity"] == "ok" and body["kit"]["extra"] == []
    event = db.session.scalar(select(CustodyEvent).where(CustodyEvent.action == "keluarkan"))
    assert event is not None and event.serial == stranger.serial and event.note == "Salah paket"

    again = post("/gudang/kemas/keluarkan", serial=stranger.serial, reason="Salah paket")
    assert again.get_json()["status"] == "refused"  # it is no longer inside
    junk = post("/gudang/kemas/keluarkan", serial="bukan-seri", reason="x")
    assert junk.status_code == 422


def test_a_courier_of_another_area_cannot_take_items_out(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps, ["KIT", "KOTAK"])
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    desk = warehouse.client("desk")
    response = desk.post(
        "/gudang/kemas/keluarkan", json={"paket": kit.serial, "serial": box.serial, "reason": "x"}
    )
    assert response.status_code == 403


def test_one_item_type_prints_in_one_step(warehouse: Warehouse) -> None:
    """'Cetak hanya ini' next to a type prints that type alone, whatever else is ticked."""
    client = warehouse.client("gudang")
    page = client.get("/gudang/label").get_data(as_text=True)
    assert 'name="hanya" value="KOTAK"' in page
    everything = ["KIT", "KOTAK", "BILIK", "TINTA", "SURAT"]
    started = client.post(
        "/gudang/label",
        data={
            "wilayah": warehouse.tps,
            "jenis": everything,
            "hanya": "KOTAK",
            "tata_letak": "thermal-100x150",
        },
    )
    job = client.get(started.location, headers={"Accept": "application/json"}).get_json()
    assert job["state"] == "done"
    assert {i.item_type_code for i in warehouse.items(warehouse.tps)} == {"KOTAK"}
