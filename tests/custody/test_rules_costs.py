"""Tepat biaya: each leg's recorded cost against its budget (pure)."""

from __future__ import annotations

import pytest

from app.custody.rules import Code, Principle, Severity, check_costs

LEG = ("62.10", "62.10.09")


COST_CASES: list[tuple[str, int | None, int, list[tuple[Code, Severity]]]] = [
    ("within budget", 6_000_000, 5_500_000, []),
    ("exactly the budget", 6_000_000, 6_000_000, []),
    ("boat hire a little over", 6_000_000, 6_600_000, [(Code.OVER_BUDGET, Severity.WARNING)]),
    (
        "Miri Manasa: fuel up-river, 57 % over",
        6_000_000,
        9_400_000,
        [(Code.OVER_BUDGET, Severity.CRITICAL)],
    ),
    (
        "cost recorded on a leg without budget",
        None,
        1_000_000,
        [(Code.COST_WITHOUT_BUDGET, Severity.INFO)],
    ),
]


@pytest.mark.parametrize(("case", "budget", "spent", "expected"), COST_CASES)
def test_leg_cost_against_budget(
    case: str, budget: int | None, spent: int, expected: list[tuple[Code, Severity]]
) -> None:
    findings = check_costs({LEG: budget}, {LEG: spent})
    assert [(f.code, f.severity) for f in findings] == expected, case
    for finding in findings:
        assert finding.principle is Principle.BIAYA
        assert finding.node == "62.10.09"
        assert "Rp" in finding.message


def test_the_over_budget_message_says_by_how_much() -> None:
    [finding] = check_costs({LEG: 6_000_000}, {LEG: 9_400_000})
    assert "Rp9.400.000" in finding.message and "Rp3.400.000" in finding.message
