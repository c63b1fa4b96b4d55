"""Tepat biaya: leg costs against their budgets."""

from __future__ import annotations

from collections.abc import Mapping

from app.custody.rules.model import Code, Finding, Severity
from app.custody.rules.wording import _finding, _place


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
