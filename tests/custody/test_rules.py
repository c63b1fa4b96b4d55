"""Enam-tepat custody rules: one table row per finding, each named for the failure it pins."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.custody import rules
from app.custody.errors import (
    CustodyError,
    EventConflict,
    LedgerMismatch,
    MalformedEvent,
    NotAllowedInState,
    UnknownItem,
    UnknownNode,
    VoidedLabel,
)
from app.custody.rules import (
    CODES,
    GENESIS_HASH,
    Action,
    Book,
    Code,
    Condition,
    Event,
    Item,
    ItemState,
    ItemType,
    NodeKind,
    Plan,
    Principle,
    Race,
    Severity,
    TpsTally,
    apply,
    canonical_event_bytes,
    check_chain,
    check_replay,
    derive_route,
    event_digest,
    initial_state,
    node_kind,
    parent_node,
    recompute,
    region_of,
    tally_items,
    tps_legs,
)

# Kabupaten Gunung Mas (62.10). Kecamatan 05, desa 2016 (three TPS); a remote desa
# reached by river in kecamatan 08. TPS 002 holds only the regent race.
GUDANG = "62.10"
PPK = "62.10.05"
PPS = "62.10.05.2016"
TPS_A = "6210052016001"
TPS_X = "6210052016002"
TPS_B = "6210052016003"
PPK_R = "62.10.08"
PPS_R = "62.10.08.2003"
TPS_R = "6210082003001"

T0 = datetime(2024, 11, 20, 0, 0, tzinfo=UTC)
D_PPK = datetime(2024, 11, 23, 0, 0, tzinfo=UTC)  # gudang -> PPK
D_PPS = datetime(2024, 11, 25, 0, 0, tzinfo=UTC)  # PPK -> PPS
D_KPPS = datetime(2024, 11, 26, 10, 0, tzinfo=UTC)  # PPS -> KPPS, H-1
EARLY = T0 + timedelta(days=1)  # no deadline within the 24 h horizon yet
BOTH = frozenset({Race.GUB, Race.BUP})
RACES = {TPS_A: BOTH, TPS_B: BOTH, TPS_R: BOTH, TPS_X: frozenset({Race.BUP})}


def item(
    serial: str,
    item_type: ItemType = ItemType.SURAT,
    race: Race | None = Race.GUB,
    destination: str = TPS_A,
    quantity: int | None = None,
    region: str = GUDANG,
    container: str | None = None,
) -> Item:
    if quantity is None:
        quantity = 400 if item_type is ItemType.SURAT else 1
    return Item(serial, item_type, race, destination, quantity, region, container)


def make_plan(planned: Iterable[Item], extra: dict[tuple[str, ItemType, Race | None], int]) -> Plan:
    """A plan whose quantities are exactly the labels of ``planned`` (plus ``extra``)."""
    quantities: Counter[tuple[str, ItemType, Race | None]] = Counter()
    for it in planned:
        quantities[(it.destination, it.item_type, it.race)] += it.quantity
    quantities.update(extra)
    legs = tuple(leg for tps in RACES for leg in tps_legs(tps, (D_PPK, D_PPS, D_KPPS)))
    return Plan(GUDANG, RACES, dict(quantities), legs)


class Log:
    """Builds events one minute apart, in server order, with per-item sequences."""

    def __init__(self, start: datetime = T0) -> None:
        self.events: list[Event] = []
        self.now = start
        self.seq: Counter[str] = Counter()

    def __call__(
        self,
        serial: str,
        action: Action,
        node: str,
        *,
        at: datetime | None = None,
        skew: timedelta = timedelta(0),
        **fields: object,
    ) -> Event:
        self.now = at if at is not None else self.now + timedelta(minutes=1)
        self.seq[serial] += 1
        event = Event(
            event_id=str(uuid.UUID(int=len(self.events) + 1)),
            serial=serial,
            action=action,
            node=node,
            device_time=self.now + skew,
            server_time=self.now,
            user_id="petugas-1",
            device_id="hp-1",
            seq=self.seq[serial],
            **fields,  # type: ignore[arg-type]
        )
        self.events.append(event)
        return event

    def journey(self, serial: str, tps: str, *, stop_after: str | None = None) -> None:
        """Check in at the gudang and walk the route to ``tps`` with a BAST at each hop."""
        route = derive_route(tps)
        self(serial, Action.TERIMA, route[0])
        for here, there in zip(route, route[1:], strict=False):
            if here == stop_after:
                return
            self(serial, Action.KIRIM, here, target=there)
            self(serial, Action.TERIMA, there)


@dataclass
class Scenario:
    items: list[Item]
    log: Log
    now: datetime = EARLY
    planned: list[Item] | None = None  # defaults to every item destined in the plan
    extra: dict[tuple[str, ItemType, Race | None], int] = field(default_factory=dict)

    def plan(self) -> Plan:
        planned = self.planned
        if planned is None:
            planned = [it for it in self.items if it.destination in RACES]
        return make_plan(planned, self.extra)


# --- scenarios ----------------------------------------------------------------------


def happy_path() -> Scenario:
    kit = item("KIT-A", ItemType.KIT, None)
    ballots = [item("SS-A-GUB", container="KIT-A"), item("SS-A-BUP", race=Race.BUP)]
    boxes = [item("KTK-A-GUB", ItemType.KOTAK), item("KTK-A-BUP", ItemType.KOTAK, Race.BUP)]
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    log("SS-A-BUP", Action.TERIMA, GUDANG)
    log("SS-A-BUP", Action.KEMAS, GUDANG, container="KIT-A", quantity=400)
    for box, seals in (("KTK-A-GUB", ("S-0001", "S-0002")), ("KTK-A-BUP", ("S-0003",))):
        log(box, Action.TERIMA, GUDANG)
        log(box, Action.SEGEL, GUDANG, seals=seals)
        log(box, Action.KIRIM, GUDANG, target=PPK)
        log(box, Action.TERIMA, PPK, seals=seals, condition=Condition.BAIK)
        log(box, Action.KIRIM, PPK, target=PPS)
        log(box, Action.TERIMA, PPS, seals=seals)
        log(box, Action.KIRIM, PPS, target=TPS_A)
        log(box, Action.TERIMA, TPS_A, seals=seals)
        log(box, Action.BUKA, TPS_A, seals=seals)
    for here, there in ((GUDANG, PPK), (PPK, PPS), (PPS, TPS_A)):
        log("KIT-A", Action.KIRIM, here, target=there)
        log("KIT-A", Action.TERIMA, there, condition=Condition.BAIK)
    # What the KPPS confirms on opening: the regent ballots counted, the governor's scanned.
    log("KIT-A", Action.BUKA, TPS_A, counts=(("SURAT|BUP", 400),))
    log("SS-A-GUB", Action.TERIMA, TPS_A, quantity=400)
    return Scenario([kit, *ballots, *boxes], log, now=D_KPPS + timedelta(hours=2))


def ballots_of_another_regency() -> Scenario:
    serang = item("SS-SERANG", destination="3604012001001", region="36.04")
    log = Log()
    log("SS-SERANG", Action.TERIMA, GUDANG)
    return Scenario([serang], log)


def governor_ballots_for_regent_only_tps() -> Scenario:
    log = Log()
    log.journey("SS-X-GUB", TPS_X)
    return Scenario([item("SS-X-GUB", destination=TPS_X)], log, planned=[])


def braille_template_not_in_plan() -> Scenario:
    log = Log()
    log("BR-A", Action.TERIMA, GUDANG)
    return Scenario([item("BR-A", ItemType.BRAILLE, Race.BUP)], log, planned=[])


def packing_miscount() -> Scenario:
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.KEMAS, GUDANG, container="KIT-A", quantity=400 - 119)
    return Scenario([item("KIT-A", ItemType.KIT, None), item("SS-A-GUB")], log)


def extra_bundle_issued() -> Scenario:
    items = [item("SS-A-GUB"), item("SS-A-GUB-2", quantity=20)]
    return Scenario(items, Log(), planned=items[:1])


def short_count_at_receipt() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.KIRIM, GUDANG, target=PPK)
    log("SS-A-GUB", Action.TERIMA, PPK, quantity=380)
    log("SS-A-GUB", Action.KIRIM, PPK, target=PPS)
    log("SS-A-GUB", Action.TERIMA, PPS, quantity=380)  # the same shortfall, reported once
    return Scenario([item("SS-A-GUB")], log)


def late_river_leg() -> Scenario:
    log = Log()
    log.journey("KTK-R", TPS_R, stop_after=PPS_R)
    log("KTK-R", Action.KIRIM, PPS_R, target=TPS_R)
    log("KTK-R", Action.TERIMA, TPS_R, at=D_KPPS + timedelta(hours=3))
    return Scenario(
        [item("KTK-R", ItemType.KOTAK, destination=TPS_R)], log, now=D_KPPS + timedelta(hours=4)
    )


def still_at_pps_after_h1() -> Scenario:
    log = Log()
    log.journey("SS-A-GUB", TPS_A, stop_after=PPS)
    return Scenario([item("SS-A-GUB")], log, now=D_KPPS + timedelta(minutes=1))


def not_dispatched_near_deadline() -> Scenario:
    log = Log()
    log("KTK-R", Action.TERIMA, GUDANG)
    return Scenario(
        [item("KTK-R", ItemType.KOTAK, destination=TPS_R)], log, now=D_PPK - timedelta(hours=12)
    )


def dispatched_never_received() -> Scenario:
    log = Log()
    log.journey("SS-A-GUB", TPS_A, stop_after=PPS)
    log("SS-A-GUB", Action.KIRIM, PPS, target=TPS_A)
    return Scenario([item("SS-A-GUB")], log, now=D_KPPS + timedelta(hours=1))


def passed_on_without_receipt() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.KIRIM, GUDANG, target=PPK)
    log("SS-A-GUB", Action.KIRIM, PPK, target=PPS)
    return Scenario([item("SS-A-GUB")], log)


def scanner_clock_ahead() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG, skew=timedelta(hours=2))
    return Scenario([item("SS-A-GUB")], log)


def offline_upload_late() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG, skew=-timedelta(minutes=45))
    return Scenario([item("SS-A-GUB")], log)


def scanner_clock_days_behind() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG, skew=-timedelta(days=3))
    return Scenario([item("SS-A-GUB")], log)


def sent_to_wrong_kecamatan() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.KIRIM, GUDANG, target=PPK_R)
    log("SS-A-GUB", Action.TERIMA, PPK_R)
    return Scenario([item("SS-A-GUB")], log)


def ballots_at_wrong_tps() -> Scenario:
    log = Log()
    log.journey("SS-A-GUB", TPS_A)
    log.journey("SS-B-GUB", TPS_B, stop_after=PPS)
    log("SS-B-GUB", Action.KIRIM, PPS, target=TPS_A)
    log("SS-B-GUB", Action.TERIMA, TPS_A)
    log("SS-B-GUB", Action.BUKA, TPS_A)
    return Scenario([item("SS-A-GUB"), item("SS-B-GUB", destination=TPS_B)], log)


def packed_into_other_tps_kit() -> Scenario:
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    log("SS-B-GUB", Action.TERIMA, GUDANG)
    log("SS-B-GUB", Action.KEMAS, GUDANG, container="KIT-A")
    return Scenario([item("KIT-A", ItemType.KIT, None), item("SS-B-GUB", destination=TPS_B)], log)


def water_damaged_on_river_leg() -> Scenario:
    log = Log()
    log.journey("KTK-R", TPS_R, stop_after=PPS_R)
    log("KTK-R", Action.KIRIM, PPS_R, target=TPS_R)
    log("KTK-R", Action.TERIMA, TPS_R, condition=Condition.BASAH)
    return Scenario([item("KTK-R", ItemType.KOTAK, destination=TPS_R)], log)


def damaged_ballots_reported_at_gudang() -> Scenario:
    log = Log()
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.RUSAK, GUDANG, condition=Condition.RUSAK_BERAT)
    return Scenario([item("SS-A-GUB")], log)


def broken_seal() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    log("KTK-A", Action.SEGEL, GUDANG, seals=("S-0001", "S-0002"))
    log("KTK-A", Action.KIRIM, GUDANG, target=PPK)
    log("KTK-A", Action.TERIMA, PPK, seals=("S-0002", "S-0001"))  # same seals, any order
    log("KTK-A", Action.KIRIM, PPK, target=PPS)
    log("KTK-A", Action.TERIMA, PPS, seals=("S-0001", "S-9999"))
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


def box_opened_at_ppk() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    log("KTK-A", Action.KIRIM, GUDANG, target=PPK)
    log("KTK-A", Action.TERIMA, PPK)
    log("KTK-A", Action.BUKA, PPK)
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


def box_appears_at_pps() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, PPS)
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


def received_at_wrong_ppk() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    log("KTK-A", Action.KIRIM, GUDANG, target=PPK)
    log("KTK-A", Action.TERIMA, PPK_R)
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


def cloned_label_two_nodes() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    log("KTK-A", Action.KEMAS, PPK, container="KIT-A")
    return Scenario([item("KTK-A", ItemType.KOTAK), item("KIT-A", ItemType.KIT, None)], log)


def received_while_custody_elsewhere() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    log("KTK-A", Action.KIRIM, GUDANG, target=PPK)
    log("KTK-A", Action.TERIMA, PPK)
    log("KTK-A", Action.TERIMA, PPS_R)
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


def mistaken_dispatch_undone() -> Scenario:
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    wrong = log("KTK-A", Action.KIRIM, GUDANG, target=PPK_R)
    log("KTK-A", Action.VOID, GUDANG, ref_event_id=wrong.event_id)
    log("KTK-A", Action.KIRIM, GUDANG, target=PPK)
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


def miscount_corrected() -> Scenario:
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    miscount = log("SS-A-GUB", Action.KEMAS, GUDANG, container="KIT-A", quantity=381)
    log("SS-A-GUB", Action.CORRECT, GUDANG, ref_event_id=miscount.event_id, quantity=400)
    return Scenario([item("KIT-A", ItemType.KIT, None), item("SS-A-GUB")], log)


def kit_delivered_to_wrong_tps() -> Scenario:
    log = Log()
    log("KIT-B", Action.TERIMA, GUDANG)
    for here, there in ((GUDANG, PPK), (PPK, PPS)):
        log("KIT-B", Action.KIRIM, here, target=there)
        log("KIT-B", Action.TERIMA, there)
    log("KIT-B", Action.KIRIM, PPS, target=TPS_A)
    log("KIT-B", Action.TERIMA, TPS_A)
    items = [
        item("KIT-B", ItemType.KIT, None, destination=TPS_B),
        item("SS-B-GUB", destination=TPS_B, container="KIT-B"),
    ]
    return Scenario(items, log, extra={(TPS_A, ItemType.KIT, None): 0})


def kit_of_three_bundles(*, packed: int = 3) -> tuple[list[Item], Log]:
    """A TPS kit planned with three governor bundles (60 sheets), ``packed`` of them packed."""
    items = [item("KIT-A", ItemType.KIT, None)] + [
        item(f"SS-A-GUB-{n}", quantity=20) for n in range(1, 4)
    ]
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    for n in range(1, packed + 1):
        log(f"SS-A-GUB-{n}", Action.TERIMA, GUDANG)
        log(f"SS-A-GUB-{n}", Action.KEMAS, GUDANG, container="KIT-A")
    return items, log


def kit_dispatched_short() -> Scenario:
    """Three bundles never packed: said when the kit leaves, not as 'overdue at the PPK'."""
    items, log = kit_of_three_bundles(packed=2)
    log("KIT-A", Action.KIRIM, GUDANG, target=PPK)
    return Scenario(items, log)


def bundles_vanish_on_the_road() -> Scenario:
    """Packed complete, one bundle gone at the TPS: the KPPS counts 40 of 60 on opening."""
    items, log = kit_of_three_bundles()
    for here, there in ((GUDANG, PPK), (PPK, PPS), (PPS, TPS_A)):
        log("KIT-A", Action.KIRIM, here, target=there)
        log("KIT-A", Action.TERIMA, there)
    log("KIT-A", Action.BUKA, TPS_A, counts=(("SURAT|GUB", 40),))
    return Scenario(items, log)


def counted_more_than_packed() -> Scenario:
    items, log = kit_of_three_bundles()
    log("KIT-A", Action.KIRIM, GUDANG, target=PPK)
    log("KIT-A", Action.TERIMA, PPK, counts=(("SURAT|GUB", 80),))
    return Scenario(items, log)


def bundle_reported_lost() -> Scenario:
    items, log = kit_of_three_bundles()
    log("SS-A-GUB-3", Action.LOST, GUDANG)
    return Scenario(items, log)


def voided_bundle_rides_in_the_kit() -> Scenario:
    """A packed bundle's label voided and replaced: the kit moves, the dead label is reported
    at each handover and stays out of the tally; its replacement is counted, once."""
    items, log = kit_of_three_bundles()
    planned = list(items)
    log("SS-A-GUB-4", Action.TERIMA, GUDANG)
    log("SS-A-GUB-4", Action.KEMAS, GUDANG, container="KIT-A")
    voided_at = log.now
    log("KIT-A", Action.KIRIM, GUDANG, target=PPK)
    log("KIT-A", Action.TERIMA, PPK)
    items = [replace(i, voided_at=voided_at) if i.serial == "SS-A-GUB-3" else i for i in items]
    return Scenario(items + [item("SS-A-GUB-4", quantity=20)], log, planned=planned)


def tps_without_labels() -> Scenario:
    """Two TPS planned, no label printed: one line for the kecamatan, no shortage."""
    log = Log()
    return Scenario(
        [], log, extra={(TPS_A, ItemType.KOTAK, Race.GUB): 1, (TPS_B, ItemType.KIT, None): 1}
    )


def dispatch_scan_forgotten() -> Scenario:
    """Received at the PPS while the record has it at the PPK: the PPK's kirim was not scanned."""
    log = Log()
    log("KTK-A", Action.TERIMA, GUDANG)
    log("KTK-A", Action.KIRIM, GUDANG, target=PPK)
    log("KTK-A", Action.TERIMA, PPK)
    log("KTK-A", Action.TERIMA, PPS)
    return Scenario([item("KTK-A", ItemType.KOTAK)], log)


