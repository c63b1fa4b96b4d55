"""Costs and budgets of route legs, in rupiah."""

from __future__ import annotations

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
    session.commit()
    return leg


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
    session.commit()
    return cost


def leg_costs(
    session: Session, election_code: str, kabkota: str
) -> tuple[dict[tuple[str, str], int | None], dict[tuple[str, str], int]]:
    """Budgets of the kabupaten's legs that have costs, and the costs summed per leg."""
    costs = {
        (a, b): int(total)
        for a, b, total in session.execute(
            select(LegCost.from_node, LegCost.to_node, func.sum(LegCost.amount_idr))
            .where(LegCost.election_code == election_code)
            .group_by(LegCost.from_node, LegCost.to_node)
        )
        if codes.within(b, kabkota) or codes.within(a, kabkota)
    }
    budgets: dict[tuple[str, str], int | None] = {}
    for a, b in costs:
        leg = session.scalar(
            select(RouteLeg.budget_idr).where(
                RouteLeg.election_code == election_code,
                RouteLeg.from_node == a,
                RouteLeg.to_node == b,
            )
        )
        budgets[(a, b)] = leg
    return budgets, costs


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
