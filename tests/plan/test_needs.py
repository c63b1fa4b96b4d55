"""Pure quantity rules: tables pinned to figures KPU reported for 2024."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.plan.needs import (
    DEFAULT_RULES,
    TpsFacts,
    allocate_largest_remainder,
    bundles,
    compute_needs,
    reserve,
    totals,
)


def _tps(n: int, kecamatans: int, dpt: int, races: tuple[str, ...]) -> list[TpsFacts]:
    return [
        TpsFacts(
            f"32710{i % kecamatans:01d}2001{i:03d}"[:13],
            f"32.71.0{i % kecamatans + 1}",
            dpt,
            0,
            races,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("case", "tps", "kecamatans", "races", "expected_boxes"),
    [
        # Kota Bogor 2024: 1,530 TPS in 6 kecamatan, governor + mayor -> 3,072 boxes.
        ("Kota Bogor reported 3,072 boxes", 1530, 6, ("GUB", "WAL"), 3072),
        ("one race, one kecamatan", 10, 1, ("BUP",), 12),
        ("Gunung Mas: 219 TPS, 12 kecamatan, two races", 219, 12, ("BUP", "GUB"), 462),
    ],
)
def test_ballot_boxes_are_one_per_race_plus_two_spares_per_kecamatan(
    case: str, tps: int, kecamatans: int, races: tuple[str, ...], expected_boxes: int
) -> None:
    lines = compute_needs(DEFAULT_RULES, _tps(tps, kecamatans, 300, races), "32.71")
    boxes = sum(q for (item, _race), q in totals(lines).items() if item == "KOTAK")
    assert boxes == expected_boxes, case


@pytest.mark.parametrize(
    ("dpt", "dptb", "expected"),
    [
        (400, 0, 410),  # 2.5% of 400 = 10 exactly
        (401, 0, 412),  # 10.025 rounds UP to 11 per TPS
        (1, 0, 2),  # even one voter gets a reserve ballot
        (0, 0, 0),
        (599, 3, 617),  # DPTb counts, the reserve is on DPT only: 599 + 3 + ceil(14.975)
        (600, 0, 615),
    ],
)
def test_ballots_per_race_are_dpt_plus_dptb_plus_reserve_rounded_up_per_tps(
    dpt: int, dptb: int, expected: int
) -> None:
    lines = compute_needs(
        DEFAULT_RULES, [TpsFacts("6210052016001", "62.10.05", dpt, dptb, ("GUB",))], "62.10"
    )
    tps_ballots = [
        ln.quantity for ln in lines if ln.item_type == "SURAT" and ln.destination == "6210052016001"
    ]
    assert tps_ballots == ([expected] if expected else [])


def test_reserve_is_rounded_per_tps_not_on_the_total() -> None:
    """Ten TPS of 401 voters need 10 x 11 reserve ballots, not ceil(4010 x 2.5%) = 101."""
    tps = [TpsFacts(f"621005201600{i}", "62.10.05", 401, 0, ("GUB",)) for i in range(10)]
    ballots = totals(compute_needs(DEFAULT_RULES, tps, "62.10"))[("SURAT", "GUB")]
    assert ballots == 10 * 412 + 2000
    assert reserve(4010, Decimal("2.5")) == 101


def test_fixed_reserve_of_2000_ballots_per_race_sits_at_the_warehouse() -> None:
    lines = compute_needs(DEFAULT_RULES, _tps(3, 1, 100, ("GUB", "BUP")), "62.10")
    warehouse = {(ln.item_type, ln.race): ln.quantity for ln in lines if ln.destination == "62.10"}
    assert warehouse == {("SURAT", "BUP"): 2000, ("SURAT", "GUB"): 2000}


@pytest.mark.parametrize(
    ("item", "per_tps"),
    [("BILIK", 4), ("TINTA", 2), ("KIT", 1), ("SAMPUL", 1), ("SEGEL", 1)],
)
def test_fixed_items_per_tps(item: str, per_tps: int) -> None:
    lines = compute_needs(DEFAULT_RULES, _tps(219, 12, 300, ("GUB", "BUP")), "62.10")
    assert totals(lines)[(item, "")] == per_tps * 219


@pytest.mark.parametrize("item", ["FORMHSL", "FORMSAL", "BRAILLE", "POSTER"])
def test_forms_and_braille_templates_are_one_per_race(item: str) -> None:
    lines = compute_needs(DEFAULT_RULES, _tps(5, 1, 300, ("GUB", "BUP")), "62.10")
    assert totals(lines)[(item, "GUB")] == 5
    assert totals(lines)[(item, "BUP")] == 5


@pytest.mark.parametrize(
    ("quantity", "size", "expected"),
    [
        (410, 20, [20] * 20 + [10]),
        (400, 20, [20] * 20),
        (7, 20, [7]),
        (3, 1, [1, 1, 1]),
        (0, 20, []),
    ],
)
def test_ballots_are_labelled_in_bundles_of_20_with_one_partial_bundle(
    quantity: int, size: int, expected: list[int]
) -> None:
    assert bundles(quantity, size) == expected


@pytest.mark.parametrize(
    ("total", "weights", "expected"),
    [(10, [1, 1], [5, 5]), (7, [1, 1, 1], [3, 2, 2]), (0, [1, 2], [0, 0]), (5, [0, 1], [0, 5])],
)
def test_largest_remainder_allocation_sums_to_the_total(
    total: int, weights: list[float], expected: list[int]
) -> None:
    assert allocate_largest_remainder(total, weights) == expected
