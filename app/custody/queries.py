"""Read side of custody: plan slices, item histories, region summaries, findings, proofs."""

from __future__ import annotations

import base64
import threading
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody import codec, merkle, rules
from app.custody.errors import ProofError
from app.custody.ledger import KEY_NAME, fingerprint, ledger_public_key
from app.custody.models import (
    Checkpoint,
    CustodyEvent,
    FindingRow,
    ItemStateRow,
    LedgerEntry,
    TpsTallyRow,
)
from app.custody.names import PlaceNames
from app.custody.planview import build_plan, to_rules_item
from app.custody.service import ensure_tallies, finding_dict
from app.errors import NotFound, ValidationFailed
from app.items.models import Item
from app.plan import codes
from app.plan import service as plan_service
from app.plan.models import (
    CustodyNode,
    Election,
    ItemType,
    LegCost,
    PlanLine,
    Region,
    RouteLeg,
    Tps,
)

PRINCIPLES = ("jenis", "jumlah", "kualitas", "waktu", "sasaran", "biaya", "akuntabilitas")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


def plan_slice(session: Session, election: Election, node: str) -> dict[str, Any]:
    """What may pass through a node, for a scanner to check offline."""
    row = session.get(CustodyNode, node)
    if row is None:
        raise NotFound("Simpul distribusi tidak ditemukan.")
    kab = codes.kabkota_of(node)
    prefix = kab.replace(".", "")
    tps_ids = [
        t
        for t in session.scalars(select(Tps.id).where(Tps.id.like(prefix + "%")))
        if codes.within(t, node)
    ]
    lines = [
        line
        for line in session.scalars(
            select(PlanLine).where(
                PlanLine.election_code == election.code, PlanLine.kabkota_code == kab
            )
        )
        if codes.within(line.destination, node) or line.destination == node
    ]
    children = list(
        session.scalars(
            select(CustodyNode.code)
            .where(CustodyNode.parent_code == node)
            .order_by(CustodyNode.code)
        )
    )
    voided = list(
        session.scalars(
            select(Item.serial).where(Item.kabkota_code == kab, Item.voided_at.is_not(None))
        )
    )
    races = sorted(
        {
            r.kind.value
            for r in election.races
            if codes.within(kab, r.region_code) or kab == r.region_code
        }
    )
    return {
        "node": node,
        "kind": row.kind.value,
        "name": row.name,
        "parent": row.parent_code,
        "children": children,
        "destinations": sorted(tps_ids),
        "allowed": [
            {
                "destination": ln.destination,
                "item_type": ln.item_type_code,
                "race": ln.race_kind or None,
                "quantity": ln.quantity,
            }
            for ln in lines
        ],
        "voided": voided,
        "races": races,
        "election": election.code,
    }


def nodes_within(session: Session, scope: str) -> list[CustodyNode]:
    """The custody nodes inside a scope (region code or TPS id), gudang first, TPS last."""
    region = codes.node_region(scope)
    rows = session.scalars(
        select(CustodyNode).where(
            (CustodyNode.region_code == region) | CustodyNode.region_code.like(region + ".%")
        )
    )
    order = {"gudang": 0, "ppk": 1, "pps": 2, "kpps": 3}
    return sorted(
        (n for n in rows if codes.within(n.code, scope)),
        key=lambda n: (order[n.kind.value], n.code),
    )


def visible_item(session: Session, user: User, serial: str) -> Item:
    """An item the user may see: destined for, held in or heading into their scope."""
    try:
        canonical = labels.parse_serial(serial)
    except labels.LabelError:
        raise NotFound("Barang tidak ditemukan.") from None
    item = session.get(Item, canonical)
    if item is None:
        raise NotFound("Barang tidak ditemukan.")
    state = session.get(ItemStateRow, item.serial)
    places = [item.destination] + ([state.holder, state.transit_to] if state else [])
    if not any(p and codes.within(p, user.scope_code) for p in places):
        raise NotFound("Barang tidak ditemukan.")
    return item


