"""Ballot reconciliation: one table row per failure, each with its evidence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from app.custody.rules import (
    Action,
    Handover,
    Race,
    ReconCode,
    Severity,
    Sheet,
    TpsBallots,
    recon_status,
    reconcile,
)

TPS, PPS, PPK, GUDANG = "6210052016001", "62.10.05.2016", "62.10.05", "62.10"
CLOSED = datetime(2024, 11, 27, 12, 0, tzinfo=UTC)  # 19.00 WIB on election day
SEALS = ("KS-1", "KS-2")

#: 400 sheets: 390 on the lists (DPT + DPTb) + 10 reserve (2.5 %, rounded up).
BALLOTS = TpsBallots(TPS, registered=390, reserve=10, arrived=400)
SHEET = Sheet(
    record_id="rec-1",
    tps=TPS,
    race=Race.GUB,
    received=400,
    used=300,
    invalid=7,
    spoiled=4,
    unused=96,
    voters_signed=301,
    closed_at=CLOSED,
    reserve_drawn=4,
    seals=SEALS,
    box="K-0001",
)


def hop(n: int, action: Action, node: str, seals: tuple[str, ...] = SEALS) -> Handover:
    return Handover(f"ev-{n}", action, node, CLOSED + timedelta(hours=n), seals)


CLEAN_RETURN = (
    hop(1, Action.KEMBALI, TPS),
    hop(2, Action.TERIMA, PPS),
    hop(3, Action.KEMBALI, PPS),
    hop(4, Action.TERIMA, PPK),
    hop(30, Action.BUKA, PPK, ()),  # the recapitulation opens it
    hop(40, Action.SEGEL, PPK, ("REKAP-1",)),
    hop(90, Action.KEMBALI, PPK, ("REKAP-1",)),
    hop(95, Action.TERIMA, GUDANG, ("REKAP-1",)),
)

#: (name, sheet, ballots, handovers, expected codes, severities)
SCENARIOS = [
    ("a balanced sheet that came back sealed: nothing to say", SHEET, BALLOTS, CLEAN_RETURN, []),
    (
        "received is not used + spoiled + unused: the sheets do not add up",
        replace(SHEET, unused=90),
        BALLOTS,
        (),
        [ReconCode.SHEETS_UNBALANCED],
    ),
    (
        "more invalid votes than ballots used",
        replace(SHEET, invalid=301),
        BALLOTS,
        (),
        [ReconCode.SHEETS_UNBALANCED],
    ),
    (
        "the KPPS counted 281 sheets, custody recorded 400 delivered (119 short, as in Malang)",
        replace(SHEET, received=281, used=200, unused=77, voters_signed=200),
        BALLOTS,
        (),
        [ReconCode.ARRIVED_MISMATCH],
    ),
    (
        "custody has no record of the ballots arriving",
        SHEET,
        replace(BALLOTS, arrived=None),
        (),
        [ReconCode.ARRIVED_MISMATCH],
    ),
    (
        "more ballots used than voters signed in",
        replace(SHEET, voters_signed=290, reserve_drawn=0),
        BALLOTS,
        (),
        [ReconCode.USED_OVER_VOTERS],
    ),
    (
        "reserve drawn beyond spoiled and off-list voters, no reason given",
        replace(SHEET, reserve_drawn=9),
        BALLOTS,
        (),
        [ReconCode.RESERVE_UNEXPLAINED],
    ),
    (
        "reserve drawn for voters beyond the lists (DPK) is explained",
        replace(SHEET, used=395, unused=1, voters_signed=396, reserve_drawn=10),
        BALLOTS,
        (),
        [],
    ),
    (
        "more than the 2.5 % reserve drawn",
        replace(SHEET, used=396, spoiled=4, unused=0, voters_signed=400, reserve_drawn=14),
        BALLOTS,
        (),
        [ReconCode.RESERVE_UNEXPLAINED],
    ),
    (
        "seals changed on the way back, at the PPS",
        SHEET,
        BALLOTS,
        (hop(1, Action.KEMBALI, TPS), hop(2, Action.TERIMA, PPS, ("KS-1", "KS-9"))),
        [ReconCode.RETURN_SEAL_CHANGED],
    ),
    (
        "other seals on arrival at the PPK: the last handover before the recapitulation",
        SHEET,
        BALLOTS,
        (hop(1, Action.KEMBALI, TPS, ()), hop(4, Action.TERIMA, PPK, ("KS-7", "KS-8"))),
        [ReconCode.RETURN_SEAL_UNCHECKED, ReconCode.RETURN_SEAL_CHANGED],
    ),
    (
        "a handover that did not record the seals",
        SHEET,
        BALLOTS,
        (hop(1, Action.KEMBALI, TPS, ()),),
        [ReconCode.RETURN_SEAL_UNCHECKED],
    ),
    (
        "the box opened at the PPS before the recapitulation",
        SHEET,
        BALLOTS,
        (hop(1, Action.KEMBALI, TPS), hop(2, Action.TERIMA, PPS), hop(3, Action.BUKA, PPS, ())),
        [ReconCode.OPENED_BEFORE_RECAP],
    ),
    (
        "the box opened again at the TPS after closing",
        SHEET,
        BALLOTS,
        (hop(1, Action.BUKA, TPS, ()),),
        [ReconCode.OPENED_BEFORE_RECAP],
    ),
    (
        "the box opened at the PPK before the PPK received it",
        SHEET,
        BALLOTS,
        (hop(1, Action.KEMBALI, TPS), hop(2, Action.BUKA, PPK, ())),
        [ReconCode.OPENED_BEFORE_RECAP],
    ),
    (
        "re-sealed at the PPS with new seals, then carried on under them",
        SHEET,
        BALLOTS,
        (
            hop(1, Action.KEMBALI, TPS),
            hop(2, Action.TERIMA, PPS),
            hop(3, Action.SEGEL, PPS, ("BARU-1",)),
            hop(4, Action.KEMBALI, PPS, ("BARU-1",)),
        ),
        [ReconCode.OPENED_BEFORE_RECAP, ReconCode.RETURN_SEAL_CHANGED],
    ),
    (
        "the KPPS's own segel scan at closing is the closing, not an opening",
        SHEET,
        BALLOTS,
        (hop(0, Action.SEGEL, TPS), hop(1, Action.KEMBALI, TPS)),
        [],
    ),
    (
        "scans from before the closing (the count itself) are not the way back",
        SHEET,
        BALLOTS,
        (Handover("ev-0", Action.BUKA, TPS, CLOSED - timedelta(hours=6)),),
        [],
    ),
]


@pytest.mark.parametrize(
    ("sheet", "ballots", "handovers", "expected"),
    [row[1:] for row in SCENARIOS],
    ids=[row[0] for row in SCENARIOS],
)
def test_reconciliation_findings(
    sheet: Sheet, ballots: TpsBallots, handovers: tuple[Handover, ...], expected: list[str]
) -> None:
    findings = reconcile(sheet, ballots, handovers)
    assert [f.code for f in findings] == expected, [f.message for f in findings]


def test_every_reconciliation_code_has_a_scenario() -> None:
    covered = {code for row in SCENARIOS for code in row[4]}
    assert covered == set(ReconCode)


def test_findings_carry_the_closing_record_and_the_scans_as_evidence() -> None:
    handovers = (hop(1, Action.KEMBALI, TPS), hop(2, Action.TERIMA, PPS, ("KS-1", "KS-9")))
    (changed,) = reconcile(SHEET, BALLOTS, handovers)
    assert changed.event_ids == ("ev-2",)
    assert changed.node == PPS and changed.serial == "K-0001" and changed.tps == TPS
    detail = dict(changed.detail)
    assert (detail["record"], detail["sealed"], detail["found"]) == (
        "rec-1",
        "KS-1,KS-2",
        "KS-1,KS-9",
    )
    assert changed.severity is Severity.CRITICAL
    assert "KS-1, KS-9, padahal saat penutupan KS-1, KS-2" in changed.message


def test_the_unbalanced_message_shows_the_arithmetic() -> None:
    (finding,) = reconcile(replace(SHEET, unused=90), BALLOTS)
    assert "diterima 400" in finding.message and "= 394 (selisih +6)" in finding.message


def test_a_reason_for_the_reserve_makes_it_a_note_not_a_discrepancy() -> None:
    noted = replace(SHEET, reserve_drawn=9, reserve_note="5 lembar sobek saat dibagikan")
    (finding,) = reconcile(noted, BALLOTS)
    assert finding.severity is Severity.INFO and "sobek" in finding.message
    assert recon_status([finding]) == "catatan"
    assert recon_status([]) == "cocok"
    assert recon_status(reconcile(replace(SHEET, unused=90), BALLOTS)) == "selisih"