C = Code
SCENARIOS: list[tuple[str, Callable[[], Scenario], list[Code]]] = [
    ("happy path: full forward journey of a TPS kit, boxes and ballots", happy_path, []),
    (
        "Kab. Bogor received 1,985 ballots meant for Kab. Serang (tertukar)",
        ballots_of_another_regency,
        [C.REGION_MISMATCH],
    ),
    (
        "governor ballots labelled for a TPS with only a regent race (at issue and arrival)",
        governor_ballots_for_regent_only_tps,
        [C.RACE_NOT_HELD, C.RACE_NOT_HELD],
    ),
    (
        "a braille template the plan never ordered",
        braille_template_not_in_plan,
        [C.TYPE_NOT_PLANNED],
    ),
    (
        "Kota Malang TPS short by 119 after a packing miscount",
        packing_miscount,
        [C.COUNT_MISMATCH, C.SHORTAGE],
    ),
    ("an extra bundle of 20 ballots issued beyond the plan", extra_bundle_issued, [C.SURPLUS]),
    (
        "Jakarta: ballots short at a handover (count at receipt below the label)",
        short_count_at_receipt,
        [C.COUNT_MISMATCH, C.SHORTAGE],
    ),
    ("late leg to a remote desa on the river", late_river_leg, [C.LATE]),
    ("400 TPS voted late: ballots still at the PPS after H-1", still_at_pps_after_h1, [C.OVERDUE]),
    (
        "Gunung Mas remote district not dispatched 12 h before its leg deadline",
        not_dispatched_near_deadline,
        [C.AT_RISK],
    ),
    (
        "dispatched to the KPPS, no receipt by H-1 (handover with one side only)",
        dispatched_never_received,
        [C.OVERDUE, C.NOT_RECEIVED],
    ),
    (
        "PPK passed a box on without recording its receipt",
        passed_on_without_receipt,
        [C.NOT_RECEIVED],
    ),
    ("scanner clock two hours ahead (scan still recorded)", scanner_clock_ahead, [C.CLOCK_SKEW]),
    ("offline scanner uploading 45 minutes late is no skew", offline_upload_late, []),
    ("scanner clock three days behind", scanner_clock_days_behind, [C.CLOCK_SKEW]),
    (
        "Bawaslu: wrong destination, sent to another kecamatan",
        sent_to_wrong_kecamatan,
        [C.WRONG_DISPATCH_TARGET, C.OFF_ROUTE],
    ),
    (
        "Tangerang Selatan: a TPS got another TPS's ballots and opened them",
        ballots_at_wrong_tps,
        [C.WRONG_DISPATCH_TARGET, C.WRONG_TPS, C.WRONG_TPS],
    ),
    (
        "sortir-lipat: ballots for TPS 003 packed into the kit of TPS 001",
        packed_into_other_tps_kit,
        [C.PACKED_FOR_OTHER_DESTINATION],
    ),
    ("water-damaged box on a river leg", water_damaged_on_river_leg, [C.DAMAGED]),
    (
        "Kab. Malang: damaged ballots reported at the gudang",
        damaged_ballots_reported_at_gudang,
        [C.DAMAGED],
    ),
    ("broken seal: seal number changed between gudang and PPS", broken_seal, [C.SEAL_CHANGED]),
    (
        "Bawaslu: a box opened outside procedure, at the PPK",
        box_opened_at_ppk,
        [C.OPENED_OUTSIDE_TPS],
    ),
    (
        "a box appears at the PPS with no record of leaving the gudang",
        box_appears_at_pps,
        [C.RECEIVED_WITHOUT_DISPATCH],
    ),
    (
        "dispatched to one PPK, received by another",
        received_at_wrong_ppk,
        [C.RECEIVED_WITHOUT_DISPATCH, C.OFF_ROUTE],
    ),
    (
        "cloned label: one serial at the gudang and at a PPK",
        cloned_label_two_nodes,
        [C.CLONED_LABEL],
    ),
    (
        "cloned label: a second copy received at another kecamatan's PPS",
        received_while_custody_elsewhere,
        [C.CLONED_LABEL, C.OFF_ROUTE],
    ),
    (
        "a forgotten dispatch scan is not a cloned label",
        dispatch_scan_forgotten,
        [C.DISPATCH_NOT_RECORDED],
    ),
    ("a kit leaves the gudang without three bundles", kit_dispatched_short, [C.PACKED_SHORT]),
    (
        "a bundle vanishes on the road: the count on opening says so, for the kit",
        bundles_vanish_on_the_road,
        [C.CONTENTS_SHORT],
    ),
    ("a PPK counts more than was packed", counted_more_than_packed, [C.CONTENTS_SURPLUS]),
    (
        "a bundle reported lost at the gudang: the TPS is short",
        bundle_reported_lost,
        [C.REPORTED_LOST, C.SHORTAGE],
    ),
    ("TPS with no labels printed are 'not issued yet'", tps_without_labels, [C.NOT_ISSUED]),
    (
        "a voided bundle rides in its kit: reported at each handover, never counted",
        voided_bundle_rides_in_the_kit,
        [C.VOIDED_LABEL_CARRIED, C.VOIDED_LABEL_CARRIED],
    ),
    (
        "a mistaken dispatch undone with batal and sent again correctly",
        mistaken_dispatch_undone,
        [C.WRONG_DISPATCH_TARGET, C.SCAN_VOIDED],
    ),
    (
        "a packing miscount corrected with koreksi clears the shortage",
        miscount_corrected,
        [C.COUNT_MISMATCH, C.SCAN_CORRECTED],
    ),
    (
        "a TPS kit delivered to the wrong TPS: the ballots inside are at the wrong TPS too",
        kit_delivered_to_wrong_tps,
        [C.WRONG_DISPATCH_TARGET, C.WRONG_TPS],  # the kit says it for what is inside
    ),
]


