"""Build the rules' pure ``Plan`` and ``Item`` values from database rows."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.custody import rules
from app.custody.errors import UnknownNode
from app.custody.models import RegionCount
from app.items.models import Item
from app.plan import codes
from app.plan.models import Election, ItemType, PlanLine, RouteLeg, Tps

_cache: dict[tuple[str, str], tuple[Any, rules.Plan]] = {}
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget the built plans (benchmarks: a process that just started)."""
    with _cache_lock:
        _cache.clear()


def item_type_of(code: str) -> Any:
    """Map an item type code to the rules' enum where it has one (else keep the code)."""
    try:
        return rules.ItemType(code)
    except ValueError:
        return code


def race_of(kind: str | None) -> rules.Race | None:
    """Map a stored race code ("" for none) to the rules' race."""
    return rules.Race(kind) if kind else None


#: The item columns :func:`to_rules_item` reads: select these to load plain rows for it.
ITEM_COLUMNS = (
    Item.serial,
    Item.item_type_code,
    Item.race_kind,
    Item.destination,
    Item.quantity,
    Item.kabkota_code,
    Item.voided_at,
)


def to_rules_item(item: Item) -> rules.Item:
    """Map an item row to the rules' item."""
    return rules.Item(
        serial=item.serial,
        item_type=item_type_of(item.item_type_code),
        race=race_of(item.race_kind),
        destination=item.destination,
        quantity=item.quantity,
        region=item.kabkota_code,
        voided_at=item.voided_at,
    )


def _fingerprint(session: Session, election_code: str, kabkota: str) -> Any:
    """Cheap value that changes whenever the kabupaten's plan is rebuilt."""
    return tuple(
        session.execute(
            select(func.count(PlanLine.id), func.sum(PlanLine.quantity)).where(
                PlanLine.election_code == election_code, PlanLine.kabkota_code == kabkota
            )
        ).one()
    )


def build_plan(session: Session, election: Election, kabkota: str) -> rules.Plan:
    """Return the pure plan of a kabupaten (cached until its plan lines change)."""
    key = (election.code, kabkota)
    fingerprint = (
        _fingerprint(session, election.code, kabkota),
        # Bumped whenever the plan is rebuilt or a deadline moves (counts.bump_plan): the
        # legs change only then (before, the election's legs were counted per batch).
        session.scalar(
            select(RegionCount.n).where(
                RegionCount.region_code == "=" + kabkota, RegionCount.metric == "plan_version"
            )
        ),
    )
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] == fingerprint:
            return hit[1]
    races: dict[str, frozenset[rules.Race]] = {}
    for tps_id, desa in session.execute(
        select(Tps.id, Tps.desa_code).where(Tps.id.like(kabkota.replace(".", "") + "%"))
    ):
        races[tps_id] = frozenset(
            rules.Race(r.kind.value)
            for r in election.races
            if desa == r.region_code or desa.startswith(r.region_code + ".")
        )
    # Only labelled item types can be counted by scans.
    labelled = set(session.scalars(select(ItemType.code).where(ItemType.labelled.is_(True))))
    # Plain rows, not ORM objects: a kabupaten of 8,000 TPS has ~60,000 plan lines.
    types = {code: item_type_of(code) for code in labelled}
    races_of = {kind: race_of(kind) for kind in ("", None, *(r.value for r in rules.Race))}
    quantities = {
        (destination, types[item_type], races_of.get(race_kind, race_of(race_kind))): quantity
        for destination, item_type, race_kind, quantity in session.execute(
            select(
                PlanLine.destination,
                PlanLine.item_type_code,
                PlanLine.race_kind,
                PlanLine.quantity,
            ).where(
                PlanLine.election_code == election.code,
                PlanLine.kabkota_code == kabkota,
                PlanLine.item_type_code.in_(labelled),
            )
        )
    }
    flat = kabkota.replace(".", "")
    legs = tuple(
        rules.Leg(from_node, to_node, deadline)
        for from_node, to_node, deadline in session.execute(
            select(RouteLeg.from_node, RouteLeg.to_node, RouteLeg.deadline_at).where(
                RouteLeg.election_code == election.code,
                # Legs into this kabupaten: TPS ids, PPS, PPK and the gudang itself.
                (RouteLeg.to_node == kabkota)
                | RouteLeg.to_node.like(kabkota + ".%")
                | RouteLeg.to_node.like(flat + "%"),
            )
        )
        if codes.within(to_node, kabkota)
    )
    plan = rules.Plan(region=kabkota, races=races, quantities=quantities, legs=legs)
    with _cache_lock:
        _cache[key] = (fingerprint, plan)
    return plan


