"""Offline plan checks: is this item meant to pass through this node, and is it right?"""

from __future__ import annotations

import pytest

from scanner import PlanSlice, PlanSliceError, ScannedItem, Severity, check_scan

PPK_KURUN = PlanSlice.from_json(
    {
        "node": "62.10.05",
        "kind": "ppk",
        "parent": "62.10",
        "children": ["62.10.05.2016", "62.10.05.2017"],
        "destinations": ["6210052016001", "6210052016002", "6210052017001"],
        "allowed": [
            {"destination": "6210052016001", "item_type": "SURAT", "race": "GUB", "quantity": 420},
            {"destination": "6210052016001", "item_type": "SURAT", "race": "BUP", "quantity": 420},
            {"destination": "6210052016001", "item_type": "KOTAK", "race": None, "quantity": 2},
            {"destination": "6210052016002", "item_type": "SURAT", "race": "GUB", "quantity": 380},
            {"destination": "62.10.05", "item_type": "FORM", "race": None, "quantity": 1},
        ],
        "voided": ["VOIDED0000000000"],
        "races": ["GUB", "BUP"],
    }
)


def item(
    destination: str = "6210052016001",
    item_type: str = "SURAT",
    race: str | None = "GUB",
    quantity: int = 420,
    serial: str = "AAAABBBBCCCCDDDD",
) -> ScannedItem:
    return ScannedItem(serial, item_type, destination, race, quantity)


CASES = [
    # (scenario, item, action, counted, condition, expected finding codes)
    ("planned ballots for a TPS below this PPK", item(), "terima", None, None, []),
    ("planned ballots, counted and in good condition", item(), "terima", 420, "baik", []),
    (
        "kit addressed to this node itself",
        item("62.10.05", "FORM", None, 1),
        "terima",
        None,
        None,
        [],
    ),
    (
        "ballots of Kab. Serang reaching Gunung Mas (tertukar)",
        item("3604012001001"),
        "terima",
        None,
        None,
        ["wrong_route"],
    ),
    (
        "TPS of a neighbouring kecamatan: salah alamat",
        item("6210062001001"),
        "kirim",
        None,
        None,
        ["wrong_route"],
    ),
    (
        "destination below this node but missing from the plan",
        item("6210052099001"),
        "terima",
        None,
        None,
        ["unknown_destination"],
    ),
    ("voided label", item(serial="VOIDED0000000000"), "terima", None, None, ["voided"]),
    (
        "regent ballots where only governor ballots are planned",
        item("6210052016002", race="BUP", quantity=380),
        "terima",
        None,
        None,
        ["wrong_race"],
    ),
    (
        "mayor race not held in this region",
        item(race="WAL"),
        "terima",
        None,
        None,
        ["race_not_held", "wrong_race"],
    ),
    (
        "item type not planned for that TPS",
        item(item_type="TINTA", race=None, quantity=2),
        "terima",
        None,
        None,
        ["wrong_type"],
    ),
    (
        "label quantity differs from the plan",
        item(quantity=400),
        "terima",
        None,
        None,
        ["quantity_plan_mismatch"],
    ),
    ("packing miscount (Kota Malang): 119 short", item(), "terima", 301, None, ["count_mismatch"]),
    ("wet carton", item(), "terima", None, "basah", ["condition"]),
    (
        "box opened at a PPK, not at the TPS",
        item("6210052016001", "KOTAK", None, 2),
        "buka",
        None,
        None,
        ["open_outside_tps"],
    ),
]


@pytest.mark.parametrize(
    ("scenario", "scanned", "action", "counted", "condition", "codes"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_check_scan(
    scenario: str,
    scanned: ScannedItem,
    action: str,
    counted: int | None,
    condition: str | None,
    codes: list[str],
) -> None:
    findings = check_scan(PPK_KURUN, scanned, action, counted, condition)
    assert [f.code for f in findings] == codes
    assert all(f.message for f in findings)


@pytest.mark.parametrize(
    ("code", "severity"),
    [
        ("wrong_route", Severity.ERROR),
        ("voided", Severity.ERROR),
        ("wrong_race", Severity.ERROR),
        ("count_mismatch", Severity.ERROR),
        ("condition", Severity.WARNING),
        ("unknown_destination", Severity.WARNING),
        ("quantity_plan_mismatch", Severity.WARNING),
    ],
)
def test_severity_decides_whether_the_courier_hears_a_bell(code: str, severity: Severity) -> None:
    scenario = next(c for c in CASES if c[5] and c[5][0] == code)
    [finding, *_] = check_scan(PPK_KURUN, scenario[1], scenario[2], scenario[3], scenario[4])
    assert finding.severity is severity


def test_opening_a_box_at_the_tps_is_fine() -> None:
    tps = PlanSlice.from_json(
        {"node": "6210052016001", "kind": "tps", "destinations": ["6210052016001"], "allowed": []}
    )
    assert check_scan(tps, item("6210052016001", "KOTAK", None, 2), "buka") == []


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"node": "1", "allowed": [{"destination": "x"}]},
        {"node": "1", "allowed": [{"destination": "x", "item_type": "S", "quantity": "many"}]},
    ],
)
def test_malformed_plan_slice_is_refused(document: dict[str, object]) -> None:
    with pytest.raises(PlanSliceError):
        PlanSlice.from_json(document)
