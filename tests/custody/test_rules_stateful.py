"""Random handoff sequences: the incrementally kept book always equals a recomputation.

The machine plays the ingest service: for each scan it loads only what the
``Book`` docstring says to load (the item, everything inside it, and for
``kemas`` the target container and the containers around it), applies the
event, and writes back the changed states and tallies. After every step the
stored states, tallies and findings must equal ``recompute`` over the same log.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from app.custody.errors import CustodyError
from app.custody.rules import (
    Action,
    Book,
    Condition,
    Event,
    Finding,
    Item,
    ItemState,
    ItemType,
    Plan,
    Race,
    TpsTally,
    check_all_quantities,
    check_deadlines,
    check_replay,
    recompute,
    resolves,
    tally_items,
    tps_legs,
)

GUDANG, PPK, PPS = "62.10", "62.10.05", "62.10.05.2016"
TPS_A, TPS_X, TPS_B = "6210052016001", "6210052016002", "6210052016003"
PPK_R, PPS_R, TPS_R = "62.10.08", "62.10.08.2003", "6210082003001"
NODES = [GUDANG, PPK, PPS, TPS_A, TPS_X, TPS_B, PPK_R, PPS_R, TPS_R, "32.01", "32.01.03"]
T0 = datetime(2024, 11, 20, tzinfo=UTC)
DEADLINES = (
    datetime(2024, 11, 23, tzinfo=UTC),
    datetime(2024, 11, 25, tzinfo=UTC),
    datetime(2024, 11, 26, 10, tzinfo=UTC),
)
BOTH = frozenset({Race.GUB, Race.BUP})
RACES = {TPS_A: BOTH, TPS_B: BOTH, TPS_R: BOTH, TPS_X: frozenset({Race.BUP})}

ITEMS = {
    it.serial: it
    for it in [
        Item("KIT-A", ItemType.KIT, None, TPS_A, 1, GUDANG),
        Item("KIT-B", ItemType.KIT, None, TPS_B, 1, GUDANG),
        Item("SS-A-GUB", ItemType.SURAT, Race.GUB, TPS_A, 400, GUDANG, container="KIT-A"),
        Item("SS-A-BUP", ItemType.SURAT, Race.BUP, TPS_A, 400, GUDANG, container="KIT-A"),
        Item("SS-B-BUP", ItemType.SURAT, Race.BUP, TPS_B, 380, GUDANG),
        Item("KTK-A", ItemType.KOTAK, Race.GUB, TPS_A, 1, GUDANG),
        Item("KTK-R", ItemType.KOTAK, Race.BUP, TPS_R, 1, GUDANG),
        Item("KTK-PPK", ItemType.KOTAK, None, PPK, 2, GUDANG),
        Item("SS-X-GUB", ItemType.SURAT, Race.GUB, TPS_X, 20, GUDANG),
        Item("SS-SERANG", ItemType.SURAT, Race.BUP, "3604012001001", 400, "36.04"),
        Item(
            "SS-VOID",
            ItemType.SURAT,
            Race.GUB,
            TPS_B,
            400,
            GUDANG,
            voided_at=T0 + timedelta(days=2),
        ),
    ]
}
SERIALS = sorted(ITEMS)
PLAN = Plan(
    GUDANG,
    RACES,
    {
        (TPS_A, ItemType.KIT, None): 1,
        (TPS_A, ItemType.SURAT, Race.GUB): 400,
        (TPS_A, ItemType.SURAT, Race.BUP): 400,
        (TPS_A, ItemType.KOTAK, Race.GUB): 1,
        (TPS_B, ItemType.KIT, None): 1,
        (TPS_B, ItemType.SURAT, Race.BUP): 400,
        (TPS_R, ItemType.KOTAK, Race.BUP): 1,
        (PPK, ItemType.KOTAK, None): 2,
    },
    tuple(leg for tps in RACES for leg in tps_legs(tps, DEADLINES)),
)
SCANS = [a for a in Action if a not in (Action.VOID, Action.CORRECT)]


class CustodyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.log: list[Event] = []
        self.rejected = 0
        self.states: dict[str, ItemState] = {}
        self.tallies: dict[str, TpsTally] = tally_items(ITEMS.values(), {})
        self.findings: list[Finding] = []
        self.open: list[Finding] = []  # findings as state: what no batal/koreksi resolved
        self.ids = 0

    # --- the ingest service ---------------------------------------------------------

    def _state(self, serial: str) -> ItemState | None:
        return self.states.get(serial)

    def _inside(self, serial: str) -> set[str]:
        inside: set[str] = set()
        frontier = {serial}
        while frontier:
            frontier = {s for s in SERIALS if s not in inside and (self._container(s) in frontier)}
            inside |= frontier
        return inside

    def _container(self, serial: str) -> str | None:
        state = self.states.get(serial)
        return state.container if state is not None else ITEMS[serial].container

    def _around(self, serial: str) -> set[str]:
        around: set[str] = set()
        current: str | None = serial
        while current is not None and current not in around and current in ITEMS:
            around.add(current)
            current = self._container(current)
        return around

    def _ingest(self, event: Event) -> None:
        load = {event.serial} | self._inside(event.serial)
        if event.container is not None and event.container in ITEMS:
            load |= self._around(event.container)
        if event.action is Action.VOID:
            load |= {s for s, st in self.states.items() if st.last_event_id == event.ref_event_id}
        items = [ITEMS[s] for s in sorted(load) if s in ITEMS]
        states = {s: self.states[s] for s in load if s in self.states}
        tallies = {it.destination: self.tallies[it.destination] for it in items}
        book = Book(PLAN, items, states, tallies)
        try:
            update = book.apply(event)
        except CustodyError:
            self.rejected += 1
            return
        self.states.update(update.states)
        self.tallies.update(update.tallies)
        self.findings.extend(update.findings)
        self.open = [f for f in self.open if not resolves(event, f)] + list(update.findings)
        self.log.append(event)

    def _event(self, serial: str, action: Action, node: str, **fields: object) -> Event:
        self.ids += 1
        self.now += timedelta(minutes=1)
        state = self.states.get(serial)
        skew = fields.pop("skew", timedelta(0))
        assert isinstance(skew, timedelta)
        return Event(
            event_id=str(uuid.UUID(int=self.ids)),
            serial=serial,
            action=action,
            node=node,
            device_time=self.now + skew,
            server_time=self.now,
            user_id="petugas",
            device_id="hp",
            seq=(state.seq if state is not None else 0) + 1,
            **fields,  # type: ignore[arg-type]
        )

    # --- rules ----------------------------------------------------------------------

    @rule(
        serial=st.sampled_from(SERIALS),
        action=st.sampled_from(SCANS),
        node=st.sampled_from(NODES),
        to_node=st.none() | st.sampled_from(NODES),
        container=st.sampled_from(SERIALS),
        quantity=st.none() | st.sampled_from([0, 20, 380, 381, 400]),
        condition=st.none() | st.sampled_from(list(Condition)),
        seals=st.sampled_from([(), ("S-1",), ("S-1", "S-2"), ("S-9",)]),
        skew=st.sampled_from([timedelta(0), timedelta(minutes=-45), timedelta(minutes=30)]),
        counts=st.sampled_from(
            [(), (("SURAT|GUB", 400),), (("SURAT|GUB", 380), ("KOTAK|GUB", 1)), (("SURAT|BUP", 0),)]
        ),
        offset=st.none() | st.sampled_from([timedelta(hours=3), -timedelta(hours=7)]),
    )
    def scan(
        self,
        serial: str,
        action: Action,
        node: str,
        to_node: str | None,
        container: str,
        quantity: int | None,
        condition: Condition | None,
        seals: tuple[str, ...],
        skew: timedelta,
        counts: tuple[tuple[str, int], ...],
        offset: timedelta | None,
    ) -> None:
        if action is Action.RUSAK and condition in (None, Condition.BAIK):
            condition = Condition.BASAH
        if action is Action.SEGEL and not seals:
            seals = ("S-1",)
        self._ingest(
            self._event(
                serial,
                action,
                node,
                target=to_node if action in (Action.KIRIM, Action.KEMBALI) else None,
                container=container if action is Action.KEMAS else None,
                quantity=quantity,
                condition=condition,
                seals=seals,
                skew=skew if offset is None else skew + offset,
                counts=counts if action in (Action.TERIMA, Action.BUKA) else (),
                clock_offset=offset,
            )
        )

    @rule(serial=st.sampled_from(SERIALS), follow_route=st.booleans(), receive=st.booleans())
    def handoff(self, serial: str, follow_route: bool, receive: bool) -> None:
        """Dispatch along the route and receive: the common case, so journeys progress."""
        state = self.states.get(serial)
        holder = state.holder if state is not None and state.holder else GUDANG
        route = PLAN.route(ITEMS[serial].destination)
        if follow_route and holder in route and holder != route[-1]:
            nxt = route[route.index(holder) + 1]
        else:
            nxt = PPK_R
        if nxt == holder:
            return
        self._ingest(self._event(serial, Action.KIRIM, holder, target=nxt))
        if receive:
            self._ingest(self._event(serial, Action.TERIMA, nxt))

    @rule(serial=st.sampled_from(SERIALS), undo_latest=st.booleans())
    def batal(self, serial: str, undo_latest: bool) -> None:
        state = self.states.get(serial)
        ref = state.last_event_id if state is not None and undo_latest else None
        ref = ref or str(uuid.UUID(int=10**6 + self.ids))
        self._ingest(self._event(serial, Action.VOID, GUDANG, ref_event_id=ref))

    @rule(
        serial=st.sampled_from(SERIALS),
        quantity=st.none() | st.sampled_from([0, 380, 400]),
        condition=st.none() | st.sampled_from(list(Condition)),
    )
    def koreksi(self, serial: str, quantity: int | None, condition: Condition | None) -> None:
        ref = str(uuid.UUID(int=max(self.ids, 1)))
        self._ingest(
            self._event(
                serial,
                Action.CORRECT,
                GUDANG,
                ref_event_id=ref,
                quantity=quantity,
                condition=condition,
            )
        )

    @rule(hours=st.integers(1, 36))
    def advance(self, hours: int) -> None:
        self.now += timedelta(hours=hours)

    @rule(index=st.integers(0, 10**6))
    def replay(self, index: int) -> None:
        """A scanner re-sends a stored event: the service finds it stored and applies nothing."""
        if not self.log:
            return
        stored = self.log[index % len(self.log)]
        check_replay(stored, replace(stored, server_time=self.now, seq=stored.seq + 1))

    # --- the property ---------------------------------------------------------------

    @invariant()
    def incremental_equals_recompute(self) -> None:
        result = recompute(PLAN, ITEMS.values(), self.log, self.now)
        assert set(result.states) == set(ITEMS)
        for serial, state in result.states.items():
            assert self.states.get(serial, state) == state, serial
        assert result.tallies == self.tallies
        snapshot = check_all_quantities(PLAN, self.tallies, self.now) + check_deadlines(
            PLAN, ITEMS, self.states, self.now
        )
        assert result.findings[: len(self.findings)] == tuple(self.findings)
        assert result.findings[len(self.findings) : len(self.findings) + len(snapshot)] == snapshot
        # Open findings (after batal and koreksi) equal those of a recomputation.
        assert result.open[: len(self.open)] == tuple(self.open)
        assert result.open[len(self.open) : len(self.open) + len(snapshot)] == snapshot

    @invariant()
    def contents_follow_their_container(self) -> None:
        for state in self.states.values():
            if state.container is None or state.container not in self.states:
                continue
            outer = self.states[state.container]
            if state.last_event_id == outer.last_event_id:
                assert (state.holder, state.transit_to) == (outer.holder, outer.transit_to)


CustodyMachine.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestCustodyMachine = CustodyMachine.TestCase
