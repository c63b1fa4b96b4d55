"""Costs and budgets of route legs, in rupiah."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.errors import NotFound, ValidationFailed
from app.plan import codes
from app.plan.models import LegCost, RouteLeg


def _leg(session: Session, election_code: str, from_node: str, to_node: str) -> RouteLeg:
    leg = session.scalar(
        select(RouteLeg).where(
            RouteLeg.election_code == election_code,
            RouteLeg.from_node == from_node,
            RouteLeg.to_node == to_node,
        )
    )
    if leg is None:
        raise NotFound(f"Tidak ada leg {from_node} → {to_node} dalam rencana.")
    return leg


def set_budget(
    session: Session, election_code: str, from_node: str, to_node: str, amount_idr: int | None
) -> RouteLeg:
    """Set (or clear) a leg's budget in rupiah."""
    if amount_idr is not None and amount_idr < 0:
        raise ValidationFailed("Anggaran tidak boleh negatif.")
    leg = _leg(session, election_code, from_node, to_node)
    leg.budget_idr = amount_idr
    _changed(session, from_node, to_node)
    session.commit()
    return leg


def _changed(session: Session, from_node: str, to_node: str) -> None:
    """The desk's cost findings of the leg's kabupaten are to be worked out again."""
    from app.custody import counts  # the desk's counters; the plan does not import custody

    counts.bump_own(session, counts.OWN + codes.kabkota_of(to_node or from_node), _COSTS_VERSION)


#: Own row ``=<kabupaten>``: changes whenever one of its costs or budgets does.
_COSTS_VERSION = "costs_version"


def record_cost(
    session: Session,
    election_code: str,
    from_node: str,
    to_node: str,
    amount_idr: int,
    note: str = "",
    user_id: Any = None,
) -> LegCost:
    """Record what a leg cost (appended; a correction is a negative amount with a note)."""
    _leg(session, election_code, from_node, to_node)
    if amount_idr == 0:
        raise ValidationFailed("Biaya tidak boleh nol.")
    cost = LegCost(
        election_code=election_code,
        from_node=from_node,
        to_node=to_node,
        amount_idr=amount_idr,
        note=note.strip()[:200],
        recorded_by=user_id,
    )
    session.add(cost)
    _changed(session, from_node, to_node)
    session.commit()
    return cost


def leg_costs(
    session: Session, election_code: str, kabkota: str
) -> tuple[dict[tuple[str, str], int | None], dict[tuple[str, str], int]]:
    """Budgets of the kabupaten's legs that have costs, and the costs summed per leg."""
    return leg_costs_many(session, election_code, [kabkota])[kabkota]


def leg_costs_many(
    session: Session, election_code: str, kabupaten: Iterable[str]
) -> dict[str, tuple[dict[tuple[str, str], int | None], dict[tuple[str, str], int]]]:
    """:func:`leg_costs` of several kabupaten: one read of the costs, one of their budgets."""
    totals = session.execute(
        select(LegCost.from_node, LegCost.to_node, func.sum(LegCost.amount_idr))
        .where(LegCost.election_code == election_code)
        .group_by(LegCost.from_node, LegCost.to_node)
    ).all()
    costs = {
        kab: {
            (a, b): int(total)
            for a, b, total in totals
            if codes.within(b, kab) or codes.within(a, kab)
        }
        for kab in sorted(set(kabupaten))
    }
    needed = {pair for per_kab in costs.values() for pair in per_kab}
    budget_of: dict[tuple[str, str], int | None] = {}
    # Legs with a cost are the few a person recorded: one IN list each way holds them.
    rows = (
        session.execute(
            select(RouteLeg.from_node, RouteLeg.to_node, RouteLeg.budget_idr).where(
                RouteLeg.election_code == election_code,
                RouteLeg.from_node.in_(sorted({a for a, _ in needed})),
                RouteLeg.to_node.in_(sorted({b for _, b in needed})),
            )
        ).all()
        if needed
        else []
    )
    for a, b, budget in rows:
        if (a, b) in needed:
            budget_of.setdefault((a, b), budget)
    return {
        kab: ({pair: budget_of.get(pair) for pair in per_kab}, per_kab)
        for kab, per_kab in costs.items()
    }


@dataclass(frozen=True)
class LegMoney:
    """One forward leg's budget and what was recorded as spent on it (rupiah)."""

    from_node: str
    to_node: str
    budget: int | None
    spent: int

    @property
    def over(self) -> int:
        """How far the costs exceed the budget (0 when within it or without one)."""
        return max(0, self.spent - self.budget) if self.budget is not None else 0


def leg_money(session: Session, election_code: str, kabkota: str) -> list[LegMoney]:
    """Every forward leg of a kabupaten with its budget and summed costs, in route order."""
    _, spent = leg_costs(session, election_code, kabkota)
    rows = session.execute(
        select(RouteLeg.from_node, RouteLeg.to_node, RouteLeg.budget_idr)
        .where(
            RouteLeg.election_code == election_code,
            RouteLeg.is_return.is_(False),
            RouteLeg.to_node.like(kabkota + ".%")
            | RouteLeg.to_node.like(kabkota.replace(".", "") + "%"),
        )
        .order_by(RouteLeg.from_node, RouteLeg.to_node)
    ).all()
    return [LegMoney(a, b, budget, spent.get((a, b), 0)) for a, b, budget in rows]
