"""Issuing labels: one serial per physical unit, recorded, and never issued twice."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app.extensions import db
from app.items.models import Item, LabelAction, LabelLog
from app.items.service import plan_issue
from app.plan import codes
from app.plan.models import ItemType, PlanLine
from app.plan.needs import bundles
from tests.items.conftest import ELECTION, Warehouse


def planned_units(region: str) -> Counter[tuple[str, str, int]]:
    """(type, race, quantity) of every physical unit the plan gives a region's labelled types."""
    types = {t.code: t for t in db.session.scalars(select(ItemType).where(ItemType.labelled))}
    units: Counter[tuple[str, str, int]] = Counter()
    for line in db.session.scalars(select(PlanLine).where(PlanLine.election_code == ELECTION)):
        if line.item_type_code in types and codes.within(line.destination, region):
            for quantity in bundles(line.quantity, types[line.item_type_code].bundle_size):
                units[(line.item_type_code, line.race_kind, quantity)] += 1
    return units


def test_issuing_creates_one_serial_per_physical_unit_and_never_twice(warehouse: Warehouse) -> None:
    items = warehouse.issue(warehouse.tps)
    assert Counter((i.item_type_code, i.race_kind, i.quantity) for i in items) == planned_units(
        warehouse.tps
    )
    assert len({i.serial for i in items}) == len(items)
    surat = [i.quantity for i in items if i.item_type_code == "SURAT" and i.race_kind == "GUB"]
    assert max(surat) == 20 and len([q for q in surat if q < 20]) <= 1  # bundles of 20
    logs = db.session.scalars(select(LabelLog).where(LabelLog.action == LabelAction.ISSUE)).all()
    assert sorted(log.serial for log in logs) == sorted(i.serial for i in items)
    assert all(i.issued_at is not None and i.key_id == warehouse.signer.key_id for i in items)

    # Again, and through the desa around it: nothing new for this TPS.
    again = warehouse.issue(warehouse.tps)
    assert sorted(i.serial for i in again) == sorted(i.serial for i in items)
    warehouse.issue(codes.desa_of_tps(warehouse.tps))
    assert len(warehouse.items(warehouse.tps)) == len(items)
    assert plan_issue(db.session, ELECTION, warehouse.tps, None).missing == []


def test_a_voided_unit_is_not_issued_again_without_asking(warehouse: Warehouse) -> None:
    from app.items.service import void_item

    box = warehouse.issue(warehouse.tps, ["KOTAK"])[0]
    from app.auth.service import find_user

    void_item(db.session, box, find_user(db.session, "gudang").id, "label sobek")
    assert (
        warehouse.issue(warehouse.tps, ["KOTAK"])
        and len(warehouse.items(warehouse.tps, "KOTAK")) == 2
    )  # two races, voided one counted
    assert db.session.scalar(select(Item).where(Item.serial == box.serial)).voided_at is not None