@pytest.mark.parametrize(
    ("build", "expected"), [(b, e) for _, b, e in SCENARIOS], ids=[n for n, _, _ in SCENARIOS]
)
def test_scenario_findings(build: Callable[[], Scenario], expected: list[Code]) -> None:
    scenario = build()
    result = recompute(scenario.plan(), scenario.items, scenario.log.events, scenario.now)
    assert [f.code for f in result.findings] == expected, [f.message for f in result.findings]
    for finding in result.findings:
        assert finding.principle is CODES[Code(finding.code)]
        assert finding.message and finding.message[0].isupper()


def test_every_finding_code_has_a_scenario() -> None:
    from tests.custody.test_rules_costs import COST_CASES

    covered = {code for _, _, codes in SCENARIOS for code in codes}
    covered |= {code for *_, expected in COST_CASES for code, _ in expected}  # tepat biaya
    assert covered == set(Code)
    principles = {CODES[code] for code in covered}
    assert principles == set(Principle)  # all seven, biaya included


def _run(
    build: Callable[[], Scenario],
) -> tuple[Scenario, dict[str, ItemState], dict[str, TpsTally]]:
    scenario = build()
    result = recompute(scenario.plan(), scenario.items, scenario.log.events, scenario.now)
    return scenario, dict(result.states), dict(result.tallies)


