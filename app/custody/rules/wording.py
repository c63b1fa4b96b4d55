"""Indonesian wording of findings: names of items, places and times, and the Finding factory."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.custody.errors import (
    UnknownNode,
)
from app.custody.rules.model import (
    CODES,
    Code,
    Condition,
    Finding,
    Item,
    ItemType,
    NodeKind,
    Race,
    Severity,
    node_kind,
)

# --- messages -----------------------------------------------------------------------

_TYPE_NAMES = {
    ItemType.KOTAK: "kotak suara",
    ItemType.BILIK: "bilik suara",
    ItemType.TINTA: "tinta",
    ItemType.SURAT: "surat suara",
    ItemType.FORM: "formulir",
    ItemType.SAMPUL: "sampul",
    ItemType.BRAILLE: "template braille",
    ItemType.SEGEL: "segel",
    ItemType.KIT: "kit TPS",
}
_RACE_NAMES = {Race.GUB: "gubernur", Race.BUP: "bupati", Race.WAL: "wali kota"}
_CONDITION_NAMES = {
    Condition.BAIK: "baik",
    Condition.RUSAK_RINGAN: "rusak ringan",
    Condition.RUSAK_BERAT: "rusak berat",
    Condition.BASAH: "basah",
}


def _what(item_type: ItemType, race: Race | None) -> str:
    # Item types are data: a code the rules have no name for is shown as its code.
    name = _TYPE_NAMES.get(item_type, str(item_type).lower())
    return f"{name} {_RACE_NAMES[race]}" if race is not None else name


def _sentence(text: str) -> str:
    """Upper-case the first letter only ("kit TPS" -> "Kit TPS", not "Kit tps")."""
    return text[:1].upper() + text[1:]


def _unit(item_type: ItemType) -> str:
    return "lembar" if item_type is ItemType.SURAT else "buah"


def _place(code: str) -> str:
    try:
        kind = node_kind(code)
    except UnknownNode:
        return code
    names = {
        NodeKind.GUDANG: "gudang",
        NodeKind.PPK: "PPK",
        NodeKind.PPS: "PPS",
        NodeKind.KPPS: "TPS",
    }
    return f"{names[kind]} {code}"


_WITA = frozenset({"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"})
_WIT = frozenset({"81", "82", "91", "92", "93", "94", "95", "96", "97"})


def _when(value: datetime, place: str = "") -> str:
    """Format an instant in the zone people at ``place`` live by (WIB, WITA or WIT)."""
    province = place.replace(".", "")[:2]
    hours, zone = (
        (9, "WIT") if province in _WIT else (8, "WITA") if province in _WITA else (7, "WIB")
    )
    local = value.astimezone(UTC) + timedelta(hours=hours)
    return f"{local:%d-%m-%Y %H.%M} {zone}"


def _finding(
    code: Code,
    severity: Severity,
    message: str,
    *,
    item: Item | None = None,
    tps: str | None = None,
    node: str | None = None,
    event_ids: tuple[str, ...] = (),
    **detail: str | int | None,
) -> Finding:
    return Finding(
        code=code,
        principle=CODES[code],
        severity=severity,
        message=message,
        serial=item.serial if item is not None else None,
        tps=tps if tps is not None else (item.destination if item is not None else None),
        node=node,
        event_ids=event_ids,
        detail=tuple(sorted(detail.items())),
    )
