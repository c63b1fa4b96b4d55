"""What the public pages read: per kabupaten progress and finding counts, an item's journey.

Nothing here names a person or a device: the journey keeps places, times, actions,
counts, conditions and seal numbers, and drops the counterpart, the user, the device and
the free-text note. Aggregates come from the desk's cached kabupaten snapshot and are
cached again here for a minute, so a crowd of visitors costs one read per minute.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import labels
from app.custody import queries
from app.custody.models import CustodyEvent, FindingRow, ItemStateRow
from app.custody.names import PlaceNames
from app.errors import NotFound
from app.items.models import Item
from app.plan import codes
from app.plan.models import Election, PlanLine, Region

#: Kabupaten per page of the public index.
PAGE = 50

_cache: dict[tuple[str, str], tuple[float, dict[str, Any]]] = {}
_cache_lock = threading.Lock()


def _cached(key: tuple[str, str], seconds: float, build: Any) -> dict[str, Any]:
    """The value under ``key`` if younger than ``seconds``; else build and keep it."""
    moment = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and moment - hit[0] < seconds:
        return hit[1]
    value: dict[str, Any] = build()
    with _cache_lock:
        _cache[key] = (moment, value)
    return value


def kabupaten_page(session: Session, election: Election, page: int) -> dict[str, Any]:
    """The kabupaten/kota with a distribution plan, by code, one page at a time."""
    page = max(page, 1)
    planned = (
        select(PlanLine.kabkota_code).where(PlanLine.election_code == election.code).distinct()
    )
    total = session.scalar(select(func.count()).select_from(planned.subquery())) or 0
    rows = session.execute(
        select(Region.code, Region.name)
        .where(Region.code.in_(planned))
        .order_by(Region.code)
        .offset((page - 1) * PAGE)
        .limit(PAGE)
    ).all()
    return {
        "page": page,
        "pages": max(1, -(-total // PAGE)),
        "total": total,
        "kabupaten": [{"code": code, "name": name} for code, name in rows],
    }


def _counts(principles: dict[str, dict[str, Any]]) -> dict[str, int]:
    return {p: int(principles.get(p, {}).get("count", 0)) for p in queries.PRINCIPLES}


def kabupaten_overview(
    session: Session, election: Election, kab: str, now: Any, cache_seconds: float
) -> dict[str, Any]:
    """Distribution progress and finding counts per principle, for a kabupaten and its kecamatan."""
    try:
        if codes.region_level(kab).value != "kabkota":
            raise NotFound("Pilih kabupaten/kota.")
    except ValueError as exc:
        raise NotFound("Wilayah tidak ditemukan.") from exc
    region = session.get(Region, kab)
    planned = session.scalar(
        select(PlanLine.id)
        .where(PlanLine.election_code == election.code, PlanLine.kabkota_code == kab)
        .limit(1)
    )
    if region is None or planned is None:
        raise NotFound("Belum ada rencana distribusi untuk wilayah ini.")

    def build() -> dict[str, Any]:
        summary = queries.region_summary(session, election, kab, now)
        return {
            "code": kab,
            "name": region.name,
            "as_of": summary["now"],
            "tps": summary["tps"],
            "items": summary["items"],
            "delivered": summary["delivered"],
            "findings": _counts(summary["principles"]),
            "kecamatan": [
                {
                    "code": child["code"],
                    "name": child["name"],
                    "tps": child["tps"],
                    "items": child["items"],
                    "delivered": child["delivered"],
                    "findings": _counts(child["principles"]),
                }
                for child in summary["children"]
            ],
        }

    return _cached((str(session.get_bind().url), kab), cache_seconds, build)


def item_for_code(text: str, keyring: Any) -> labels.LabelPayload:
    """The label payload behind a scanned https link; NotFound for anything not ours."""
    try:
        return labels.decode(text, keyring)
    except labels.LabelError as exc:
        raise NotFound("Label ini tidak sah atau tidak dikenal.") from exc


def journey(session: Session, serial: str) -> dict[str, Any]:
    """An item's public journey: what, where to, and each scan's place, time and seals."""
    item = session.get(Item, serial)
    if item is None:
        raise NotFound("Barang tidak ditemukan.")
    names = PlaceNames(session)
    state = session.get(ItemStateRow, serial)
    rows = session.scalars(
        select(CustodyEvent)
        .where(
            CustodyEvent.serial == serial,
            CustodyEvent.province == codes.province_of(item.kabkota_code),  # one partition
        )
        .order_by(CustodyEvent.item_seq)
    ).all()
    events = [
        {
            "event_id": str(e.event_id),
            "seq": e.item_seq,
            "action": e.action,
            "node": e.node,
            "place": names.node(e.node),
            "target": names.node(e.target) if e.target else "",
            "at": e.device_time,
            "received_at": e.server_time,
            "quantity": e.quantity,
            "condition": e.condition,
            "seals": list(e.seals or ()),
            "container": labels.format_serial(e.container) if e.container else "",
            "prev_hash": e.prev_hash.hex(),
            "hash": e.hash.hex(),
        }
        for e in rows
    ]
    by_principle: dict[str, int] = {}
    for principle, count in session.execute(
        select(FindingRow.principle, func.count(FindingRow.id))
        .where(FindingRow.serial == serial)
        .group_by(FindingRow.principle)
    ):
        by_principle[principle] = count
    return {
        "serial": serial,
        "serial_display": labels.format_serial(serial),
        "what": names.what(item),
        "destination": item.destination,
        "destination_name": names.node(item.destination),
        "quantity": item.quantity,
        "voided": item.voided_at is not None,
        "stage": state.stage if state else "gudang",
        "holder": names.node(state.holder) if state and state.holder else "",
        "transit_to": names.node(state.transit_to) if state and state.transit_to else "",
        "seals": list(state.state.get("seals", [])) if state else [],
        "events": events,
        "findings": by_principle,
    }