def test_happy_path_delivers_everything_and_tallies_match_the_plan() -> None:
    scenario, states, tallies = _run(happy_path)
    plan = scenario.plan()
    for serial, state in states.items():
        assert state.holder == TPS_A and state.transit_to is None, serial
        assert state.delivered_at is not None, serial
    assert states["SS-A-GUB"].container is None  # released when the kit was opened
    assert states["KTK-A-GUB"].seals == ("S-0001", "S-0002") and states["KTK-A-GUB"].opened
    assert dict(tallies[TPS_A].known) == dict(tallies[TPS_A].received)
    assert dict(tallies[TPS_A].known) == dict(plan.planned_for(TPS_A))


def test_messages_speak_plainly() -> None:
    scenario = ballots_at_wrong_tps()
    findings = recompute(scenario.plan(), scenario.items, scenario.log.events, EARLY).findings
    wrong = [f for f in findings if f.code == Code.WRONG_TPS]
    assert wrong[0].message == f"Barang untuk TPS {TPS_B}, bukan TPS {TPS_A}"
    assert wrong[0].serial == "SS-B-GUB" and wrong[0].tps == TPS_B and wrong[0].node == TPS_A
    assert wrong[0].severity is Severity.CRITICAL
    scenario = packing_miscount()
    findings = recompute(scenario.plan(), scenario.items, scenario.log.events, EARLY).findings
    shortage = next(f for f in findings if f.code == Code.SHORTAGE)
    assert shortage.message == (
        f"TPS {TPS_A} kurang 119 lembar surat suara gubernur: tercatat 281 dari rencana 400"
    )
    assert dict(shortage.detail)["planned"] == 400