def item_history(session: Session, user: User, serial: str) -> dict[str, Any]:
    """An item, its state, its events with the hash chain, and its findings."""
    item = visible_item(session, user, serial)
    state = session.get(ItemStateRow, item.serial)
    item_type = session.get(ItemType, item.item_type_code)
    events = session.scalars(
        select(CustodyEvent)
        .where(CustodyEvent.serial == item.serial)
        .order_by(CustodyEvent.item_seq)
    ).all()
    ledger = {
        e.event_id: e.idx
        for e in session.scalars(
            select(LedgerEntry).where(LedgerEntry.event_id.in_([ev.event_id for ev in events]))
        )
    }
    findings = session.scalars(
        select(FindingRow).where(FindingRow.serial == item.serial).order_by(FindingRow.created_at)
    ).all()
    return {
        "serial": item.serial,
        "serial_display": labels.format_serial(item.serial),
        "item_type": item.item_type_code,
        "item_type_name": item_type.name_id if item_type else "",
        "race": item.race_kind or None,
        "destination": item.destination,
        "quantity": item.quantity,
        "issued_at": item.issued_at.isoformat(),
        "reprints": item.reprint_count,
        "voided_at": item.voided_at.isoformat() if item.voided_at else None,
        "void_reason": item.void_reason,
        "state": (
            {
                "stage": state.stage,
                "holder": state.holder,
                "transit_to": state.transit_to,
                "condition": state.condition,
                "container": state.container,
                "seals": state.state.get("seals", []),
            }
            if state
            else {"stage": "gudang"}
        ),
        "contents": list(
            session.scalars(
                select(ItemStateRow.serial).where(ItemStateRow.container == item.serial)
            )
        ),
        "events": [
            {
                "event_id": str(e.event_id),
                "seq": e.item_seq,
                "action": e.action,
                "node": e.node,
                "target": e.target,
                "device_time": e.device_time.isoformat(),
                "server_time": e.server_time.isoformat(),
                "skew_seconds": e.skew_seconds,
                "device_id": e.device_id,
                "device_seq": e.device_seq,
                "quantity": e.quantity,
                "condition": e.condition,
                "seals": e.seals,
                "counterpart": e.counterpart,
                "container": e.container,
                "prev_hash": e.prev_hash.hex(),
                "hash": e.hash.hex(),
                "ledger_index": ledger.get(e.event_id),
            }
            for e in events
        ],
        "findings": [_finding_row_dict(f) for f in findings],
    }


def _finding_row_dict(row: FindingRow) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "code": row.code,
        "principle": row.principle,
        "severity": row.severity,
        "message": row.message,
        "serial": row.serial,
        "tps": row.tps,
        "node": row.node,
        "region": row.region_code,
        "event_ids": row.event_ids,
        "created_at": row.created_at.isoformat(),
        "live": False,
        "status": row.status,
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }


def status_counts(
    session: Session, election: Election, area: str, now: datetime
) -> dict[str, int]:
    """Items per ``rules.ItemStatus`` for the destinations inside an area, as of ``now``
    (deadlines included: delivered but unconfirmed after the last leg is missing).

    Reads the area's items and states only; ``not_issued`` counts planned destinations
    with no label issued.
    """
    kab = codes.kabkota_of(area)
    plan = build_plan(session, election, kab)
    prefix = area.replace(".", "") if codes.TPS_ID.match(area) else area
    flat = area.replace(".", "")
    rows = session.execute(
        _STATUS_ROW.where(
            Item.kabkota_code == kab,
            (Item.destination == area)
            | Item.destination.like(prefix + ".%")
            | Item.destination.like(flat + "%"),
        )
    ).all()
    items = [to_rules_item(r) for r in rows if codes.within(r.destination, area)]
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in rows
        if r.state is not None and codes.within(r.destination, area)
    }
    counted = rules.count_statuses(plan, items, states, now, within=area)
    return {status.value: n for status, n in counted.items()}


_STATUS_ROW = select(
    Item.serial,
    Item.item_type_code,
    Item.race_kind,
    Item.destination,
    Item.quantity,
    Item.kabkota_code,
    Item.voided_at,
    ItemStateRow.state,
).outerjoin(ItemStateRow, ItemStateRow.serial == Item.serial)


@dataclass
class Snapshot:
    """Everything the desk needs about one kabupaten, from the state tables only."""

    kab: str
    states: dict[str, Any]  # serial -> row (serial, holder, transit_to, stage, state)
    items: list[Any]  # rows of the item columns the rules need
    findings: list[dict[str, Any]]


_snapshots: dict[tuple[str, str], tuple[tuple[Any, ...], Snapshot]] = {}
_snapshots_lock = threading.Lock()


