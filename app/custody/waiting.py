"""Items waiting on a leg, counted per destination and deadline (``rules.tenggat``).

Ingest keeps, for every destination, how many of its items wait on which leg and how
(``tenggat:<leg>:<mode>:<deadline>``, in the destination's own row ``=<destination>`` and
added up its regions). The desk turns an area's few rows into deadline findings at any
moment, and lists the destinations late on a deadline a page at a time: the work follows
the page, not the items. When a deadline moves, the rows counted by it move with it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.custody import counts, rules
from app.custody.chunks import starting_with
from app.custody.models import RegionCount
from app.plan import codes

OWN = counts.OWN
Keep = Callable[[rules.Code, rules.Severity], bool]


def own_rows_within(area: str) -> list[Any]:
    """The destinations' own rows in an area (a TPS: its own), as key ranges in key order:
    the area's node, its dotted nodes, its TPS (the desa code's digits)."""
    column = RegionCount.region_code
    if codes.TPS_ID.match(area):
        return [column == OWN + area]
    return [
        column == OWN + area,
        starting_with(column, OWN + area + "."),
        starting_with(column, OWN + area.replace(".", "")),
    ]


def late_destinations(
    session: Session,
    area: str,
    have: Mapping[str, int],
    now: datetime,
    limit: int | None,
    keep: Keep | None = None,
) -> list[tuple[str, str, int]]:
    """(destination, metric, items) of the destinations in ``area`` with items late or at
    risk at ``now`` (findings ``keep`` keeps): the critical first, at most ``limit`` (None:
    all). ``have`` are the area's counters, which name the deadlines worth reading; one
    statement per deadline."""
    found: list[tuple[str, str, int]] = []
    for metric in rules.late_metrics(have, now, keep=keep):
        # One key range at a time, in key order: an index scan that stops at the page.
        for within in own_rows_within(area):
            if limit is not None and len(found) >= limit:
                return found
            stmt = (
                select(RegionCount.region_code, RegionCount.n)
                .where(RegionCount.metric == metric, RegionCount.n > 0, within)
                .order_by(RegionCount.region_code)
            )
            if limit is not None:
                stmt = stmt.limit(limit - len(found))
            found += [(code[len(OWN) :], metric, n) for code, n in session.execute(stmt)]
    return found


Move = tuple[str, str, datetime, datetime]


def legs_moved(session: Session, kab: str, moves: Iterable[Move]) -> int:
    """Deadlines of legs of ``kab`` moved (from node, to node, old, new): what waits on
    them is counted by the new deadline (call after :func:`counts.bump_plan`, in the same
    transaction). Reads the destinations that wait on the old deadlines; how many moved."""
    by_metric: dict[str, dict[tuple[str, str], datetime]] = defaultdict(dict)
    for from_node, to_node, old, new in moves:
        if old == new:
            continue
        for mode in rules.tenggat.MODES:
            metric = rules.Waiting(from_node, to_node, old, mode).metric
            by_metric[metric][(from_node, to_node)] = new
    deltas = counts.Deltas()
    moved = 0
    for metric, legs in sorted(by_metric.items()):
        rows = session.execute(
            select(RegionCount.region_code, RegionCount.n).where(
                RegionCount.metric == metric, RegionCount.n != 0, or_(*own_rows_within(kab))
            )
        )
        for code, n in rows:
            destination = code[len(OWN) :]
            waiting = rules.tenggat.parse(metric, destination)
            if waiting is None or (waiting.from_node, waiting.to_node) not in legs:
                continue
            new = rules.Waiting(
                waiting.from_node,
                waiting.to_node,
                legs[(waiting.from_node, waiting.to_node)],
                waiting.mode,
                waiting.returning,
            ).metric
            deltas.add(destination, {metric: -n, new: n})
            deltas.own[(code, metric)] -= n
            deltas.own[(code, new)] += n
            moved += n
    deltas.write(session)
    return moved