def test_clock_skew_severity_and_scan_kept() -> None:
    for build, severity in (
        (scanner_clock_ahead, Severity.WARNING),
        (scanner_clock_days_behind, Severity.INFO),
    ):
        scenario, states, _ = _run(build)
        result = recompute(scenario.plan(), scenario.items, scenario.log.events, EARLY)
        assert result.findings[0].severity is severity
        assert states["SS-A-GUB"].holder == GUDANG


def test_late_uses_device_time_capped_at_server_time() -> None:
    """An offline receipt before the deadline, uploaded after it, is not late."""
    log = Log()
    log.journey("KTK-R", TPS_R, stop_after=PPS_R)
    log("KTK-R", Action.KIRIM, PPS_R, target=TPS_R)
    upload = D_KPPS + timedelta(hours=5)
    log("KTK-R", Action.TERIMA, TPS_R, at=upload, skew=-timedelta(hours=6))
    items = [item("KTK-R", ItemType.KOTAK, destination=TPS_R)]
    result = recompute(make_plan(items, {}), items, log.events, upload)
    assert [f.code for f in result.findings] == []


def test_a_kit_moves_its_contents_and_nested_containers() -> None:
    items = [
        item("KIT-A", ItemType.KIT, None),
        item("SAMPUL-A", ItemType.SAMPUL, None, container="KIT-A"),
        item("SS-A-GUB"),
    ]
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.TERIMA, GUDANG)
    log("SS-A-GUB", Action.KEMAS, GUDANG, container="SAMPUL-A")
    log("KIT-A", Action.KIRIM, GUDANG, target=PPK)
    book = Book(make_plan(items, {}), items)
    updates = [book.apply(e) for e in log.events]
    assert set(updates[-1].states) == {"KIT-A", "SAMPUL-A", "SS-A-GUB"}
    assert book.contents("KIT-A") == ("SAMPUL-A",) and book.contents("SAMPUL-A") == ("SS-A-GUB",)
    for serial in ("KIT-A", "SAMPUL-A", "SS-A-GUB"):
        assert (book.states[serial].holder, book.states[serial].transit_to) == (GUDANG, PPK)
    assert book.states["SS-A-GUB"].seq == 2  # moved along, not scanned itself
    done = book.apply(log("KIT-A", Action.TERIMA, PPK))
    assert all(s.holder == PPK and s.transit_to is None for s in done.states.values())
    assert done.findings == ()


