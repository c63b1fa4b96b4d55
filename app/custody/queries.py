"""Read side of custody: plan slices, item histories, region summaries, findings, proofs."""

from __future__ import annotations

import base64
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody import merkle, overview
from app.custody.errors import ProofError
from app.custody.ledger import (
    KEY_NAME,
    fingerprint,
    ledger_public_key,
    row_values,
    stored_fields,
)
from app.custody.models import (
    Checkpoint,
    CustodyEvent,
    FindingRow,
    ItemStateRow,
    LedgerEntry,
)
from app.errors import NotFound, ValidationFailed
from app.items.models import Item
from app.plan import codes
from app.plan.models import (
    CustodyNode,
    Election,
    ItemType,
    PlanLine,
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
        .where(
            CustodyEvent.serial == item.serial,
            # The item's province: one partition on PostgreSQL.
            CustodyEvent.province == codes.province_of(item.kabkota_code),
        )
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
                "identified_by": e.identified_by,
                "note": e.note,
                "prev_hash": e.prev_hash.hex(),
                "hash": e.hash.hex(),
                "ledger_index": ledger.get(e.event_id),
                # Every stored column the hash covers: hash = SHA-256("tepat/custody-event/v1"
                # 0x00 || prev_hash || seq as u64 BE || sorted-keys compact JSON of this).
                "stored": stored_fields(row_values(e)),
            }
            for e in events
        ],
        "findings": [_finding_row_dict(f) for f in findings],
    }


def _finding_row_dict(row: FindingRow) -> dict[str, Any]:
    return overview.stored_finding(row) | {
        "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at.isoformat() if row.resolved_at else None,
    }


def status_counts(session: Session, election: Election, area: str, now: datetime) -> dict[str, int]:
    """Items per ``rules.ItemStatus`` for the destinations inside an area, as of ``now``
    (deadlines included: delivered but unconfirmed after the last leg is missing);
    ``not_issued`` counts planned destinations with no label issued.

    Read from the area's counters (``overview.status_counts``), never its items.
    """
    return overview.status_counts(session, election, area, now)


def region_summary(
    session: Session, election: Election, area: str, now: datetime, **_: Any
) -> dict[str, Any]:
    """Per child region: TPS, items by stage and status, delivered, findings per principle.

    Read from the counters kept on ingest (``app.custody.overview``), never the items;
    the whole country (``codes.NATIONAL``): per province, from the provinces' counters.
    """
    if area == codes.NATIONAL:
        return overview.national_summary(session, now)
    return overview.region_summary(session, election, area, now)


def findings(
    session: Session,
    election: Election,
    area: str,
    now: datetime,
    *,
    principle: str | None = None,
    severity: str | None = None,
    code: str | None = None,
    cursor: str | None = None,
    limit: int = overview.PAGE,
    **_: Any,
) -> list[dict[str, Any]]:
    """One page of findings inside an area: the live ones, then stored ones newest first."""
    return overview.findings_page(
        session,
        election,
        area,
        now,
        principle=principle,
        severity=severity,
        code=code,
        cursor=cursor,
        limit=limit,
    )["findings"]


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
