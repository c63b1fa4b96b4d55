"""PURE conversions between the rules' frozen dataclasses and JSON-able dicts (for storage)."""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, cast

from app.custody.rules import Condition, ItemState, ItemType, Race, TpsTally


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def state_to_dict(state: ItemState) -> dict[str, Any]:
    """Serialise an item state (with its undo chain) to plain JSON types."""
    return {
        "serial": state.serial,
        "quantity": state.quantity,
        "seq": state.seq,
        "holder": state.holder,
        "transit_to": state.transit_to,
        "dispatched_at": _time(state.dispatched_at),
        "delivered_at": _time(state.delivered_at),
        "last_node": state.last_node,
        "last_event_id": state.last_event_id,
        "last_seen_at": _time(state.last_seen_at),
        "condition": state.condition.value,
        "seals": list(state.seals),
        "container": state.container,
        "opened": state.opened,
        "returning": state.returning,
        "confirmed_at": _time(state.confirmed_at),
        "lost": state.lost,
        "previous": state_to_dict(state.previous) if state.previous is not None else None,
    }


def state_from_dict(data: dict[str, Any]) -> ItemState:
    """Rebuild an item state stored by :func:`state_to_dict`."""
    previous = data.get("previous")
    return ItemState(
        serial=data["serial"],
        quantity=data["quantity"],
        seq=data["seq"],
        holder=data["holder"],
        transit_to=data["transit_to"],
        dispatched_at=_parse_time(data["dispatched_at"]),
        delivered_at=_parse_time(data["delivered_at"]),
        last_node=data["last_node"],
        last_event_id=data["last_event_id"],
        last_seen_at=_parse_time(data["last_seen_at"]),
        condition=Condition(data["condition"]),
        seals=tuple(data["seals"]),
        container=data["container"],
        opened=data["opened"],
        returning=data["returning"],
        confirmed_at=_parse_time(data.get("confirmed_at")),
        lost=bool(data.get("lost", False)),
        previous=state_from_dict(previous) if previous is not None else None,
    )


def _key(key: tuple[Any, Any]) -> str:
    return f"{key[0]}|{key[1] or ''}"


@lru_cache(maxsize=1024)  # a handful of distinct keys, parsed for every TPS's tally
def _unkey(text: str) -> tuple[ItemType, Race | None]:
    item_type, race = text.split("|", 1)
    # Item types are data: a code the rules' enum lacks stays a plain string.
    kind = ItemType(item_type) if item_type in ItemType.__members__ else item_type
    return cast(ItemType, kind), Race(race) if race else None


def tally_to_dict(tally: TpsTally) -> dict[str, Any]:
    """Serialise a TPS tally."""
    return {
        "known": {_key(k): v for k, v in tally.known.items()},
        "received": {_key(k): v for k, v in tally.received.items()},
        "issued": {_key(k): v for k, v in tally.issued.items()},
        "delivered": {_key(k): v for k, v in tally.delivered.items()},
    }


def tally_from_dict(tps: str, data: dict[str, Any]) -> TpsTally:
    """Rebuild a TPS tally stored by :func:`tally_to_dict`."""
    return TpsTally(
        tps,
        known={_unkey(k): v for k, v in data.get("known", {}).items()},
        received={_unkey(k): v for k, v in data.get("received", {}).items()},
        issued={_unkey(k): v for k, v in data.get("issued", {}).items()},
        delivered={_unkey(k): v for k, v in data.get("delivered", {}).items()},
    )


def stage_of(state: ItemState) -> str:
    """A short label of where an item stands, for summaries."""
    from app.custody.rules import node_kind

    if state.lost:
        return "hilang"
    if state.returning:
        return "kembali" if state.transit_to is None else "kembali_jalan"
    if state.transit_to is not None:
        return "jalan"
    if state.holder is None:
        return "gudang"
    kind = node_kind(state.holder).value
    if kind == "kpps" and state.opened:
        return "dibuka"
    return kind
