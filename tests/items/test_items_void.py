"""Void means dead: a voided serial is refused everywhere, replaced once, and logged."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import labels
from app.auth import service as auth
from app.custody import codec
from app.custody.models import CustodyEvent, FindingRow, ItemStateRow, TpsTallyRow
from app.custody.service import ensure_tallies
from app.extensions import db
from app.items.models import Item
from app.items.service import replacement_of, void_item
from tests.items.conftest import Warehouse, qr_texts, wait_for_job
from tests.items.test_items_bast import ingest

pytestmark = pytest.mark.db


def gudang_id(warehouse: Warehouse) -> object:
    return auth.find_user(db.session, "gudang").id


def kemas(warehouse: Warehouse, item: str, container: str) -> dict:
    """Pack by the item's QR text, or by its typed serial."""
    field = "serial" if labels.is_serial(item) else "label"
    return ingest(
        warehouse,
        "gudang",
        [
            {
                "device_time": "2024-11-25T22:00:00Z",
                field: item,
                "container": container,
                "action": "kemas",
                "node": "62.10",
            }
        ],
    )[0]


def tally(tps: str) -> dict:
    """The TPS tally as the desk reads it, rebuilt from scratch when it was dropped."""
    rows: dict = {r.tps: r for r in db.session.scalars(select(TpsTallyRow))}
    ensure_tallies(db.session, {tps}, rows)
    return codec.tally_to_dict(codec.tally_from_dict(tps, rows[tps].tally))


def test_a_voided_label_is_refused_as_item_and_as_container(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps)
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    box, other = warehouse.items(warehouse.tps, "KOTAK")[:2]
    void_item(db.session, box, gudang_id(warehouse), "label basah")
    as_item = kemas(warehouse, warehouse.label(box), warehouse.label(kit))
    assert (as_item["status"], as_item["code"]) == ("rejected", "voided_label")
    void_item(db.session, kit, gudang_id(warehouse), "kit salah cetak")
    as_container = kemas(warehouse, warehouse.label(other), warehouse.label(kit))
    assert (as_container["status"], as_container["code"]) == ("rejected", "voided_label")
    assert "wadah" in as_container["message"]
    typed = kemas(warehouse, other.serial, labels.format_serial(kit.serial))  # typed serials too
    assert typed["code"] == "voided_label"
    assert db.session.get(ItemStateRow, other.serial) is None  # never packed


def test_a_kit_holding_a_voided_item_moves_without_it_and_the_tally_leaves_it_out(
    warehouse: Warehouse,
) -> None:
    warehouse.issue(warehouse.tps)
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    key = f"KOTAK|{box.race_kind}"
    for item in (box, *warehouse.items(warehouse.tps, "BILIK")):
        assert kemas(warehouse, warehouse.label(item), warehouse.label(kit))["status"] == "accepted"
    assert tally(warehouse.tps)["issued"][key] == 1
    void_item(db.session, box, gudang_id(warehouse), "kotak retak, diganti")
    assert key not in tally(warehouse.tps)["issued"]  # a dead label is no unit of the TPS

    sent = ingest(
        warehouse,
        "gudang",
        [
            {
                "device_time": "2024-11-25T23:00:00Z",
                "label": warehouse.label(kit),
                "action": "kirim",
                "node": "62.10",
                "target": "62.10.02",
            }
        ],
    )[0]
    assert sent["status"] == "accepted"  # the kit moves
    reported = [f for f in sent["findings"] if f["code"] == "voided_label_carried"]
    assert len(reported) == 1 and box.serial in reported[0]["message"]
    assert db.session.get(ItemStateRow, box.serial).holder == "62.10"  # the dead box did not
    booth = warehouse.items(warehouse.tps, "BILIK")[0]
    assert db.session.get(ItemStateRow, booth.serial).transit_to == "62.10.02"
    received = ingest(
        warehouse,
        "kurir.kurun",
        [
            {
                "device_time": "2024-11-25T23:30:00Z",
                "label": warehouse.label(kit),
                "action": "terima",
                "node": "62.10.02",
            }
        ],
    )[0]
    assert received["status"] == "accepted"
    assert any(f["code"] == "voided_label_carried" for f in received["findings"])
    assert key not in tally(warehouse.tps)["known"]


