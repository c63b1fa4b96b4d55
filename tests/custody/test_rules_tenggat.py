"""The deadline findings counted per waiting leg equal the rules item by item, for every
kind of state an item can be in (pure: random plans and states)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from app.custody import rules
from app.custody.rules import Item, ItemState, ItemType, Plan, Race

TPS = ["6210031005001", "6210031005002", "6210032001001"]
SPARE = "62.10.03.1005"  # spare goods for a PPS: a destination that is a node
H = datetime(2024, 11, 27, 0, 0, tzinfo=UTC)


def plan(rng: random.Random) -> Plan:
    legs = []
    for destination in [*TPS, SPARE]:
        route = rules.derive_route(destination)
        for i in range(len(route) - 1):
            out = H + timedelta(hours=rng.randint(-72, 0))
            back = H + timedelta(hours=rng.randint(0, 170))
            legs += [
                rules.Leg(route[i], route[i + 1], out),
                rules.Leg(route[i + 1], route[i], back),
            ]
    races = {t: frozenset({Race.GUB, Race.BUP}) for t in TPS}
    return Plan(
        region="62.10", races=races, quantities={(SPARE, ItemType.KOTAK, None): 2}, legs=tuple(legs)
    )


def state(rng: random.Random, serial: str, destination: str) -> ItemState:
    route = rules.derive_route(destination)
    nodes = [*route, "62.10.05", "6210052001001", None]  # off the route too
    holder = rng.choice(nodes)
    moment = H + timedelta(hours=rng.randint(-80, 100))
    return ItemState(
        serial=serial,
        quantity=1,
        holder=holder,
        transit_to=rng.choice([None, None, *route, "62.10.05"]),
        delivered_at=rng.choice([None, None, moment]),
        returning=rng.random() < 0.3,
        container=rng.choice([None, None, None, "KIT-1"]),
    )


@pytest.mark.parametrize("seed", range(40))
def test_counted_per_leg_equals_item_by_item(seed: int) -> None:
    rng = random.Random(seed)
    the_plan = plan(rng)
    items, states = {}, {}
    for n in range(60):
        destination = rng.choice([*TPS, SPARE])
        serial = f"S{n:05d}"
        kind = rng.choice([ItemType.KOTAK, ItemType.KOTAK, ItemType.SURAT, ItemType.KIT])
        items[serial] = Item(serial, kind, None, destination, 1, "62.10")
        states[serial] = state(rng, serial, destination)
    # Counted: each item adds one to its destination's row of the leg it waits on.
    rows: Counter[tuple[str, str]] = Counter()
    for serial, item in items.items():
        leg = rules.waiting_on(the_plan, item, states[serial])
        if leg is not None:
            rows[(item.destination, leg.metric)] += 1
    area: Counter[str] = Counter()
    for (_, metric), n in rows.items():
        area[metric] += n
    for hours in range(-80, 180, 5):
        now = H + timedelta(hours=hours)
        found = rules.check_deadlines(the_plan, items, states, now) + rules.check_return_deadlines(
            the_plan, items, states, now
        )
        expected = Counter((items[f.serial].destination, f.code, f.node, f.severity) for f in found)
        counted: Counter[tuple[str, str, str | None, rules.Severity]] = Counter()
        for (destination, metric), n in rows.items():
            leg = rules.parse(metric, destination)
            assert leg is not None
            for f in rules.group_findings(leg, destination, n, now):
                assert dict(f.detail)["items"] == n
                counted[(destination, f.code, f.node, f.severity)] += n
        assert counted == expected, now
        totals: Counter[tuple[str, rules.Severity]] = Counter()
        for (_, code, _, severity), n in expected.items():
            totals[(code, severity)] += n
        assert rules.counts_at(area, now) == totals, now
        # The metrics worth listing: exactly those with a finding, the critical first.
        late = rules.late_metrics(area, now)
        with_findings = [m for m in area if rules.deadline_codes(_shape(m), now)]
        assert sorted(late) == sorted(with_findings)
        ranks = [rules.Code.AT_RISK not in rules.deadline_codes(_shape(m), now) for m in late]
        assert ranks == sorted(ranks, reverse=True)


def _shape(metric: str) -> rules.Waiting:
    leg = rules.parse(metric, TPS[0])
    assert leg is not None
    return leg


def test_a_metric_names_the_leg_and_reads_back() -> None:
    leg = rules.Waiting("62.10.03.1005", "6210031005001", H, "jalan")
    assert leg.metric == "tenggat:pps-kpps:jalan:2024-11-27T00:00:00Z"
    assert rules.parse(leg.metric, "6210031005001") == leg
    back = rules.Waiting("6210031005001", "62.10.03.1005", H, "diam", returning=True)
    assert rules.parse(back.metric, "6210031005001") == back
    assert rules.parse("tenggat:pps-kpps:entah:2024", "6210031005001") is None
    assert rules.parse("items", "6210031005001") is None