def partial_plan(
    session: Session, election: Election, kabkota: str, destinations: Iterable[str]
) -> rules.Plan:
    """The kabupaten's plan for some destinations only: their races, planned quantities and
    the legs along their routes (both ways). What :func:`build_plan` says of them, read in
    rows bounded by the destinations asked for, not by the kabupaten."""
    return partial_plans(session, election, {kabkota: destinations})[kabkota]


def partial_plans(
    session: Session, election: Election, wanted: Mapping[str, Iterable[str]]
) -> dict[str, rules.Plan]:
    """:func:`partial_plan` of several kabupaten (each with its destinations) at once: one
    read per kind of row for all of them, so a province's page does not read per kabupaten."""
    from app.custody.chunks import rows_in

    asked = {kab: set(destinations) for kab, destinations in wanted.items()}
    everything = sorted(set().union(*asked.values())) if asked else []
    if not everything:
        return {kab: rules.Plan(region=kab, races={}, quantities={}, legs=()) for kab in asked}
    desa_of = dict(rows_in(session, select(Tps.id, Tps.desa_code), Tps.id, everything))
    labelled = set(session.scalars(select(ItemType.code).where(ItemType.labelled.is_(True))))
    lines = rows_in(
        session,
        select(
            PlanLine.kabkota_code,
            PlanLine.destination,
            PlanLine.item_type_code,
            PlanLine.race_kind,
            PlanLine.quantity,
        ).where(
            PlanLine.election_code == election.code,
            PlanLine.kabkota_code.in_(sorted(asked)),
            PlanLine.item_type_code.in_(labelled),
        ),
        PlanLine.destination,
        everything,
    )
    lines_of: dict[str, list[Any]] = defaultdict(list)
    for kab, *line in lines:
        lines_of[kab].append(line)
    nodes: dict[str, set[str]] = {kab: set() for kab in asked}
    for kab, destinations in asked.items():
        for destination in destinations:
            try:
                nodes[kab].update(rules.derive_route(destination))
            except UnknownNode:
                continue
    legs = rows_in(
        session,
        select(RouteLeg.from_node, RouteLeg.to_node, RouteLeg.deadline_at).where(
            RouteLeg.election_code == election.code
        ),
        RouteLeg.to_node,
        set().union(*nodes.values()),
    )
    plans: dict[str, rules.Plan] = {}
    for kab, destinations in asked.items():
        races = {
            tps_id: frozenset(
                rules.Race(r.kind.value)
                for r in election.races
                if desa == r.region_code or desa.startswith(r.region_code + ".")
            )
            for tps_id, desa in ((t, desa_of[t]) for t in sorted(destinations) if t in desa_of)
        }
        quantities = {
            (destination, item_type_of(item_type), race_of(race_kind)): quantity
            for destination, item_type, race_kind, quantity in lines_of[kab]
            if destination in destinations
        }
        own_legs = tuple(
            rules.Leg(from_node, to_node, deadline)
            for from_node, to_node, deadline in legs
            if to_node in nodes[kab] and codes.within(to_node, kab)
        )
        plans[kab] = rules.Plan(region=kab, races=races, quantities=quantities, legs=own_legs)
    return plans