def snapshot(session: Session, election: Election, kab: str, now: datetime) -> Snapshot:
    """Stored findings plus live quantity and deadline findings as of ``now`` (minute).

    Cached per kabupaten until an event, an item or a finding is added, or the minute turns:
    the desk reloads often and nothing it shows changes in between.
    """
    version = tuple(
        session.execute(
            select(
                select(func.max(CustodyEvent.server_time))
                .where(CustodyEvent.kabkota_code == kab)
                .scalar_subquery(),
                select(func.count(Item.serial)).where(Item.kabkota_code == kab).scalar_subquery(),
                select(func.count(Item.voided_at))
                .where(Item.kabkota_code == kab)
                .scalar_subquery(),
                select(func.count(FindingRow.id))
                .where(FindingRow.kabkota_code == kab)
                .scalar_subquery(),
                # Costs and budgets feed tepat biaya.
                select(func.count(LegCost.id)).scalar_subquery(),
                select(func.sum(RouteLeg.budget_idr)).scalar_subquery(),
            )
        ).one()
    ) + (now.replace(second=0, microsecond=0),)
    key = (str(session.get_bind().url), kab)
    with _snapshots_lock:
        hit = _snapshots.get(key)
    if hit is not None and hit[0] == version:
        return hit[1]
    result = _snapshot(session, election, kab, now.replace(second=0, microsecond=0))
    with _snapshots_lock:
        _snapshots[key] = (version, result)
    return result


def _snapshot(session: Session, election: Election, kab: str, now: datetime) -> Snapshot:
    plan = build_plan(session, election, kab)
    tally_rows = {
        r.tps: r
        for r in session.scalars(select(TpsTallyRow).where(TpsTallyRow.kabkota_code == kab))
    }
    if set(plan.destinations) - set(tally_rows):
        ensure_tallies(session, plan.destinations, tally_rows)
        session.commit()  # derived rows, built once; later reads find them
    tallies = {d: codec.tally_from_dict(d, r.tally) for d, r in tally_rows.items()}
    # Plain rows, not ORM objects: a kabupaten has tens of thousands of items.
    items = list(
        session.execute(
            select(
                Item.serial,
                Item.item_type_code,
                Item.race_kind,
                Item.destination,
                Item.quantity,
                Item.kabkota_code,
                Item.voided_at,
            ).where(Item.kabkota_code == kab)
        )
    )
    state_rows = {
        r.serial: r
        for r in session.execute(
            select(
                ItemStateRow.serial,
                ItemStateRow.holder,
                ItemStateRow.transit_to,
                ItemStateRow.stage,
                ItemStateRow.state,
            ).where(ItemStateRow.kabkota_code == kab)
        )
    }
    states = {s: codec.state_from_dict(r.state) for s, r in state_rows.items()}
    rules_items = {i.serial: to_rules_item(i) for i in items if i.voided_at is None}
    budgets, costs = plan_service.leg_costs(session, election.code, kab)
    live = (
        rules.check_costs(budgets, costs)
        + rules.check_all_quantities(plan, tallies)
        + rules.check_deadlines(plan, rules_items, states, now)
        + rules.check_return_deadlines(plan, rules_items, states, now)
    )
    findings = [
        _finding_row_dict(f)
        for f in session.scalars(select(FindingRow).where(FindingRow.kabkota_code == kab))
    ]
    names = PlaceNames(session)
    by_serial = {i.serial: i for i in items}
    for finding in live:
        data = finding_dict(names.humanize(finding, by_serial.get(finding.serial or "")))
        place = finding.node or finding.tps or kab
        data.update(
            {
                "id": f"live-{finding.code}-{finding.serial or place}",
                "region": codes.node_region(place),
                "created_at": now.isoformat(),
                "live": True,
            }
        )
        findings.append(data)
    return Snapshot(kab, state_rows, items, findings)


def _child_of(area: str, code: str) -> str | None:
    """The child region of ``area`` that contains ``code`` (None if outside)."""
    region = codes.node_region(code)
    if not (region == area or region.startswith(area + ".")):
        return None
    depth = area.count(".") + 1
    parts = region.split(".")
    if len(parts) <= depth:
        return None if codes.TPS_ID.match(code) is None else code
    child = ".".join(parts[: depth + 1])
    if child.count(".") == 3 and codes.TPS_ID.match(code) and area.count(".") == 3:
        return code
    return child