def test_batal_of_opening_a_kit_puts_the_contents_back_inside() -> None:
    items = [item("KIT-A", ItemType.KIT, None), item("SS-A-GUB", container="KIT-A")]
    log = Log()
    log.journey("KIT-A", TPS_A)
    opened = log("KIT-A", Action.BUKA, TPS_A)
    book = Book(make_plan(items, {}), items)
    for e in log.events:
        book.apply(e)
    assert book.contents("KIT-A") == () and book.states["SS-A-GUB"].holder == TPS_A
    undo = book.apply(log("KIT-A", Action.VOID, TPS_A, ref_event_id=opened.event_id))
    assert set(undo.states) == {"KIT-A", "SS-A-GUB"}
    assert book.contents("KIT-A") == ("SS-A-GUB",) and not book.states["KIT-A"].opened


def test_batal_of_a_kit_dispatch_brings_the_contents_back() -> None:
    items = [item("KIT-A", ItemType.KIT, None), item("SS-A-GUB", container="KIT-A")]
    log = Log()
    log("KIT-A", Action.TERIMA, GUDANG)
    sent = log("KIT-A", Action.KIRIM, GUDANG, target=PPK)
    book = Book(make_plan(items, {}), items)
    for e in log.events:
        book.apply(e)
    before = dict(book.states)
    undo = book.apply(log("KIT-A", Action.VOID, GUDANG, ref_event_id=sent.event_id))
    assert set(undo.states) == {"KIT-A", "SS-A-GUB"}
    assert book.states["SS-A-GUB"].transit_to is None and book.states["KIT-A"].transit_to is None
    assert book.states["KIT-A"].seq == before["KIT-A"].seq + 1
    with pytest.raises(NotAllowedInState):
        book.apply(log("KIT-A", Action.VOID, GUDANG, ref_event_id=sent.event_id))


