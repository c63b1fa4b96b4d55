"""The custody vocabulary and value objects.

Enums, finding codes, node codes, the plan, items, events and item state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from functools import cached_property

from app.custody.errors import (
    MalformedPlan,
    UnknownNode,
)

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
    # Label events the server records (never sent by a device): a label voided for good,
    # and the replacement label issued for a voided one.
    LABEL_VOID = "cabut"
    LABEL_REPLACE = "ganti"
    KIRIM = "kirim"
    TERIMA = "terima"
    BUKA = "buka"
    SEGEL = "segel"
    KEMBALI = "kembali"
    RUSAK = "rusak"
    VOID = "batal"
    CORRECT = "koreksi"
    LOST = "hilang"  # an explicit report that an item is lost
    UNPACK = "keluarkan"  # taken out of its container again (a wrong item), with a reason


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
    VOIDED_LABEL_CARRIED = "voided_label_carried"
    OVER_BUDGET = "over_budget"
    COST_WITHOUT_BUDGET = "cost_without_budget"
    PACKED_SHORT = "packed_short"
    CONTENTS_SHORT = "contents_short"
    CONTENTS_SURPLUS = "contents_surplus"
    REPORTED_LOST = "reported_lost"
    NOT_ISSUED = "not_issued"
    DISPATCH_NOT_RECORDED = "dispatch_not_recorded"


class ItemStatus(StrEnum):
    """Where an item stands on its way to its destination, as the desk counts it.

    ``NOT_ISSUED`` is the status of planned goods with no label yet (counted per
    destination, not per item: there is no item to count).
    """

    NOT_ISSUED = "not_issued"
    AT_GUDANG = "at_gudang"
    IN_TRANSIT = "in_transit"
    DELIVERED_UNCONFIRMED = "delivered_unconfirmed"
    CONFIRMED = "confirmed"
    MISSING = "missing"


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
    Code.VOIDED_LABEL_CARRIED: Principle.AKUNTABILITAS,
    Code.OVER_BUDGET: Principle.BIAYA,
    Code.COST_WITHOUT_BUDGET: Principle.BIAYA,
    Code.PACKED_SHORT: Principle.JUMLAH,
    Code.CONTENTS_SHORT: Principle.JUMLAH,
    Code.CONTENTS_SURPLUS: Principle.JUMLAH,
    Code.REPORTED_LOST: Principle.JUMLAH,
    Code.NOT_ISSUED: Principle.JUMLAH,
    Code.DISPATCH_NOT_RECORDED: Principle.AKUNTABILITAS,
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

    def final_deadline(self, destination: str) -> datetime | None:
        """Return the deadline of the last leg into a destination, if planned."""
        try:
            route = self.route(destination)
        except UnknownNode:
            return None
        return self.deadline(route[-2], route[-1]) if len(route) >= 2 else None

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

    ``counts`` is what a ``terima``/``buka`` of a container confirmed inside it:
    (``"TYPE|RACE"`` or ``"TYPE"``, quantity in the label's unit, sheets for ballots).
    ``clock_offset`` is the server's estimate of the device clock's lead over the
    server (device minus true time); None when the device has no stable estimate,
    and then ``clock_verified`` says whether the raw device time may be trusted
    (a device that never sent its clock may not: lateness it shows is flagged).
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
    counts: tuple[tuple[str, int], ...] = ()
    clock_offset: timedelta | None = None
    clock_verified: bool = True
    #: How the item was identified: "qr_signed", "qr_link" or "typed" (None: not kept).
    identified_by: str | None = None


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
    confirmed_at: datetime | None = None
    lost: bool = False
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
    # Batch clock offsets of one device that differ by more than this are not trusted.
    max_clock_jitter: timedelta = timedelta(minutes=5)


DEFAULT_POLICY = Policy()


@dataclass(frozen=True)
class Transition:
    """The new state of one item and the findings its event raised."""

    state: ItemState
    findings: tuple[Finding, ...]


@dataclass(frozen=True)
class TpsTally:
    """Quantities per (item type, race) of the items destined for one TPS or node.

    ``issued`` counts the labels issued for here (items, whatever became of them, except
    voided labels: a replacement is counted once, never beside the label it replaces);
    ``known`` sums the latest known quantity (counted, else the label's) of every
    issued item destined here and not reported lost; ``delivered`` the part that
    reached here; ``received`` the part delivered and confirmed (a receipt that
    counted it, or its own scan).
    """

    tps: str
    known: Mapping[TallyKey, int] = field(default_factory=dict)
    received: Mapping[TallyKey, int] = field(default_factory=dict)
    issued: Mapping[TallyKey, int] = field(default_factory=dict)
    delivered: Mapping[TallyKey, int] = field(default_factory=dict)

    def adjust(
        self, key: TallyKey, known: int, received: int, issued: int = 0, delivered: int = 0
    ) -> TpsTally:
        """Return the tally with deltas added to one key (zero entries dropped)."""
        return replace(
            self,
            known=_add(self.known, key, known),
            received=_add(self.received, key, received),
            issued=_add(self.issued, key, issued),
            delivered=_add(self.delivered, key, delivered),
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
    """The result of folding a whole log from scratch (``open``: findings not resolved)."""

    states: Mapping[str, ItemState]
    tallies: Mapping[str, TpsTally]
    findings: tuple[Finding, ...]
    open: tuple[Finding, ...] = ()
