"""Every custody event records how its item was identified: signed QR, https QR, typed serial."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

import labels
from app.custody.models import CustodyEvent
from app.extensions import db
from scanner.outbox import NewScan, Outbox
from tests.items.conftest import Warehouse
from tests.items.test_items_bast import ingest

pytestmark = pytest.mark.db

BASE_URL = "https://tepat.example.id"


def receive(warehouse: Warehouse, **fields: object) -> dict:
    event = {"device_time": "2024-11-25T22:00:00Z", "action": "terima", "node": "62.10"}
    return ingest(warehouse, "gudang", [{**event, **fields}])[0]


def test_each_event_keeps_how_its_item_was_identified(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps, ["KOTAK", "BILIK", "TINTA"])
    box, booth, ink = (
        warehouse.items(warehouse.tps, kind)[0] for kind in ("KOTAK", "BILIK", "TINTA")
    )
    link = labels.encode_url(
        labels.LabelPayload(booth.serial, "BILIK", booth.destination, None, booth.quantity,
                            key_id=warehouse.signer.key_id),
        warehouse.signer,
        BASE_URL,
    )  # fmt: skip
    assert receive(warehouse, label=warehouse.label(box))["status"] == "accepted"
    assert receive(warehouse, label=link)["status"] == "accepted"
    assert receive(warehouse, serial=labels.format_serial(ink.serial))["status"] == "accepted"
    stored = dict(db.session.execute(select(CustodyEvent.serial, CustodyEvent.identified_by)).all())
    assert stored == {box.serial: "qr_signed", booth.serial: "qr_link", ink.serial: "typed"}

    # A client may say it (the label typed in full is still "typed"); a QR claim needs the QR.
    kirim = {"action": "kirim", "target": "62.10.02"}
    said = receive(warehouse, label=warehouse.label(box), identified_by="typed", **kirim)
    assert said["status"] == "accepted"
    claimed = receive(warehouse, serial=ink.serial, identified_by="qr_signed", **kirim)
    assert (claimed["status"], claimed["code"]) == ("rejected", "malformed")
    assert "label" in claimed["message"]
    odd = receive(warehouse, serial=ink.serial, identified_by="kamera", **kirim)
    assert (odd["status"], odd["code"]) == ("rejected", "malformed")

    page = warehouse.client("desk").get(f"/desk/barang/{box.serial}").get_data(as_text=True)
    assert 'data-identified="qr_signed"' in page and "QR bertanda tangan" in page
    assert 'data-identified="typed"' in page  # the second scan, said by the client
    desk = warehouse.client("desk").get("/desk/wilayah/62.10").get_data(as_text=True)
    counted = desk[desk.index('id="identified"') :]
    assert "QR bertanda tangan <b>1</b>" in counted and "QR tautan https <b>1</b>" in counted
    assert "Nomor seri diketik <b>2</b>" in counted


def test_tepat_scan_sends_it_and_resends_older_scans_unchanged(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite3") as box:
        signed = box.add(NewScan("TP1:ABC", "terima", "62.10"))
        link = box.add(NewScan("HTTPS://TEPAT.EXAMPLE.ID/L/ABC", "terima", "62.10"))
    assert signed.to_json()["identified_by"] == "qr_signed"
    assert link.to_json()["identified_by"] == "qr_link"
    # A scan queued by an older tepat-scan goes out byte for byte as it was first sent.
    older = {k: v for k, v in signed.to_json().items() if k != "identified_by"}
    from scanner.outbox import ScanEvent

    assert json.dumps(ScanEvent.from_json(older).to_json()) == json.dumps(older)
