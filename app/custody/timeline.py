"""An item's timeline for people: its history with names, its recomputed chain, its container.

Shared by the desk and the custody pages (the item page a label's https form opens).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody import queries
from app.custody.errors import LedgerMismatch
from app.custody.ledger import check_rows
from app.custody.models import CustodyEvent, ItemStateRow
from app.custody.names import PlaceNames
from app.items.models import Item
from app.timeutil import parse_instant


def item_timeline(session: Session, user: User, serial: str) -> dict[str, Any]:
    """An item's history (scope-checked) with names, its recomputed chain and its container."""
    history = queries.item_history(session, user, serial)
    names = PlaceNames(session)
    item = session.get(Item, history["serial"])
    history["what"] = names.what(item)
    history["destination_name"] = names.node(history["destination"])
    history["zone_region"] = history["destination"]
    for event in history["events"]:
        event["node_name"] = names.node(event["node"])
        event["target_name"] = names.node(event["target"]) if event["target"] else ""
        event["device_time"] = parse_instant(event["device_time"])
        event["server_time"] = parse_instant(event["server_time"])
    state = history["state"]
    state["holder_name"] = names.node(state["holder"]) if state.get("holder") else ""
    state["transit_name"] = names.node(state["transit_to"]) if state.get("transit_to") else ""
    history["chain"] = chain_check(session, history["serial"])
    history["container"] = None
    row = session.get(ItemStateRow, history["serial"])
    if row is not None and row.container:
        history["container"] = {
            "serial": row.container,
            "display": labels.format_serial(row.container),
        }
    history["contents"] = [
        {"serial": s, "display": labels.format_serial(s)} for s in history["contents"]
    ]
    for finding in history["findings"]:
        finding["at"] = parse_instant(finding["created_at"])
    return history


def chain_check(session: Session, serial: str) -> dict[str, Any]:
    """Recompute an item's hash chain from its stored events; say where it breaks, if it does."""
    rows = list(
        session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.serial == serial)
            .order_by(CustodyEvent.item_seq)
        )
    )
    try:
        head = check_rows(rows)
    except LedgerMismatch as exc:
        return {"ok": False, "index": exc.index, "events": len(rows)}
    return {"ok": True, "head": head.hex(), "events": len(rows)}