def region_summary(
    session: Session, election: Election, area: str, now: datetime, *, snap: Snapshot | None = None
) -> dict[str, Any]:
    """Per child region: TPS, items by stage, delivered share, findings per principle.

    Pass ``snap`` (a snapshot of the area's kabupaten) to share one read between queries.
    """
    kab = codes.kabkota_of(area)
    snap = snap or snapshot(session, election, kab, now)
    names = dict(
        session.execute(
            select(Region.code, Region.name).where(
                (Region.code == area) | Region.code.like(area + ".%")
            )
        ).all()
    )
    level_is_desa = area.count(".") == 3
    children: dict[str, dict[str, Any]] = {}

    def child(code: str) -> dict[str, Any]:
        if code not in children:
            name = names.get(code) or (f"TPS {code[-3:]}" if codes.TPS_ID.match(code) else code)
            children[code] = {
                "code": code,
                "name": name,
                "tps": 0,
                "items": 0,
                "delivered": 0,
                "stages": Counter(),
                "principles": {p: {"count": 0, "worst": None} for p in PRINCIPLES},
            }
        return children[code]

    prefix = kab.replace(".", "")
    for tps in session.scalars(select(Tps.id).where(Tps.id.like(prefix + "%"))):
        target = tps if level_is_desa else _child_of(area, tps)
        if target and codes.within(tps, area):
            child(target)["tps"] += 1
    for item in snap.items:
        if item.voided_at is not None or not codes.within(item.destination, area):
            continue
        target = item.destination if level_is_desa else _child_of(area, item.destination)
        if target is None:
            continue
        row = child(target)
        state = snap.states.get(item.serial)
        stage = state.stage if state else "gudang"
        row["items"] += 1
        row["stages"][stage] += 1
        if state and state.holder == item.destination and state.transit_to is None:
            row["delivered"] += 1
    totals = {p: {"count": 0, "worst": None} for p in PRINCIPLES}
    for finding in snap.findings:
        place = finding.get("region")
        if not place or not codes.within(place, area):
            continue
        if level_is_desa and finding.get("tps") and codes.within(finding["tps"], area):
            place = finding["tps"]
        principle = finding["principle"]
        if principle not in totals:
            continue
        for bucket in [totals] + (
            [child(t)["principles"]]
            if (
                t := (
                    place if level_is_desa and codes.TPS_ID.match(place) else _child_of(area, place)
                )
            )
            else []
        ):
            entry = bucket[principle]
            entry["count"] += 1
            if (
                entry["worst"] is None
                or SEVERITY_RANK[finding["severity"]] > SEVERITY_RANK[entry["worst"]]
            ):
                entry["worst"] = finding["severity"]
    rows = sorted(children.values(), key=lambda r: r["code"])
    for row in rows:
        row["stages"] = dict(row["stages"])
    total_items = sum(r["items"] for r in rows)
    return {
        "region": area,
        "name": names.get(area, area),
        "now": now.isoformat(),
        "tps": sum(r["tps"] for r in rows),
        "items": total_items,
        "delivered": sum(r["delivered"] for r in rows),
        "principles": totals,
        "children": rows,
    }


def findings(
    session: Session,
    election: Election,
    area: str,
    now: datetime,
    *,
    principle: str | None = None,
    severity: str | None = None,
    code: str | None = None,
    snap: Snapshot | None = None,
) -> list[dict[str, Any]]:
    """Findings inside an area, most severe and newest first."""
    if principle and principle not in PRINCIPLES + ("biaya",):
        raise ValidationFailed("Prinsip tidak dikenal.")
    if severity and severity not in SEVERITY_RANK:
        raise ValidationFailed("Tingkat keparahan tidak dikenal.")
    snap = snap or snapshot(session, election, codes.kabkota_of(area), now)
    result = []
    for finding in snap.findings:
        place = finding.get("region")
        if not place or not codes.within(place, area):
            continue
        if principle and finding["principle"] != principle:
            continue
        if severity and finding["severity"] != severity:
            continue
        if code and finding["code"] != code:
            continue
        result.append(finding)
    result.sort(key=lambda f: f["created_at"], reverse=True)  # newest first ...
    result.sort(key=lambda f: -SEVERITY_RANK[f["severity"]])  # ... within each severity
    return result


