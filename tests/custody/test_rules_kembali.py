"""The way back (kembali): return legs checked like the outbound ones, one row per failure."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.custody.rules import (
    RETURN_SKIPPED_NODE,
    Action,
    Code,
    Condition,
    Event,
    Item,
    ItemType,
    Leg,
    Plan,
    Race,
    Severity,
    derive_route,
    recompute,
    tps_legs,
)

GUDANG, PPK, PPS, TPS = "62.10", "62.10.05", "62.10.05.2016", "6210052016001"
OTHER_PPK = "62.10.06"
H = datetime(2024, 11, 27, 0, 0, tzinfo=UTC)  # election day, 07.00 WIB
OUT = (H - timedelta(days=4), H - timedelta(days=2), H - timedelta(hours=12))
#: Return deadlines as the plan sets them by default: H 23.59, H+1 18.00, H+7 18.00 WIB.
BACK_PPS = H + timedelta(hours=16, minutes=59)
BACK_PPK = H + timedelta(days=1, hours=11)
BACK_GUDANG = H + timedelta(days=7, hours=11)
BOX = "K-0001"


def plan() -> Plan:
    legs = tps_legs(TPS, OUT) + (
        Leg(TPS, PPS, BACK_PPS),
        Leg(PPS, PPK, BACK_PPK),
        Leg(PPK, GUDANG, BACK_GUDANG),
    )
    races = {TPS: frozenset({Race.GUB})}
    return Plan(GUDANG, races, {(TPS, ItemType.KOTAK, Race.GUB): 1}, legs)


def box() -> Item:
    return Item(BOX, ItemType.KOTAK, Race.GUB, TPS, 1, GUDANG)


@dataclass
class Log:
    events: list[Event]

    def __call__(self, action: Action, node: str, at: datetime, **fields: object) -> None:
        self.events.append(
            Event(
                event_id=str(uuid.UUID(int=len(self.events) + 1)),
                serial=BOX,
                action=action,
                node=node,
                device_time=at,
                server_time=at,
                user_id="kpps-1",
                device_id="hp-1",
                seq=len(self.events) + 1,
                **fields,  # type: ignore[arg-type]
            )
        )


def delivered() -> Log:
    """The box went out on time and was opened, counted and sealed at its TPS."""
    log = Log([])
    route = derive_route(TPS)
    at = OUT[0] - timedelta(days=1)
    log(Action.TERIMA, GUDANG, at)
    for here, there in zip(route, route[1:], strict=False):
        at += timedelta(hours=2)
        log(Action.KIRIM, here, at, target=there)
        at += timedelta(hours=2)
        log(Action.TERIMA, there, at, quantity=1, condition=Condition.BAIK)
    log(Action.BUKA, TPS, H + timedelta(hours=1))
    log(Action.SEGEL, TPS, H + timedelta(hours=10), seals=("S-1", "S-2"))
    return log


def back(log: Log, hops: tuple[tuple[str, str, datetime, datetime], ...]) -> Log:
    """kembali / terima pairs: (from, to, sent at, received at)."""
    for here, there, sent, got in hops:
        log(Action.KEMBALI, here, sent, target=there, seals=("S-1", "S-2"))
        log(Action.TERIMA, there, got, seals=("S-1", "S-2"), condition=Condition.BAIK)
    return log


ON_TIME = (
    (TPS, PPS, H + timedelta(hours=12), H + timedelta(hours=13)),
    (PPS, PPK, H + timedelta(days=1), H + timedelta(days=1, hours=2)),
    (PPK, GUDANG, H + timedelta(days=6), H + timedelta(days=6, hours=3)),
)


def on_time() -> Log:
    return back(delivered(), ON_TIME)


def late_at_pps() -> Log:
    # A river desa: the kelotok could not leave until the morning after election day.
    late = H + timedelta(days=1, hours=2)
    return back(delivered(), ((TPS, PPS, late - timedelta(hours=3), late),))


def skipped_pps() -> Log:
    log = delivered()
    log(Action.KEMBALI, TPS, H + timedelta(hours=12), target=PPK)
    log(Action.TERIMA, PPK, H + timedelta(hours=14))
    return log


def received_without_kembali() -> Log:
    log = delivered()
    log(Action.TERIMA, PPS, H + timedelta(hours=13))
    return log


def sent_never_received() -> Log:
    log = delivered()
    log(Action.KEMBALI, TPS, H + timedelta(hours=12), target=PPS)
    return log


def sent_back_with_kirim() -> Log:
    """The courier pressed kirim, not kembali: still the way back, checked as such."""
    log = delivered()
    log(Action.KIRIM, TPS, H + timedelta(hours=12), target=PPS, seals=("S-1", "S-2"))
    log(Action.TERIMA, PPS, H + timedelta(hours=13), seals=("S-1", "S-2"))
    return log


def off_route() -> Log:
    log = delivered()
    log(Action.KEMBALI, TPS, H + timedelta(hours=12), target=PPS)
    log(Action.TERIMA, PPS, H + timedelta(hours=13))
    log(Action.KEMBALI, PPS, H + timedelta(days=1), target=OTHER_PPK)
    log(Action.TERIMA, OTHER_PPK, H + timedelta(days=1, hours=2))
    return log


Build = Callable[[], Log]

#: (name, log, now, expected codes in order)
SCENARIOS: list[tuple[str, Build, datetime, list[str]]] = [
    ("on time all the way back: nothing to say", on_time, H + timedelta(days=8), []),
    ("still at the TPS before the H deadline: not yet overdue", delivered, BACK_PPS, []),
    (
        "not sent back from the TPS after H 23.59: overdue",
        delivered,
        BACK_PPS + timedelta(minutes=1),
        [Code.OVERDUE],
    ),
    (
        "received at the PPS after the H deadline: late (river district)",
        late_at_pps,
        H + timedelta(days=1, hours=3),
        [Code.LATE],
    ),
    (
        "the box went from the TPS straight to the PPK: the PPS was skipped",
        skipped_pps,
        H + timedelta(hours=15),
        [Code.WRONG_DISPATCH_TARGET, RETURN_SKIPPED_NODE],
    ),
    (
        "received at the PPS with no kembali scanned: received without dispatch, not a clone",
        received_without_kembali,
        H + timedelta(hours=14),
        [Code.RECEIVED_WITHOUT_DISPATCH],
    ),
    (
        "sent back from the TPS, never received by the PPS after the deadline: one-sided",
        sent_never_received,
        BACK_PPS + timedelta(hours=1),
        [Code.NOT_RECEIVED],
    ),
    (
        "sent back with kirim instead of kembali: the way back, on time, nothing to say",
        sent_back_with_kirim,
        H + timedelta(hours=14),
        [],
    ),
    (
        "returned to another kecamatan's PPK: off route",
        off_route,
        H + timedelta(days=1, hours=3),
        [Code.WRONG_DISPATCH_TARGET, Code.OFF_ROUTE],
    ),
    (
        "held at the PPS past the H+1 deadline: overdue to the PPK",
        lambda: back(delivered(), ON_TIME[:1]),
        BACK_PPK + timedelta(minutes=1),
        [Code.OVERDUE],
    ),
    (
        "back at the gudang: no return deadline is left",
        on_time,
        BACK_GUDANG + timedelta(days=30),
        [],
    ),
]


@pytest.mark.parametrize(
    ("build", "now", "expected"),
    [(b, n, e) for _, b, n, e in SCENARIOS],
    ids=[name for name, *_ in SCENARIOS],
)
def test_return_leg_findings(build: Build, now: datetime, expected: list[str]) -> None:
    result = recompute(plan(), [box()], build().events, now)
    assert [str(f.code) for f in result.findings] == [str(c) for c in expected], [
        f.message for f in result.findings
    ]


def test_return_findings_say_it_is_the_way_back_and_carry_their_evidence() -> None:
    log = late_at_pps()
    result = recompute(plan(), [box()], log.events, H + timedelta(days=1, hours=3))
    (late,) = result.findings
    assert "kembali tiba di PPS 62.10.05.2016" in late.message
    assert "tenggat pengembalian 27-11-2024 23.59 WIB" in late.message
    assert late.severity is Severity.WARNING
    assert dict(late.detail)["leg"] == "kembali"
    assert late.event_ids == (log.events[-1].event_id,)


def test_a_skipped_level_is_named_in_the_finding() -> None:
    result = recompute(plan(), [box()], skipped_pps().events, H + timedelta(hours=15))
    skipped = next(f for f in result.findings if f.code == RETURN_SKIPPED_NODE)
    assert skipped.severity is Severity.CRITICAL
    assert "melewati PPS 62.10.05.2016" in skipped.message
    assert dict(skipped.detail)["skipped"] == PPS


def test_a_box_back_at_the_gudang_ends_returning_there() -> None:
    result = recompute(plan(), [box()], on_time().events, H + timedelta(days=8))
    state = result.states[BOX]
    assert state.returning and state.holder == GUDANG and state.transit_to is None


def test_outbound_items_other_than_boxes_are_not_expected_back() -> None:
    ink = Item("T-0001", ItemType.TINTA, None, TPS, 1, GUDANG)
    log = delivered()
    events = [
        Event(**{**e.__dict__, "serial": ink.serial, "event_id": str(uuid.uuid4())})
        for e in log.events
        if e.action in (Action.TERIMA, Action.KIRIM)
    ]
    result = recompute(plan(), [ink], events, H + timedelta(days=3))
    assert [f for f in result.findings if f.code == Code.OVERDUE] == []