# --- errors -------------------------------------------------------------------------


def _one(**changes: object) -> Event:
    base = Event(
        event_id=str(uuid.UUID(int=1)),
        serial="SS-A-GUB",
        action=Action.TERIMA,
        node=GUDANG,
        device_time=T0,
        server_time=T0,
        user_id="petugas-1",
        device_id="hp-1",
        seq=1,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "error", "code"),
    [
        ({"event_id": "not-a-uuid"}, MalformedEvent, "malformed"),
        ({"device_time": T0.replace(tzinfo=None)}, MalformedEvent, "malformed"),
        ({"server_time": T0.replace(tzinfo=None)}, MalformedEvent, "malformed"),
        ({"node": "62-10"}, UnknownNode, "unknown_node"),
        ({"node": "６２.１０"}, UnknownNode, "unknown_node"),  # full-width digits are not codes
        ({"action": Action.KEMAS}, MalformedEvent, "malformed"),
        ({"action": Action.KEMAS, "container": "SS-A-GUB"}, MalformedEvent, "malformed"),
        ({"action": Action.SEGEL}, MalformedEvent, "malformed"),
        ({"action": Action.RUSAK, "condition": Condition.BAIK}, MalformedEvent, "malformed"),
        ({"action": Action.VOID}, MalformedEvent, "malformed"),
        ({"action": Action.KIRIM, "target": GUDANG}, MalformedEvent, "malformed"),
        ({"quantity": -1}, MalformedEvent, "malformed"),
        ({"seals": ("",)}, MalformedEvent, "malformed"),
        ({"serial": "NOPE"}, UnknownItem, "unknown_item"),
        ({"action": Action.VOID, "ref_event_id": "x"}, NotAllowedInState, "not_allowed"),
    ],
)
def test_events_that_cannot_be_recorded(
    changes: dict[str, object], error: type[CustodyError], code: str
) -> None:
    items = [item("SS-A-GUB")]
    book = Book(make_plan(items, {}), items)
    with pytest.raises(error) as info:
        book.apply(_one(**changes))
    assert info.value.code == code
    assert book.states["SS-A-GUB"] == initial_state(items[0])


def test_scan_of_a_voided_label_is_refused() -> None:
    voided = replace(item("SS-A-GUB"), voided_at=T0 - timedelta(hours=1))
    with pytest.raises(VoidedLabel) as info:
        apply(make_plan([voided], {}), voided, None, _one())
    assert info.value.code == "voided_label"
    earlier = replace(voided, voided_at=T0 + timedelta(hours=1))
    assert apply(make_plan([earlier], {}), earlier, None, _one()).state.holder == GUDANG


def test_replayed_event_is_idempotent_but_changed_content_conflicts() -> None:
    items = [item("SS-A-GUB")]
    book = Book(make_plan(items, {}), items)
    first = book.apply(_one())
    assert book.apply(replace(_one(), server_time=T0 + timedelta(minutes=5))).states == {}
    with pytest.raises(EventConflict) as info:
        book.apply(_one(quantity=399))
    assert info.value.code == "conflict" and info.value.event_id == _one().event_id
    assert book.states["SS-A-GUB"] == first.states["SS-A-GUB"]
    check_replay(_one(), replace(_one(), seq=7))
    with pytest.raises(EventConflict):
        check_replay(_one(), _one(node=PPK))


def test_packing_a_container_into_its_own_content_is_refused() -> None:
    items = [item("KIT-A", ItemType.KIT, None), item("SS-A-GUB", container="KIT-A")]
    book = Book(make_plan(items, {}), items)
    with pytest.raises(NotAllowedInState):
        book.apply(_one(serial="KIT-A", action=Action.KEMAS, container="SS-A-GUB"))


# --- codes and routes ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "kind", "parent", "region"),
    [
        ("62.10", NodeKind.GUDANG, None, "62.10"),
        ("62.10.05", NodeKind.PPK, "62.10", "62.10"),
        ("62.10.05.2016", NodeKind.PPS, "62.10.05", "62.10"),
        ("6210052016001", NodeKind.KPPS, "62.10.05.2016", "62.10"),
        ("3604012001001", NodeKind.KPPS, "36.04.01.2001", "36.04"),
    ],
)
def test_node_codes(code: str, kind: NodeKind, parent: str | None, region: str) -> None:
    assert node_kind(code) is kind
    assert parent_node(code) == parent
    assert region_of(code) == region