def test_a_replacement_can_be_issued_any_time_later_and_is_counted_once(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    warehouse.issue(warehouse.tps, ["KOTAK"])
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    key = f"KOTAK|{box.race_kind}"
    runner = warehouse.app.test_cli_runner()
    human = labels.format_serial(box.serial)
    voided = runner.invoke(args=["labels", "void", human, "--reason", "hilang", "--oleh", "gudang"])
    assert voided.exit_code == 0, voided.output
    again = runner.invoke(args=["labels", "void", human, "--reason", "lagi", "--oleh", "gudang"])
    assert again.exit_code == 1 and "sudah dibatalkan" in again.output
    # Issuing the region does not bring it back: the voided unit waits for its replacement.
    assert tally(warehouse.tps)["issued"].get(key) is None

    out = tmp_path / "pengganti.pdf"
    replaced = runner.invoke(
        args=[
            "labels",
            "replace",
            human,
            "--oleh",
            "gudang",
            "-l",
            "thermal-100x50",
            "-o",
            str(out),
        ]
    )
    assert replaced.exit_code == 0, replaced.output
    db.session.expire_all()
    fresh = replacement_of(db.session, db.session.get(Item, box.serial))
    assert fresh is not None and fresh.replaces == box.serial
    assert labels.format_serial(fresh.serial) in replaced.output
    printed = labels.decode(qr_texts(out.read_bytes(), dpi=300)[0], warehouse.keyring)
    assert printed.serial == fresh.serial
    twice = runner.invoke(args=["labels", "replace", human, "--oleh", "gudang", "-o", str(out)])
    assert twice.exit_code == 1 and "sudah diganti" in twice.output
    assert tally(warehouse.tps)["issued"][key] == 1  # once, not beside the voided one
    nobody = runner.invoke(args=["labels", "replace", human, "--oleh", "siapa"])
    assert nobody.exit_code == 2 and "pengguna 'siapa' tidak ada" in nobody.output

    # Void and replacement are events in each item's hash-chained custody log.
    events = {
        (e.serial, e.action, e.note)
        for e in db.session.scalars(
            select(CustodyEvent).where(CustodyEvent.action.in_(("cabut", "ganti")))
        )
    }
    assert events == {
        (box.serial, "cabut", "hilang"),
        (fresh.serial, "ganti", f"pengganti {human}"),
    }
    verified = runner.invoke(args=["ledger", "verify"])
    assert verified.exit_code == 0, verified.output


def test_the_serial_page_offers_a_replacement_for_a_voided_label(warehouse: Warehouse) -> None:
    box = warehouse.issue(warehouse.tps, ["KOTAK"])[0]
    client = warehouse.client("gudang")
    assert client.post(f"/gudang/seri/{box.serial}/pengganti").status_code == 409  # not voided
    void_item(db.session, box, gudang_id(warehouse), "label sobek")
    page = client.get("/gudang/seri", query_string={"serial": box.serial}).get_data(as_text=True)
    assert f"/gudang/seri/{box.serial}/pengganti" in page
    done = client.post(f"/gudang/seri/{box.serial}/pengganti", data={"tata_letak": "a4-sticker"})
    job = wait_for_job(client, done.location)
    assert job["state"] == "done" and job["count"] == 1
    db.session.expire_all()
    fresh = replacement_of(db.session, box)
    assert fresh is not None
    page = client.get("/gudang/seri", query_string={"serial": box.serial}).get_data(as_text=True)
    assert labels.format_serial(fresh.serial) in page and "/pengganti" not in page
    assert client.post(f"/gudang/seri/{box.serial}/pengganti").status_code == 409
    assert warehouse.client("desk").post(f"/gudang/seri/{box.serial}/pengganti").status_code == 403


def test_devices_cannot_send_label_events(warehouse: Warehouse) -> None:
    box = warehouse.issue(warehouse.tps, ["KOTAK"])[0]
    for action in ("cabut", "ganti"):
        result = ingest(
            warehouse,
            "gudang",
            [
                {
                    "device_time": "2024-11-25T22:00:00Z",
                    "serial": box.serial,
                    "action": action,
                    "node": "62.10",
                }
            ],
        )[0]
        assert (result["status"], result["code"]) == ("rejected", "malformed")
    assert not db.session.scalar(select(FindingRow).where(FindingRow.serial == box.serial))
