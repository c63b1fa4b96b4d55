"""The enam-tepat custody rules. Pure: frozen dataclasses in, findings out.

No Flask, no SQLAlchemy, no IO and no clock: ``now`` is always a parameter.
The ingest service maps DB rows onto ``Plan``, ``Item``, ``ItemState``,
``TpsTally`` and ``Event``, calls ``Book.apply`` for each scan, stores what it
returns, and can check the result at any time against ``recompute``.

Custody model
    An item is issued at the gudang of its region; until its first scan it is
    there, inside ``Item.container`` if it was issued in a kit. ``kirim`` and
    ``kembali`` (the return dispatch) leave the sender as holder and mark the
    item in transit; custody passes to the receiver only when it accepts
    (``terima``). ``kemas`` packs an item into a container; moving a container
    (``kirim``, ``kembali``, ``terima``) moves everything inside it, and
    ``buka`` at the TPS releases its direct contents. ``batal`` undoes the
    item's latest scan (one level); ``koreksi`` amends the quantity, condition
    or seal numbers of an earlier scan without moving anything.

Event order
    Events are folded in server receipt order: ``server_time``, then the
    per-item sequence ``seq``, then ``event_id`` as a last, arbitrary tie-break.
    Device clocks are not trusted for order (offline scanners upload late), but
    the time an event happened, used against deadlines, is the device time
    capped at the server time (``occurred_at``). The ingest service should give
    every event a distinct ``server_time`` so that incremental application and
    ``recompute`` agree on the order across items.

Findings never reject a scan. Errors (``app.custody.errors``) are raised only
for input that cannot be recorded: malformed events, unknown serials or nodes,
voided labels, impossible undo, and conflicting replays.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import cached_property

from app.custody.errors import (
    EventConflict,
    LedgerMismatch,
    MalformedEvent,
    MalformedPlan,
    NotAllowedInState,
    UnknownItem,
    UnknownNode,
    VoidedLabel,
)

__all__ = [
    "CODES",
    "DEFAULT_POLICY",
    "GENESIS_HASH",
    "Action",
    "Book",
    "Code",
    "Condition",
    "Event",
    "Finding",
    "Item",
    "ItemState",
    "ItemType",
    "Leg",
    "NodeKind",
    "Plan",
    "Policy",
    "Principle",
    "Race",
    "Recomputation",
    "Severity",
    "TpsTally",
    "Transition",
    "Update",
    "apply",
    "canonical_event_bytes",
    "check_all_quantities",
    "check_chain",
    "check_costs",
    "check_deadlines",
    "check_replay",
    "check_tps_quantities",
    "derive_route",
    "event_digest",
    "event_order",
    "initial_state",
    "node_kind",
    "occurred_at",
    "parent_node",
    "recompute",
    "region_of",
    "tally_items",
    "tps_legs",
    "validate_event",
]


# --- vocabulary ---------------------------------------------------------------------


class NodeKind(StrEnum):
    """Custody node kinds along a TPS route."""

    GUDANG = "gudang"
    PPK = "ppk"
    PPS = "pps"
    KPPS = "kpps"


class ItemType(StrEnum):
    """Labelled logistics item types."""

    KOTAK = "KOTAK"
    BILIK = "BILIK"
    TINTA = "TINTA"
    SURAT = "SURAT"
    FORM = "FORM"
    SAMPUL = "SAMPUL"
    BRAILLE = "BRAILLE"
    SEGEL = "SEGEL"
    KIT = "KIT"


class Race(StrEnum):
    """Pilkada races: governor, regent, mayor."""

    GUB = "GUB"
    BUP = "BUP"
    WAL = "WAL"


class Action(StrEnum):
    """What a scan records."""

    KEMAS = "kemas"
    KIRIM = "kirim"
    TERIMA = "terima"
    BUKA = "buka"
    SEGEL = "segel"
    KEMBALI = "kembali"
    RUSAK = "rusak"
    VOID = "batal"
    CORRECT = "koreksi"


class Condition(StrEnum):
    """Condition recorded at a handoff."""

    BAIK = "baik"
    RUSAK_RINGAN = "rusak_ringan"
    RUSAK_BERAT = "rusak_berat"
    BASAH = "basah"


class Principle(StrEnum):
    """The enam tepat, plus akuntabilitas."""

    JENIS = "jenis"
    JUMLAH = "jumlah"
    KUALITAS = "kualitas"
    WAKTU = "waktu"
    SASARAN = "sasaran"
    BIAYA = "biaya"
    AKUNTABILITAS = "akuntabilitas"


class Severity(StrEnum):
    """How urgently a finding needs a person."""

    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


class Code(StrEnum):
    """Stable finding codes (the API and the UI key on these)."""

    REGION_MISMATCH = "region_mismatch"
    RACE_NOT_HELD = "race_not_held"
    TYPE_NOT_PLANNED = "type_not_planned"
    SHORTAGE = "shortage"
    SURPLUS = "surplus"
    COUNT_MISMATCH = "count_mismatch"
    LATE = "late"
    OVERDUE = "overdue"
    AT_RISK = "at_risk"
    CLOCK_SKEW = "clock_skew"
    OFF_ROUTE = "off_route"
    WRONG_TPS = "wrong_tps"
    WRONG_DISPATCH_TARGET = "wrong_dispatch_target"
    PACKED_FOR_OTHER_DESTINATION = "packed_for_other_destination"
    DAMAGED = "damaged"
    SEAL_CHANGED = "seal_changed"
    OPENED_OUTSIDE_TPS = "opened_outside_tps"
    RECEIVED_WITHOUT_DISPATCH = "received_without_dispatch"
    CLONED_LABEL = "cloned_label"
    NOT_RECEIVED = "not_received"
    SCAN_VOIDED = "scan_voided"
    SCAN_CORRECTED = "scan_corrected"
    OVER_BUDGET = "over_budget"
    COST_WITHOUT_BUDGET = "cost_without_budget"


CODES: Mapping[Code, Principle] = {
    Code.REGION_MISMATCH: Principle.JENIS,
    Code.RACE_NOT_HELD: Principle.JENIS,
    Code.TYPE_NOT_PLANNED: Principle.JENIS,
    Code.SHORTAGE: Principle.JUMLAH,
    Code.SURPLUS: Principle.JUMLAH,
    Code.COUNT_MISMATCH: Principle.JUMLAH,
    Code.LATE: Principle.WAKTU,
    Code.OVERDUE: Principle.WAKTU,
    Code.AT_RISK: Principle.WAKTU,
    Code.CLOCK_SKEW: Principle.WAKTU,
    Code.OFF_ROUTE: Principle.SASARAN,
    Code.WRONG_TPS: Principle.SASARAN,
    Code.WRONG_DISPATCH_TARGET: Principle.SASARAN,
    Code.PACKED_FOR_OTHER_DESTINATION: Principle.SASARAN,
    Code.DAMAGED: Principle.KUALITAS,
    Code.SEAL_CHANGED: Principle.KUALITAS,
    Code.OPENED_OUTSIDE_TPS: Principle.KUALITAS,
    Code.RECEIVED_WITHOUT_DISPATCH: Principle.AKUNTABILITAS,
    Code.CLONED_LABEL: Principle.AKUNTABILITAS,
    Code.NOT_RECEIVED: Principle.AKUNTABILITAS,
    Code.SCAN_VOIDED: Principle.AKUNTABILITAS,
    Code.SCAN_CORRECTED: Principle.AKUNTABILITAS,
    Code.OVER_BUDGET: Principle.BIAYA,
    Code.COST_WITHOUT_BUDGET: Principle.BIAYA,
}
"""Which principle each finding code checks."""


# --- node codes ---------------------------------------------------------------------

_NODE_PATTERNS = (
    (NodeKind.GUDANG, re.compile(r"[0-9]{2}\.[0-9]{2}")),
    (NodeKind.PPK, re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}")),
    (NodeKind.PPS, re.compile(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}")),
    (NodeKind.KPPS, re.compile(r"[0-9]{13}")),
)


def node_kind(code: str) -> NodeKind:
    """Return the kind of a node code ("62.10", "62.10.05", "62.10.05.2016", 13-digit TPS)."""
    for kind, pattern in _NODE_PATTERNS:
        if pattern.fullmatch(code):
            return kind
    raise UnknownNode(code)


def parent_node(code: str) -> str | None:
    """Return the node one step closer to the gudang (None for a gudang)."""
    kind = node_kind(code)
    if kind is NodeKind.GUDANG:
        return None
    if kind is NodeKind.KPPS:
        return f"{code[0:2]}.{code[2:4]}.{code[4:6]}.{code[6:10]}"
    return code.rsplit(".", 1)[0]


def region_of(code: str) -> str:
    """Return the kab/kota (gudang) code a node belongs to."""
    if node_kind(code) is NodeKind.KPPS:
        return f"{code[0:2]}.{code[2:4]}"
    return code[:5]


def derive_route(destination: str) -> tuple[str, ...]:
    """Return the forward route gudang -> ... -> destination from the codes alone."""
    route = [destination]
    while (parent := parent_node(route[-1])) is not None:
        route.append(parent)
    return tuple(reversed(route))


# --- plan, items, events, state -------------------------------------------------------

TallyKey = tuple[ItemType, Race | None]
PlanKey = tuple[str, ItemType, Race | None]
Detail = tuple[tuple[str, str | int | None], ...]


def _aware(value: datetime) -> bool:
    return value.tzinfo is not None and value.utcoffset() is not None


@dataclass(frozen=True)
class Leg:
    """One planned handoff and the time by which the receiver must have it."""

    from_node: str
    to_node: str
    deadline: datetime


def tps_legs(tps: str, deadlines: tuple[datetime, datetime, datetime]) -> tuple[Leg, Leg, Leg]:
    """Return the gudang->ppk, ppk->pps and pps->kpps legs of a TPS with their deadlines."""
    gudang, ppk, pps, kpps = derive_route(tps)
    return (
        Leg(gudang, ppk, deadlines[0]),
        Leg(ppk, pps, deadlines[1]),
        Leg(pps, kpps, deadlines[2]),
    )


@dataclass(frozen=True)
class Plan:
    """The logistics plan of one kab/kota.

    ``races`` lists the races held at each TPS; ``quantities`` the planned
    quantity per (destination, item type, race), with ballots in sheets;
    ``legs`` the deadlines per (from, to) hop (a hop shared by several TPS
    appears once; the earliest deadline wins); ``routes`` overrides the route
    derived from the codes for a destination.
    """

    region: str
    races: Mapping[str, frozenset[Race]]
    quantities: Mapping[PlanKey, int]
    legs: tuple[Leg, ...] = ()
    routes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for leg in self.legs:
            if not _aware(leg.deadline):
                raise MalformedPlan(f"leg {leg.from_node}->{leg.to_node} has a naive deadline")
        for key, quantity in self.quantities.items():
            if quantity < 0:
                raise MalformedPlan(f"negative planned quantity for {key}")

    @cached_property
    def _deadlines(self) -> dict[tuple[str, str], datetime]:
        deadlines: dict[tuple[str, str], datetime] = {}
        for leg in self.legs:
            hop = (leg.from_node, leg.to_node)
            if hop not in deadlines or leg.deadline < deadlines[hop]:
                deadlines[hop] = leg.deadline
        return deadlines

    @cached_property
    def _planned(self) -> dict[str, dict[TallyKey, int]]:
        planned: dict[str, dict[TallyKey, int]] = {}
        for (destination, item_type, race), quantity in self.quantities.items():
            planned.setdefault(destination, {})[(item_type, race)] = quantity
        return planned

    @cached_property
    def destinations(self) -> frozenset[str]:
        """Every TPS or node the plan delivers to."""
        return frozenset(self.races) | frozenset(self._planned)

    def route(self, destination: str) -> tuple[str, ...]:
        """Return the forward route to a destination (explicit, else derived from codes)."""
        explicit = self.routes.get(destination)
        return explicit if explicit is not None else derive_route(destination)

    def deadline(self, from_node: str, to_node: str) -> datetime | None:
        """Return the deadline of the hop from_node -> to_node, if planned."""
        return self._deadlines.get((from_node, to_node))

    def planned_for(self, destination: str) -> Mapping[TallyKey, int]:
        """Return the planned quantities per (item type, race) for a destination."""
        return self._planned.get(destination, {})


@dataclass(frozen=True)
class Item:
    """A labelled unit as issued: what it is, for where, and how many it holds."""

    serial: str
    item_type: ItemType
    race: Race | None
    destination: str
    quantity: int
    region: str
    container: str | None = None
    voided_at: datetime | None = None


@dataclass(frozen=True)
class Event:
    """One scan as received by the server (append-only).

    ``seq`` is the per-item sequence the server assigns at receipt (1, 2, ...).
    ``target`` is the receiving node of a ``kirim``/``kembali`` (defaults to the
    next/previous node on the route), ``container`` the container of a ``kemas``,
    ``ref_event_id`` the earlier event a ``batal``/``koreksi`` refers to.
    """

    event_id: str
    serial: str
    action: Action
    node: str
    device_time: datetime
    server_time: datetime
    user_id: str
    device_id: str
    seq: int = 0
    quantity: int | None = None
    condition: Condition | None = None
    seals: tuple[str, ...] = ()
    counterpart: str | None = None
    container: str | None = None
    target: str | None = None
    ref_event_id: str | None = None


@dataclass(frozen=True)
class ItemState:
    """Where an item is and what has been recorded about it.

    ``holder`` has custody; while ``transit_to`` is set the item was dispatched
    from the holder and not yet accepted. ``seq`` counts the item's own events
    (the hash-chain sequence); events that move it inside a container do not
    count. ``previous`` is the state before the latest change, for ``batal``.
    """

    serial: str
    quantity: int
    seq: int = 0
    holder: str | None = None
    transit_to: str | None = None
    dispatched_at: datetime | None = None
    delivered_at: datetime | None = None
    last_node: str | None = None
    last_event_id: str | None = None
    last_seen_at: datetime | None = None
    condition: Condition = Condition.BAIK
    seals: tuple[str, ...] = ()
    container: str | None = None
    opened: bool = False
    returning: bool = False
    previous: ItemState | None = None


@dataclass(frozen=True)
class Finding:
    """One enam-tepat finding, with a plain Indonesian message for people."""

    code: str
    principle: Principle
    severity: Severity
    message: str
    serial: str | None = None
    tps: str | None = None
    node: str | None = None
    event_ids: tuple[str, ...] = ()
    detail: Detail = ()


@dataclass(frozen=True)
class Policy:
    """Thresholds the rules use."""

    max_clock_skew: timedelta = timedelta(minutes=10)
    # A device behind the server may just have worked offline; only this much is odd.
    max_offline: timedelta = timedelta(hours=48)
    at_risk_horizon: timedelta = timedelta(hours=24)


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Transition:
    """The new state of one item and the findings its event raised."""

    state: ItemState
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class TpsTally:
    """Quantities per (item type, race) of the items destined for one TPS or node.

    ``known`` sums the latest known quantity (counted, else the label's) of every
    issued item destined here; ``received`` the part already delivered here.
    """

    tps: str
    known: Mapping[TallyKey, int] = field(default_factory=dict)
    received: Mapping[TallyKey, int] = field(default_factory=dict)

    def adjust(self, key: TallyKey, known: int, received: int) -> TpsTally:
        """Return the tally with deltas added to one key (zero entries dropped)."""
        return replace(
            self,
            known=_add(self.known, key, known),
            received=_add(self.received, key, received),
        )


def _add(counts: Mapping[TallyKey, int], key: TallyKey, delta: int) -> dict[TallyKey, int]:
    result = dict(counts)
    value = result.get(key, 0) + delta
    if value:
        result[key] = value
    else:
        result.pop(key, None)
    return result


@dataclass(frozen=True)
class Update:
    """What one event changed in a Book: states, tallies and new findings."""

    states: Mapping[str, ItemState]
    tallies: Mapping[str, TpsTally]
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class Recomputation:
    """The result of folding a whole log from scratch."""

    states: Mapping[str, ItemState]
    tallies: Mapping[str, TpsTally]
    findings: tuple[Finding, ...]


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


# --- events -------------------------------------------------------------------------

_MOVES = frozenset({Action.KIRIM, Action.KEMBALI})
_CARRIED = frozenset({Action.KIRIM, Action.KEMBALI, Action.TERIMA, Action.BUKA})


def validate_event(event: Event) -> None:
    """Raise MalformedEvent (or UnknownNode) unless the event can be recorded."""
    try:
        uuid.UUID(event.event_id)
    except (ValueError, AttributeError, TypeError) as exc:
        raise MalformedEvent("event_id must be a UUID", field="event_id") from exc
    if not event.serial:
        raise MalformedEvent("serial is empty", field="serial")
    if not isinstance(event.action, Action):
        raise MalformedEvent(f"unknown action {event.action!r}", field="action")
    node_kind(event.node)
    for name in ("device_time", "server_time"):
        value = getattr(event, name)
        if not isinstance(value, datetime) or not _aware(value):
            raise MalformedEvent(f"{name} must be a timezone-aware datetime", field=name)
    if not event.user_id or not event.device_id:
        raise MalformedEvent("user_id and device_id are required", field="user_id")
    if event.seq < 0:
        raise MalformedEvent("seq must not be negative", field="seq")
    if event.quantity is not None and event.quantity < 0:
        raise MalformedEvent("quantity must not be negative", field="quantity")
    if event.condition is not None and not isinstance(event.condition, Condition):
        raise MalformedEvent(f"unknown condition {event.condition!r}", field="condition")
    if any(not seal for seal in event.seals):
        raise MalformedEvent("seal numbers must not be empty", field="seals")
    if event.target is not None:
        node_kind(event.target)
        if event.target == event.node:
            raise MalformedEvent("an item cannot be dispatched to where it is", field="target")
    if event.action is Action.KEMAS and (not event.container or event.container == event.serial):
        raise MalformedEvent("kemas needs another item as container", field="container")
    if event.action is Action.SEGEL and not event.seals:
        raise MalformedEvent("segel needs the seal numbers", field="seals")
    if event.action is Action.RUSAK and event.condition in (None, Condition.BAIK):
        raise MalformedEvent("rusak needs a damaged condition", field="condition")
    if event.action in (Action.VOID, Action.CORRECT) and not event.ref_event_id:
        raise MalformedEvent(f"{event.action} needs ref_event_id", field="ref_event_id")


def occurred_at(event: Event) -> datetime:
    """Return when the event happened: device time, but never later than server time."""
    return min(event.device_time, event.server_time)


def event_order(event: Event) -> tuple[datetime, int, str]:
    """Sort key for folding: server receipt time, then per-item sequence, then id."""
    return (event.server_time, event.seq, event.event_id)


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content(event: Event) -> dict[str, object]:
    return {
        "v": 1,
        "event_id": event.event_id,
        "serial": event.serial,
        "action": str(event.action),
        "node": event.node,
        "device_time": _utc(event.device_time),
        "user_id": event.user_id,
        "device_id": event.device_id,
        "quantity": event.quantity,
        "condition": None if event.condition is None else str(event.condition),
        "seals": list(event.seals),
        "counterpart": event.counterpart,
        "container": event.container,
        "target": event.target,
        "ref_event_id": event.ref_event_id,
    }


def _json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_event_bytes(event: Event) -> bytes:
    """Return the event's content and server time as sorted-keys compact UTF-8 JSON.

    Datetimes are UTC with microseconds (``2024-11-26T03:00:00.000000Z``); every
    field is present (null when absent); ``seq`` is not included because
    ``event_digest`` binds it separately.
    """
    return _json({**_content(event), "server_time": _utc(event.server_time)})


def check_replay(stored: Event, incoming: Event) -> None:
    """Raise EventConflict unless a re-sent event repeats the stored one's device content."""
    if stored.event_id != incoming.event_id:
        raise ValueError("check_replay compares two events with the same event_id")
    if _json(_content(stored)) != _json(_content(incoming)):
        raise EventConflict(incoming.event_id)


GENESIS_HASH = bytes(32)
_CHAIN_DOMAIN = b"tepat/custody-event/v1\x00"


def event_digest(prev_hash: bytes, item_seq: int, canonical: bytes) -> bytes:
    """Return SHA-256(domain || prev_hash || item_seq as u64 BE || canonical)."""
    if len(prev_hash) != 32 or not 0 < item_seq < 2**64:
        raise ValueError("prev_hash is 32 bytes and item_seq a positive u64")
    return hashlib.sha256(
        _CHAIN_DOMAIN + prev_hash + item_seq.to_bytes(8, "big") + canonical
    ).digest()


def check_chain(
    events: Sequence[Event], digests: Sequence[bytes], prev_hash: bytes = GENESIS_HASH
) -> bytes:
    """Recompute one item's chain (events in seq order 1..n); return its head.

    Raises LedgerMismatch at the first entry whose sequence or stored digest
    differs from the recomputation.
    """
    if len(events) != len(digests):
        raise LedgerMismatch(
            "the chain and its digests differ in length", index=min(len(events), len(digests))
        )
    head = prev_hash
    for index, (event, stored) in enumerate(zip(events, digests, strict=True)):
        if event.seq != index + 1 or (index and event.serial != events[0].serial):
            raise LedgerMismatch(
                f"entry {index} is out of sequence", index=index, entry_id=event.event_id
            )
        head = event_digest(head, event.seq, canonical_event_bytes(event))
        if head != stored:
            raise LedgerMismatch(
                f"entry {index} does not match its stored digest",
                index=index,
                entry_id=event.event_id,
                expected=head,
                actual=stored,
            )
    return head


# --- the per-item rules ---------------------------------------------------------------


def initial_state(item: Item) -> ItemState:
    """Return the state of an item that has just been issued (at its gudang)."""
    return ItemState(serial=item.serial, quantity=item.quantity, container=item.container)


def _route(plan: Plan, destination: str) -> tuple[str, ...] | None:
    try:
        return plan.route(destination)
    except UnknownNode:
        return None


def _kind(code: str | None) -> NodeKind | None:
    if code is None:
        return None
    try:
        return node_kind(code)
    except UnknownNode:
        return None


def _skew(event: Event, item: Item, policy: Policy) -> list[Finding]:
    skew = event.device_time - event.server_time
    # Ahead of the server is wrong for sure; behind is usually an offline upload.
    if -policy.max_offline <= skew <= policy.max_clock_skew:
        return []
    minutes = int(abs(skew).total_seconds() // 60)
    # A device ahead of the server is wrong for sure; one behind may just have
    # uploaded late after working offline.
    ahead = skew > timedelta(0)
    return [
        _finding(
            Code.CLOCK_SKEW,
            Severity.WARNING if ahead else Severity.INFO,
            f"Jam perangkat {event.device_id} {'lebih cepat' if ahead else 'tertinggal'} "
            f"{minutes} menit dari jam server; pemindaian tetap dicatat",
            item=item,
            node=event.node,
            event_ids=(event.event_id,),
            device_id=event.device_id,
            skew_seconds=int(skew.total_seconds()),
        )
    ]


def _custody(item: Item, before: ItemState, event: Event) -> tuple[str, str | None, list[Finding]]:
    """Resolve who holds the item after this scan; return (holder, transit_to, findings)."""
    node, action = event.node, event.action
    holder, transit_to = before.holder, before.transit_to
    ids = (event.event_id,)

    def received_without_dispatch() -> Finding:
        return _finding(
            Code.RECEIVED_WITHOUT_DISPATCH,
            Severity.WARNING,
            f"Diterima di {_place(node)} tanpa catatan pengiriman ke sana",
            item=item,
            node=node,
            event_ids=ids,
            expected_from=holder,
            in_transit_to=transit_to,
        )

    def cloned() -> Finding:
        where = holder if transit_to is None else f"{holder} -> {transit_to}"
        return _finding(
            Code.CLONED_LABEL,
            Severity.CRITICAL,
            f"Label yang sama dipindai di {_place(node)} padahal barang tercatat di "
            f"{where}: kemungkinan label ganda",
            item=item,
            node=node,
            event_ids=ids,
            recorded_at=where,
        )

    if holder is None:
        # Vendors deliver to gudangs; appearing first anywhere else skips a handover.
        if _kind(node) is NodeKind.GUDANG:
            return node, None, []
        return node, None, [received_without_dispatch()]
    if transit_to is not None:
        if action is Action.TERIMA:
            return node, None, [] if node == transit_to else [received_without_dispatch()]
        if node == holder:
            return holder, transit_to, []  # still at the sender: sealing or re-dispatching
        if node == transit_to:
            not_received = _finding(
                Code.NOT_RECEIVED,
                Severity.WARNING,
                f"Dipakai di {_place(node)} tanpa dicatat diterima dari {_place(holder)}",
                item=item,
                node=node,
                event_ids=ids,
                from_node=holder,
            )
            return node, None, [not_received]
        return node, None, [cloned()]
    if node == holder:
        return holder, None, []
    return node, None, [cloned()]


def _jenis(plan: Plan, item: Item, before: ItemState, event: Event) -> list[Finding]:
    node, ids = event.node, (event.event_id,)
    findings: list[Finding] = []
    arrival = before.last_node != node
    node_region = region_of(node)
    if (
        arrival
        and item.region != node_region
        and (before.last_node is None or region_of(before.last_node) != node_region)
    ):
        findings.append(
            _finding(
                Code.REGION_MISMATCH,
                Severity.CRITICAL,
                f"{_sentence(_what(item.item_type, item.race))} ini untuk wilayah "
                f"{item.region}, tetapi dipindai di wilayah {node_region} (tertukar)",
                item=item,
                node=node,
                event_ids=ids,
                label_region=item.region,
                node_region=node_region,
            )
        )
    # Check the race against the TPS where the item is, and on its first scan against
    # the TPS on its label, so a wrongly issued label is caught at the gudang. Whether
    # the type is planned is asked of the label's TPS only: at any other TPS the item
    # is already reported as misdelivered.
    places: list[tuple[str, bool]] = []
    if arrival and _kind(node) is NodeKind.KPPS:
        places.append((node, node == item.destination))
    if before.last_node is None and item.destination != node:
        places.append((item.destination, True))
    for place, check_type in places:
        if place not in plan.races:
            continue
        if item.race is not None and item.race not in plan.races[place]:
            findings.append(
                _finding(
                    Code.RACE_NOT_HELD,
                    Severity.CRITICAL,
                    f"Barang untuk pemilihan {_RACE_NAMES[item.race]}, tetapi TPS {place} "
                    f"tidak menyelenggarakan pemilihan {_RACE_NAMES[item.race]}",
                    item=item,
                    tps=place,
                    node=node,
                    event_ids=ids,
                    race=str(item.race),
                )
            )
        elif check_type and (item.item_type, item.race) not in plan.planned_for(place):
            findings.append(
                _finding(
                    Code.TYPE_NOT_PLANNED,
                    Severity.WARNING,
                    f"{_sentence(_what(item.item_type, item.race))} tidak direncanakan "
                    f"untuk TPS {place}",
                    item=item,
                    tps=place,
                    node=node,
                    event_ids=ids,
                    item_type=str(item.item_type),
                    race=None if item.race is None else str(item.race),
                )
            )
    return findings


def _sasaran(
    route: tuple[str, ...] | None, item: Item, before: ItemState, event: Event
) -> list[Finding]:
    node, ids = event.node, (event.event_id,)
    if (
        event.action in (Action.TERIMA, Action.BUKA)
        and _kind(node) is NodeKind.KPPS
        and node != item.destination
    ):
        return [
            _finding(
                Code.WRONG_TPS,
                Severity.CRITICAL,
                f"Barang untuk {_place(item.destination)}, bukan TPS {node}",
                item=item,
                node=node,
                event_ids=ids,
                destination=item.destination,
            )
        ]
    if route is not None and before.last_node != node and node not in route:
        return [
            _finding(
                Code.OFF_ROUTE,
                Severity.WARNING,
                f"Dipindai di {_place(node)}, di luar rute ke {_place(item.destination)} "
                f"({' -> '.join(route)})",
                item=item,
                node=node,
                event_ids=ids,
                route=" -> ".join(route),
            )
        ]
    return []


def _dispatch_target(
    route: tuple[str, ...] | None, event: Event, returning: bool
) -> tuple[str | None, str | None]:
    """Return (target, expected next node) of a kirim/kembali."""
    expected = None
    if route is not None and event.node in route:
        i = route.index(event.node)
        j = i - 1 if returning else i + 1
        if 0 <= j < len(route):
            expected = route[j]
    return (event.target or expected), expected


def _late(
    plan: Plan, route: tuple[str, ...] | None, item: Item, event: Event, returning: bool
) -> list[Finding]:
    if returning or route is None or event.node not in route:
        return []
    i = route.index(event.node)
    if i == 0:
        return []
    deadline = plan.deadline(route[i - 1], event.node)
    when = occurred_at(event)
    if deadline is None or when <= deadline:
        return []
    final = event.node == item.destination
    return [
        _finding(
            Code.LATE,
            Severity.CRITICAL if final else Severity.WARNING,
            f"Tiba di {_place(event.node)} {_when(when, event.node)}, "
            f"lewat tenggat {_when(deadline, event.node)}",
            item=item,
            node=event.node,
            event_ids=(event.event_id,),
            deadline=_utc(deadline),
            occurred_at=_utc(when),
            late_minutes=int((when - deadline).total_seconds() // 60),
        )
    ]


def _count(item: Item, before: ItemState, event: Event) -> list[Finding]:
    counted = event.quantity
    # Flag a count that differs from the label unless it repeats the last count:
    # a miscount is reported once, a further loss again, a fix back to the label never.
    if counted is None or counted == item.quantity or counted == before.quantity:
        return []
    unit = _unit(item.item_type)
    return [
        _finding(
            Code.COUNT_MISMATCH,
            Severity.WARNING,
            f"Dihitung {counted} {unit}, label tertulis {item.quantity} "
            f"(selisih {counted - item.quantity})",
            item=item,
            node=event.node,
            event_ids=(event.event_id,),
            label_quantity=item.quantity,
            previous_quantity=before.quantity,
            counted=counted,
        )
    ]


def _kualitas(item: Item, before: ItemState, event: Event) -> list[Finding]:
    findings: list[Finding] = []
    node, ids = event.node, (event.event_id,)
    condition = event.condition
    if (
        condition is not None
        and condition is not Condition.BAIK
        and (event.action is Action.RUSAK or condition is not before.condition)
    ):
        findings.append(
            _finding(
                Code.DAMAGED,
                Severity.WARNING if condition is Condition.RUSAK_RINGAN else Severity.CRITICAL,
                f"{_sentence(_what(item.item_type, item.race))} dilaporkan "
                f"{_CONDITION_NAMES[condition]} di {_place(node)}",
                item=item,
                node=node,
                event_ids=ids,
                condition=str(condition),
            )
        )
    if (
        event.action is not Action.SEGEL
        and event.seals
        and before.seals
        and sorted(event.seals) != sorted(before.seals)
    ):
        findings.append(
            _finding(
                Code.SEAL_CHANGED,
                Severity.CRITICAL,
                f"Nomor segel berbeda: saat disegel {', '.join(before.seals)}, "
                f"sekarang {', '.join(event.seals)}",
                item=item,
                node=node,
                event_ids=ids,
                sealed=",".join(before.seals),
                found=",".join(event.seals),
            )
        )
    if event.action is Action.BUKA and _kind(node) is not NodeKind.KPPS:
        findings.append(
            _finding(
                Code.OPENED_OUTSIDE_TPS,
                Severity.CRITICAL,
                f"Dibuka di {_place(node)}, padahal hanya boleh dibuka di TPS",
                item=item,
                node=node,
                event_ids=ids,
            )
        )
    return findings


def _snapshot(state: ItemState) -> ItemState:
    return replace(state, previous=None)


def _apply_void(item: Item, before: ItemState, event: Event, carried: bool) -> Transition:
    if before.previous is None or before.last_event_id != event.ref_event_id:
        raise NotAllowedInState(
            item.serial, str(event.action), "only the latest scan can be undone, once"
        )
    seq = before.seq if carried else before.seq + 1
    state = replace(before.previous, seq=seq, previous=None)
    if carried:
        return Transition(state, ())
    finding = _finding(
        Code.SCAN_VOIDED,
        Severity.INFO,
        f"Pemindaian {event.ref_event_id} dibatalkan oleh {event.user_id}",
        item=item,
        node=event.node,
        event_ids=(event.event_id, event.ref_event_id or ""),
    )
    return Transition(state, (finding,))


def _apply_correction(item: Item, before: ItemState, event: Event) -> Transition:
    findings = [
        _finding(
            Code.SCAN_CORRECTED,
            Severity.INFO,
            f"Pemindaian {event.ref_event_id} dikoreksi oleh {event.user_id}",
            item=item,
            node=event.node,
            event_ids=(event.event_id, event.ref_event_id or ""),
        )
    ]
    findings += _count(item, before, event)
    if event.condition is not None and event.condition is not before.condition:
        findings += _kualitas(item, before, replace(event, seals=()))
    state = replace(
        before,
        seq=before.seq + 1,
        last_event_id=event.event_id,
        last_seen_at=event.server_time,
        quantity=before.quantity if event.quantity is None else event.quantity,
        condition=before.condition if event.condition is None else event.condition,
        seals=event.seals or before.seals,
        previous=_snapshot(before),
    )
    return Transition(state, tuple(findings))


def apply(
    plan: Plan,
    item: Item,
    state: ItemState | None,
    event: Event,
    *,
    carried: bool = False,
    policy: Policy = DEFAULT_POLICY,
) -> Transition:
    """Apply one event to one item; return its new state and the findings.

    With ``carried`` the event is its container's, moving this item along:
    only the checks about where the item goes run (no count, seals, condition
    or clock checks), and the item's own ``seq`` does not advance.
    """
    if not carried:
        validate_event(event)
        if event.serial != item.serial:
            raise MalformedEvent("the event is for another serial", field="serial")
        if item.voided_at is not None and event.server_time >= item.voided_at:
            raise VoidedLabel(item.serial, item.voided_at)
    before = state if state is not None else initial_state(item)
    if event.action is Action.VOID:
        return _apply_void(item, before, event, carried)
    if event.action is Action.CORRECT:
        return _apply_correction(item, before, event)

    action, node, when = event.action, event.node, occurred_at(event)
    route = _route(plan, item.destination)
    findings = [] if carried else _skew(event, item, policy)
    holder, transit_to, custody = _custody(item, before, event)
    findings += custody
    jenis = _jenis(plan, item, before, event)
    findings += jenis
    # An item from another region is off every route here; say so once.
    foreign = any(f.code == Code.REGION_MISMATCH for f in jenis)
    findings += _sasaran(None if foreign else route, item, before, event)

    returning = before.returning or action is Action.KEMBALI
    dispatched_at = before.dispatched_at
    container = before.container
    opened = before.opened
    if action in _MOVES:
        target, expected = _dispatch_target(route, event, returning)
        if target is None:
            raise MalformedEvent("no target given and none on the route", field="target")
        if not carried and expected is not None and target != expected:
            findings.append(
                _finding(
                    Code.WRONG_DISPATCH_TARGET,
                    Severity.WARNING,
                    f"Dikirim ke {_place(target)}, seharusnya ke {_place(expected)}",
                    item=item,
                    node=node,
                    event_ids=(event.event_id,),
                    target=target,
                    expected=expected,
                )
            )
        holder, transit_to, dispatched_at = node, target, when
    elif action is Action.TERIMA:
        findings += _late(plan, route, item, event, returning)
    elif action is Action.KEMAS:
        container = event.container
    elif action is Action.BUKA:
        if carried:
            container = None  # released from the opened container
        else:
            opened = True
    elif action is Action.SEGEL:
        opened = False

    if not carried:
        findings += _count(item, before, event)
        findings += _kualitas(item, before, event)

    delivered_at = before.delivered_at
    if delivered_at is None and transit_to is None and holder == item.destination:
        delivered_at = when
    new = replace(
        before,
        seq=before.seq if carried else before.seq + 1,
        holder=holder,
        transit_to=transit_to,
        dispatched_at=dispatched_at if transit_to is not None else None,
        delivered_at=delivered_at,
        last_node=node,
        last_event_id=event.event_id,
        last_seen_at=event.server_time,
        quantity=before.quantity if carried or event.quantity is None else event.quantity,
        condition=before.condition if carried or event.condition is None else event.condition,
        seals=event.seals if action is Action.SEGEL and not carried else before.seals,
        container=container,
        opened=opened,
        returning=returning,
        previous=_snapshot(before),
    )
    return Transition(new, tuple(findings))


# --- quantities ---------------------------------------------------------------------


def _contribution(item: Item, state: ItemState) -> tuple[int, int]:
    return state.quantity, (state.quantity if state.delivered_at is not None else 0)


def tally_items(items: Iterable[Item], states: Mapping[str, ItemState]) -> dict[str, TpsTally]:
    """Return the tallies of all items from scratch, keyed by destination."""
    tallies: dict[str, TpsTally] = {}
    for item in items:
        state = states.get(item.serial) or initial_state(item)
        known, received = _contribution(item, state)
        tally = tallies.get(item.destination) or TpsTally(item.destination)
        tallies[item.destination] = tally.adjust((item.item_type, item.race), known, received)
    return tallies


def _key_order(key: TallyKey) -> tuple[str, str]:
    return (str(key[0]), "" if key[1] is None else str(key[1]))


def check_tps_quantities(plan: Plan, tally: TpsTally) -> tuple[Finding, ...]:
    """Compare the known quantities of one TPS with its plan: shortage and surplus."""
    findings = []
    planned_items = sorted(plan.planned_for(tally.tps).items(), key=lambda kv: _key_order(kv[0]))
    for key, planned in planned_items:
        known = tally.known.get(key, 0)
        if known == planned:
            continue
        item_type, race = key
        what, unit = _what(item_type, race), _unit(item_type)
        short = known < planned
        findings.append(
            _finding(
                Code.SHORTAGE if short else Code.SURPLUS,
                Severity.CRITICAL if short else Severity.WARNING,
                f"{_place(tally.tps)} {'kurang' if short else 'lebih'} "
                f"{abs(planned - known)} {unit} {what}: tercatat {known} dari rencana {planned}",
                tps=tally.tps,
                item_type=str(item_type),
                race=None if race is None else str(race),
                planned=planned,
                known=known,
                received=tally.received.get(key, 0),
            )
        )
    return tuple(findings)


def check_all_quantities(plan: Plan, tallies: Mapping[str, TpsTally]) -> tuple[Finding, ...]:
    """Run check_tps_quantities for every destination in the plan."""
    findings: list[Finding] = []
    for destination in sorted(plan.destinations):
        findings += check_tps_quantities(plan, tallies.get(destination) or TpsTally(destination))
    return tuple(findings)


# --- deadlines ----------------------------------------------------------------------


def _rupiah(amount: int) -> str:
    return "Rp" + f"{amount:,}".replace(",", ".")


def check_costs(
    budgets: Mapping[tuple[str, str], int | None],
    costs: Mapping[tuple[str, str], int],
    tolerance: float = 0.2,
) -> tuple[Finding, ...]:
    """Compare the recorded cost of each leg with its budget (tepat biaya).

    Over budget is a warning, critical beyond ``tolerance`` (a share of the budget); a cost
    on a leg without a budget is worth a look but not an alarm.
    """
    findings: list[Finding] = []
    for (from_node, to_node), spent in sorted(costs.items()):
        budget = budgets.get((from_node, to_node))
        leg = f"{_place(from_node)} → {_place(to_node)}"
        if budget is None:
            findings.append(
                _finding(
                    Code.COST_WITHOUT_BUDGET,
                    Severity.INFO,
                    f"Biaya {leg} {_rupiah(spent)} tercatat tanpa anggaran",
                    node=to_node,
                    cost=spent,
                )
            )
        elif spent > budget:
            over = spent - budget
            findings.append(
                _finding(
                    Code.OVER_BUDGET,
                    Severity.CRITICAL if over > budget * tolerance else Severity.WARNING,
                    f"Biaya {leg} {_rupiah(spent)} melebihi anggaran {_rupiah(budget)} "
                    f"(lebih {_rupiah(over)})",
                    node=to_node,
                    cost=spent,
                    budget=budget,
                )
            )
    return tuple(findings)


def check_deadlines(
    plan: Plan,
    items: Mapping[str, Item],
    states: Mapping[str, ItemState],
    now: datetime,
    horizon: timedelta = DEFAULT_POLICY.at_risk_horizon,
) -> tuple[Finding, ...]:
    """Return overdue, at-risk and never-received findings as of ``now``.

    Each item is checked against the next leg on its route; items inside a
    container are represented by the container, and items delivered or on the
    return journey have no forward deadline left.
    """
    if not _aware(now):
        raise ValueError("now must be timezone-aware")
    findings: list[Finding] = []
    for serial in sorted(items):
        item = items[serial]
        state = states.get(serial) or initial_state(item)
        if state.container is not None or state.delivered_at is not None or state.returning:
            continue
        if item.destination not in plan.destinations:
            continue
        route = _route(plan, item.destination)
        if route is None or len(route) < 2:
            continue
        ids = () if state.last_event_id is None else (state.last_event_id,)
        position = (
            0
            if state.holder is None
            else (route.index(state.holder) if state.holder in route else None)
        )
        if position is None:  # off route: all that is left is the final deadline
            deadline = plan.deadline(route[-2], route[-1])
            if deadline is not None and now > deadline:
                findings.append(_overdue(item, route[-1], deadline, ids))
            continue
        if position >= len(route) - 1:
            continue
        here, next_node = route[position], route[position + 1]
        deadline = plan.deadline(here, next_node)
        if deadline is None:
            continue
        in_transit = state.transit_to == next_node
        if now > deadline:
            findings.append(_overdue(item, next_node, deadline, ids))
            if in_transit:
                findings.append(
                    _finding(
                        Code.NOT_RECEIVED,
                        Severity.CRITICAL,
                        f"Dikirim dari {_place(here)} ke {_place(next_node)} tetapi belum "
                        f"dicatat diterima setelah tenggat {_when(deadline, next_node)}",
                        item=item,
                        node=next_node,
                        event_ids=ids,
                        from_node=here,
                        deadline=_utc(deadline),
                    )
                )
        elif not in_transit and now >= deadline - horizon:
            hours = int((deadline - now).total_seconds() // 3600)
            findings.append(
                _finding(
                    Code.AT_RISK,
                    Severity.WARNING,
                    f"Belum dikirim dari {_place(here)} ke {_place(next_node)}; tenggat "
                    f"{_when(deadline, next_node)} tinggal {hours} jam lagi",
                    item=item,
                    node=next_node,
                    event_ids=ids,
                    from_node=here,
                    deadline=_utc(deadline),
                )
            )
    return tuple(findings)


def _overdue(item: Item, to_node: str, deadline: datetime, ids: tuple[str, ...]) -> Finding:
    return _finding(
        Code.OVERDUE,
        Severity.CRITICAL,
        f"Belum sampai di {_place(to_node)} padahal tenggat {_when(deadline, to_node)} sudah lewat",
        item=item,
        node=to_node,
        event_ids=ids,
        deadline=_utc(deadline),
    )


# --- the aggregate ------------------------------------------------------------------


class Book:
    """A pure in-memory custody book: items, their states and per-TPS tallies.

    ``recompute`` opens it on everything. The ingest service may open it on a
    subset: the scanned item, everything inside it (items whose container chain
    leads to it), for ``kemas`` the target container and the containers around
    it, for ``batal`` the items whose ``last_event_id`` is the voided event, and
    the tallies of those items' destinations. ``apply`` then returns only what
    changed.
    """

    def __init__(
        self,
        plan: Plan,
        items: Iterable[Item],
        states: Mapping[str, ItemState] | None = None,
        tallies: Mapping[str, TpsTally] | None = None,
        *,
        policy: Policy = DEFAULT_POLICY,
    ) -> None:
        self.plan = plan
        self.policy = policy
        self.items: dict[str, Item] = {item.serial: item for item in items}
        self.states: dict[str, ItemState] = {
            serial: initial_state(item) for serial, item in self.items.items()
        }
        self.states.update(states or {})
        self.tallies: dict[str, TpsTally] = (
            dict(tallies) if tallies is not None else tally_items(self.items.values(), self.states)
        )
        self._contents: dict[str, set[str]] = {}
        self._moved_by: dict[str, set[str]] = {}  # last_event_id -> serials, for batal
        for serial, state in self.states.items():
            self._index(serial, None, state)
        self._seen: dict[str, Event] = {}

    def contents(self, serial: str) -> tuple[str, ...]:
        """Return the serials directly inside a container, sorted."""
        return tuple(sorted(self._contents.get(serial, ())))

    def _descendants(self, serial: str) -> list[str]:
        found: list[str] = []
        stack = list(reversed(self.contents(serial)))
        while stack:
            inner = stack.pop()
            found.append(inner)
            stack.extend(reversed(self.contents(inner)))
        return found

    def _item(self, serial: str) -> Item:
        try:
            return self.items[serial]
        except KeyError:
            raise UnknownItem(serial) from None

    def _packing(self, item: Item, event: Event) -> list[Finding]:
        assert event.container is not None
        container = self._item(event.container)
        ancestor: str | None = event.container
        while ancestor is not None:
            if ancestor == item.serial:
                raise NotAllowedInState(item.serial, str(event.action), "container inside item")
            ancestor = self.states[ancestor].container if ancestor in self.states else None
        route = _route(self.plan, item.destination)
        if route is None or container.destination in route:
            return []
        return [
            _finding(
                Code.PACKED_FOR_OTHER_DESTINATION,
                Severity.CRITICAL,
                f"Barang untuk {_place(item.destination)} dikemas ke {container.serial} "
                f"untuk {_place(container.destination)}",
                item=item,
                node=event.node,
                event_ids=(event.event_id,),
                container=container.serial,
                container_destination=container.destination,
            )
        ]

    def apply(self, event: Event) -> Update:
        """Apply one event and everything it carries; return what changed."""
        validate_event(event)
        seen = self._seen.get(event.event_id)
        if seen is not None:
            check_replay(seen, event)
            return Update({}, {}, ())
        item = self._item(event.serial)
        findings: list[Finding] = []
        if event.action is Action.KEMAS:
            findings += self._packing(item, event)
        transition = apply(self.plan, item, self.states[item.serial], event, policy=self.policy)
        changed = {item.serial: transition.state}
        findings[:0] = transition.findings
        if event.action is Action.VOID:
            # Undo everything the voided event carried, including contents a buka
            # released (no longer inside) and those still inside.
            assert event.ref_event_id is not None
            for serial in sorted(self._moved_by.get(event.ref_event_id, set()) - {item.serial}):
                inner = self.states[serial]
                if inner.previous is not None:
                    changed[serial] = _apply_void(self._item(serial), inner, event, True).state
        elif event.action in _CARRIED:
            carried = event
            if event.action in _MOVES:
                carried = replace(event, target=transition.state.transit_to)
            inside = (
                self.contents(item.serial)
                if event.action is Action.BUKA
                else self._descendants(item.serial)
            )
            for serial in inside:
                moved = apply(
                    self.plan,
                    self._item(serial),
                    self.states[serial],
                    carried,
                    carried=True,
                    policy=self.policy,
                )
                changed[serial] = moved.state
                findings += moved.findings
        tallies = self._commit(changed)
        self._seen[event.event_id] = event
        return Update(changed, tallies, tuple(findings))

    def _commit(self, changed: Mapping[str, ItemState]) -> dict[str, TpsTally]:
        touched: dict[str, TpsTally] = {}
        for serial, after in changed.items():
            before = self.states[serial]
            item = self.items[serial]
            self._index(serial, before, after)
            old_known, old_received = _contribution(item, before)
            new_known, new_received = _contribution(item, after)
            if (old_known, old_received) != (new_known, new_received):
                tally = self.tallies.get(item.destination) or TpsTally(item.destination)
                tally = tally.adjust(
                    (item.item_type, item.race),
                    new_known - old_known,
                    new_received - old_received,
                )
                self.tallies[item.destination] = touched[item.destination] = tally
            self.states[serial] = after
        return touched

    def _index(self, serial: str, before: ItemState | None, after: ItemState) -> None:
        if before is not None and before.container is not None:
            self._contents[before.container].discard(serial)
        if after.container is not None:
            self._contents.setdefault(after.container, set()).add(serial)
        if before is not None and before.last_event_id is not None:
            self._moved_by[before.last_event_id].discard(serial)
        if after.last_event_id is not None:
            self._moved_by.setdefault(after.last_event_id, set()).add(serial)

    def snapshot_findings(self, now: datetime) -> tuple[Finding, ...]:
        """Return the quantity and deadline findings as of ``now``."""
        return check_all_quantities(self.plan, self.tallies) + check_deadlines(
            self.plan, self.items, self.states, now, self.policy.at_risk_horizon
        )


def recompute(
    plan: Plan,
    items: Iterable[Item],
    events: Iterable[Event],
    now: datetime,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Recomputation:
    """Fold the whole log from scratch: states, tallies and every finding as of ``now``."""
    book = Book(plan, items, policy=policy)
    findings: list[Finding] = []
    for event in sorted(events, key=event_order):
        findings += book.apply(event).findings
    tallies = tally_items(book.items.values(), book.states)
    findings += check_all_quantities(plan, tallies)
    findings += check_deadlines(plan, book.items, book.states, now, policy.at_risk_horizon)
    return Recomputation(dict(book.states), tallies, tuple(findings))