@pytest.mark.parametrize("code", ["62", "62.1", "62.10.5", "621005201600", "62100520160011", ""])
def test_unknown_node_codes(code: str) -> None:
    with pytest.raises(UnknownNode):
        node_kind(code)


def test_route_derived_from_codes_or_given_explicitly() -> None:
    assert derive_route(TPS_A) == (GUDANG, PPK, PPS, TPS_A)
    assert derive_route(PPK) == (GUDANG, PPK)
    explicit = (GUDANG, PPK, TPS_A)  # a TPS served straight from the PPK
    plan = replace(make_plan([], {}), routes={TPS_A: explicit})
    assert plan.route(TPS_A) == explicit and plan.route(TPS_B) == derive_route(TPS_B)
    legs = tps_legs(TPS_A, (D_PPK, D_PPS, D_KPPS))
    assert [(leg.from_node, leg.to_node) for leg in legs] == [
        (GUDANG, PPK),
        (PPK, PPS),
        (PPS, TPS_A),
    ]


# --- canonical bytes and the per-item hash chain ------------------------------------


def test_canonical_event_bytes_are_sorted_compact_utc_json() -> None:
    wib = _one(device_time=datetime(2024, 11, 20, 7, 0, tzinfo=UTC) + timedelta(0))
    raw = canonical_event_bytes(wib)
    assert raw.startswith(b'{"action":"terima","condition":null,"container":null')
    assert b'"device_time":"2024-11-20T07:00:00.000000Z"' in raw and b" " not in raw
    same_instant = replace(
        wib, device_time=wib.device_time.astimezone(timezone(timedelta(hours=7)))
    )
    assert canonical_event_bytes(same_instant) == raw
    assert canonical_event_bytes(replace(wib, quantity=400)) != raw


def test_hash_chain_recomputes_and_pins_the_first_mismatch() -> None:
    log = Log()
    log.journey("SS-A-GUB", TPS_A)
    events = log.events
    digests = []
    head = GENESIS_HASH
    for e in events:
        head = event_digest(head, e.seq, canonical_event_bytes(e))
        digests.append(head)
    assert check_chain(events, digests) == head
    tampered = list(events)
    tampered[3] = replace(tampered[3], node=PPK_R)
    with pytest.raises(LedgerMismatch) as info:
        check_chain(tampered, digests)
    assert (info.value.index, info.value.entry_id) == (3, events[3].event_id)
    assert info.value.code == "ledger_mismatch"
    with pytest.raises(LedgerMismatch) as info:
        check_chain(events[:2] + events[3:], digests[:2] + digests[3:])
    assert info.value.index == 2
    assert event_digest(GENESIS_HASH, 1, b"x") != event_digest(GENESIS_HASH, 2, b"x")


def test_tally_from_scratch_matches_incremental_book() -> None:
    scenario = happy_path()
    book = Book(scenario.plan(), scenario.items)
    for e in scenario.log.events:
        book.apply(e)
    assert book.tallies == tally_items(scenario.items, book.states)


def test_public_names_are_exported() -> None:
    defined = {
        name
        for name, value in vars(rules).items()
        for module in vars(rules).values()
        if getattr(module, "__name__", "").startswith(rules.__name__ + ".")
        and isinstance(module, type(rules))
        for name, value in vars(module).items()
        if not name.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert defined <= set(rules.__all__)
    assert all(hasattr(rules, name) for name in rules.__all__)


def test_a_count_covers_first_what_was_scanned_on_its_own() -> None:
    """Bundle 3 scanned at the TPS, then the kit opened and 40 of 60 counted: bundle 2 is
    the one left unconfirmed (not bundle 3, which is surely there)."""
    items, log = kit_of_three_bundles()
    for here, there in ((GUDANG, PPK), (PPK, PPS), (PPS, TPS_A)):
        log("KIT-A", Action.KIRIM, here, target=there)
        log("KIT-A", Action.TERIMA, there)
    log("SS-A-GUB-3", Action.TERIMA, TPS_A, quantity=20)
    log("KIT-A", Action.BUKA, TPS_A, counts=(("SURAT|GUB", 40),))
    result = recompute(make_plan(items, {}), items, log.events, EARLY)
    confirmed = {s for s, st in result.states.items() if st.confirmed_at is not None}
    assert confirmed == {"KIT-A", "SS-A-GUB-1", "SS-A-GUB-3"}
    (short,) = [f for f in result.findings if f.code == Code.CONTENTS_SHORT]
    assert dict(short.detail)["serials"] == "SS-A-GUB-2" and short.node == TPS_A
    assert short.message == (
        f"Isi kit TPS KIT-A di TPS {TPS_A}: surat suara gubernur dihitung 40, dikemas 60 "
        "(kurang 20)"
    )
    assert (
        rules.item_status(
            make_plan(items, {}), items[2], result.states["SS-A-GUB-2"], D_KPPS + timedelta(1)
        )
        is rules.ItemStatus.MISSING
    )