def latest_checkpoint(session: Session, key_dir: str | Path) -> dict[str, Any]:
    """The newest signed checkpoint and the key that verifies it."""
    checkpoint = session.scalar(select(Checkpoint).order_by(Checkpoint.tree_size.desc()))
    public = ledger_public_key(key_dir)
    raw = public.public_bytes(*_raw())
    body: dict[str, Any] = {
        "key_name": KEY_NAME,
        "public_key": base64.b64encode(raw).decode(),
        "verifier_key": merkle.verifier_key(KEY_NAME, public),
        "fingerprint": fingerprint(public),
    }
    if checkpoint is None:
        body.update({"tree_size": 0, "checkpoint": None})
    else:
        body.update(
            {
                "tree_size": checkpoint.tree_size,
                "root": checkpoint.root.hex(),
                "checkpoint": checkpoint.note,
                "created_at": checkpoint.created_at.isoformat(),
            }
        )
    return body


def _raw() -> tuple[Any, Any]:
    from cryptography.hazmat.primitives import serialization

    return serialization.Encoding.Raw, serialization.PublicFormat.Raw


def _leaves(session: Session, size: int) -> list[bytes]:
    return list(
        session.scalars(
            select(LedgerEntry.leaf_hash).where(LedgerEntry.idx < size).order_by(LedgerEntry.idx)
        )
    )


def _checkpointed(session: Session, size: int | None) -> Checkpoint:
    stmt = select(Checkpoint).order_by(Checkpoint.tree_size.desc())
    if size is not None:
        stmt = select(Checkpoint).where(Checkpoint.tree_size == size)
    checkpoint = session.scalar(stmt)
    if checkpoint is None:
        raise NotFound("Belum ada checkpoint dengan ukuran itu.")
    return checkpoint


def inclusion(session: Session, user: User, event_id: str, tree_size: int | None) -> dict[str, Any]:
    """Inclusion proof of an event (visible to the user) in a checkpointed tree."""
    try:
        key = uuid.UUID(event_id)
    except ValueError:
        raise NotFound("Event tidak ditemukan.") from None
    event = session.get(CustodyEvent, key)
    if event is None:
        raise NotFound("Event tidak ditemukan.")
    visible_item(session, user, event.serial)
    entry = session.scalar(select(LedgerEntry).where(LedgerEntry.event_id == key))
    checkpoint = _checkpointed(session, tree_size)
    if entry is None or entry.idx >= checkpoint.tree_size:
        raise NotFound("Event belum masuk checkpoint ini; coba lagi setelah integrasi berikutnya.")
    proof = merkle.inclusion_proof(entry.idx, _leaves(session, checkpoint.tree_size))
    return {
        "event_id": event_id,
        "leaf_index": entry.idx,
        "tree_size": checkpoint.tree_size,
        "leaf_hash": entry.leaf_hash.hex(),
        "event_hash": event.hash.hex(),
        "proof": [p.hex() for p in proof],
        "checkpoint": checkpoint.note,
    }


def consistency(session: Session, first: int, second: int) -> dict[str, Any]:
    """Consistency proof between two checkpointed tree sizes."""
    if not 0 < first <= second:
        raise ValidationFailed("Syarat: 0 < first <= second.")
    old, new = _checkpointed(session, first), _checkpointed(session, second)
    try:
        proof = merkle.consistency_proof(first, _leaves(session, second))
    except ProofError as exc:
        raise ValidationFailed(str(exc)) from exc
    return {
        "first": first,
        "second": second,
        "proof": [p.hex() for p in proof],
        "first_checkpoint": old.note,
        "second_checkpoint": new.note,
    }


def progress(session: Session, kab: str, area: str | None = None) -> list[dict[str, Any]]:
    """Items delivered over time (per hour of receipt) for the desk's chart; ``area`` narrows."""
    counts: dict[str, int] = defaultdict(int)
    rows = session.execute(
        select(CustodyEvent.server_time, CustodyEvent.node).where(
            CustodyEvent.kabkota_code == kab, CustodyEvent.action == "terima"
        )
    )
    for moment, node in rows:
        if area and not codes.within(node, area):
            continue
        counts[
            moment.strftime("%Y-%m-%dT%H:00Z") + ("|kpps" if codes.TPS_ID.match(node) else "|")
        ] += 1
    series: dict[str, dict[str, int]] = defaultdict(lambda: {"terima": 0, "tiba_tps": 0})
    for key, n in counts.items():
        hour, kind = key.split("|")
        series[hour]["terima"] += n
        if kind:
            series[hour]["tiba_tps"] += n
    return [{"hour": h, **v} for h, v in sorted(series.items())]
