"""Ballot reconciliation after the count: the C.Hasil sheets against each other and custody.

Per TPS and race the KPPS's closing record (``Sheet``) must add up, agree with what
custody says arrived, and the box must travel back under the seals recorded at closing,
unopened until the PPK's recapitulation. Every finding names its evidence: the closing
record's id in ``detail`` and the scans in ``event_ids``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from app.custody.rules.custody import _kind
from app.custody.rules.model import Action, Finding, NodeKind, Principle, Race, Severity
from app.custody.rules.wording import _place, _when


class ReconCode(StrEnum):
    """Finding codes of the reconciliation (the API and the UI key on these)."""

    SHEETS_UNBALANCED = "sheets_unbalanced"
    ARRIVED_MISMATCH = "arrived_mismatch"
    USED_OVER_VOTERS = "used_over_voters"
    RESERVE_UNEXPLAINED = "reserve_unexplained"
    RETURN_SEAL_CHANGED = "return_seal_changed"
    RETURN_SEAL_UNCHECKED = "return_seal_unchecked"
    OPENED_BEFORE_RECAP = "opened_before_recap"


RECON_CODES: Mapping[ReconCode, Principle] = {
    ReconCode.SHEETS_UNBALANCED: Principle.JUMLAH,
    ReconCode.ARRIVED_MISMATCH: Principle.JUMLAH,
    ReconCode.USED_OVER_VOTERS: Principle.JUMLAH,
    ReconCode.RESERVE_UNEXPLAINED: Principle.AKUNTABILITAS,
    ReconCode.RETURN_SEAL_CHANGED: Principle.KUALITAS,
    ReconCode.RETURN_SEAL_UNCHECKED: Principle.KUALITAS,
    ReconCode.OPENED_BEFORE_RECAP: Principle.KUALITAS,
}
"""Which principle each reconciliation code checks."""

_RACE_WORDS = {Race.GUB: "gubernur", Race.BUP: "bupati", Race.WAL: "wali kota"}


@dataclass(frozen=True)
class Sheet:
    """The KPPS's closing record for one race: the C.Hasil numbers and the box's seals."""

    record_id: str
    tps: str
    race: Race
    received: int
    used: int
    invalid: int
    spoiled: int
    unused: int
    voters_signed: int
    closed_at: datetime
    reserve_drawn: int = 0
    reserve_note: str = ""
    seals: tuple[str, ...] = ()
    box: str | None = None


@dataclass(frozen=True)
class Handover:
    """One scan of the closed box on its way back (kembali, terima, buka, segel)."""

    event_id: str
    action: Action
    node: str
    at: datetime
    seals: tuple[str, ...] = ()


@dataclass(frozen=True)
class TpsBallots:
    """What the plan and custody say about a TPS's ballots for one race.

    ``registered`` is DPT + DPTb, ``reserve`` the planned 2.5 % reserve sheets,
    ``arrived`` the sheets custody recorded as delivered there (None: no record).
    """

    tps: str
    registered: int
    reserve: int
    arrived: int | None


def _finding(
    code: ReconCode,
    severity: Severity,
    message: str,
    sheet: Sheet,
    *,
    node: str | None = None,
    event_ids: tuple[str, ...] = (),
    **detail: str | int | None,
) -> Finding:
    return Finding(
        code=code,
        principle=RECON_CODES[code],
        severity=severity,
        message=message,
        serial=sheet.box,
        tps=sheet.tps,
        node=node or sheet.tps,
        event_ids=event_ids,
        detail=tuple(
            sorted({"record": sheet.record_id, "race": str(sheet.race), **detail}.items())
        ),
    )


def check_sheet(sheet: Sheet, ballots: TpsBallots) -> tuple[Finding, ...]:
    """The C.Hasil numbers: they add up, match custody, fit the voters, explain the reserve."""
    findings: list[Finding] = []
    race = _RACE_WORDS[sheet.race]
    accounted = sheet.used + sheet.spoiled + sheet.unused
    if sheet.received != accounted:
        findings.append(
            _finding(
                ReconCode.SHEETS_UNBALANCED,
                Severity.CRITICAL,
                f"Surat suara {race} TPS {sheet.tps} tidak seimbang: diterima {sheet.received}, "
                f"tetapi digunakan {sheet.used} + rusak {sheet.spoiled} + sisa {sheet.unused} "
                f"= {accounted} (selisih {sheet.received - accounted:+d})",
                sheet,
                received=sheet.received,
                accounted=accounted,
            )
        )
    if sheet.invalid > sheet.used:
        findings.append(
            _finding(
                ReconCode.SHEETS_UNBALANCED,
                Severity.CRITICAL,
                f"Suara tidak sah {race} TPS {sheet.tps} ({sheet.invalid}) lebih banyak dari "
                f"surat suara yang digunakan ({sheet.used})",
                sheet,
                invalid=sheet.invalid,
                used=sheet.used,
            )
        )
    if ballots.arrived != sheet.received:
        arrived = "tidak ada catatan penerimaan" if ballots.arrived is None else ballots.arrived
        findings.append(
            _finding(
                ReconCode.ARRIVED_MISMATCH,
                Severity.CRITICAL,
                f"KPPS TPS {sheet.tps} mencatat menerima {sheet.received} surat suara {race}, "
                f"catatan serah terima: {arrived}",
                sheet,
                received=sheet.received,
                arrived=ballots.arrived,
            )
        )
    if sheet.used > sheet.voters_signed:
        findings.append(
            _finding(
                ReconCode.USED_OVER_VOTERS,
                Severity.CRITICAL,
                f"Surat suara {race} terpakai di TPS {sheet.tps} ({sheet.used}) lebih banyak "
                f"dari pemilih yang hadir ({sheet.voters_signed})",
                sheet,
                used=sheet.used,
                voters_signed=sheet.voters_signed,
            )
        )
    # A reserve sheet replaces a spoiled one or serves a voter beyond the lists (DPK).
    explained = sheet.spoiled + max(0, sheet.voters_signed - ballots.registered)
    over_reserve = sheet.reserve_drawn > ballots.reserve
    if sheet.reserve_drawn > explained or over_reserve:
        why = (
            f"; alasan dicatat: {sheet.reserve_note}"
            if sheet.reserve_note
            else "; tidak ada alasan dicatat"
        )
        findings.append(
            _finding(
                ReconCode.RESERVE_UNEXPLAINED,
                Severity.INFO if sheet.reserve_note and not over_reserve else Severity.WARNING,
                f"TPS {sheet.tps} memakai {sheet.reserve_drawn} surat suara cadangan {race}; "
                f"yang terjelaskan {explained} (rusak {sheet.spoiled}, pemilih di luar DPT/DPTb "
                f"{max(0, sheet.voters_signed - ballots.registered)}), cadangan 2,5% "
                f"{ballots.reserve}{why}",
                sheet,
                reserve_drawn=sheet.reserve_drawn,
                explained=explained,
                reserve=ballots.reserve,
            )
        )
    return tuple(findings)


def check_return(sheet: Sheet, handovers: Sequence[Handover]) -> tuple[Finding, ...]:
    """The box on the way back: closing seals at every handover, unopened before the PPK.

    ``handovers`` are the box's scans in order; those before the closing are ignored.
    Opening is the PPK's recapitulation only after the PPK has received the box.
    """
    findings: list[Finding] = []
    closing = sorted(sheet.seals)
    at_ppk = False
    for scan in handovers:
        if scan.at < sheet.closed_at:
            continue
        kind = _kind(scan.node)
        if at_ppk and kind in (NodeKind.PPK, NodeKind.GUDANG):
            continue  # the recapitulation opens the box; the warehouse keeps it
        if scan.action is Action.TERIMA and kind is NodeKind.PPK:
            at_ppk = True  # this receipt is the last handover under the closing seals
        if scan.action in (Action.BUKA, Action.SEGEL) and not (
            scan.action is Action.SEGEL and kind is NodeKind.KPPS and sorted(scan.seals) == closing
        ):
            findings.append(
                _finding(
                    ReconCode.OPENED_BEFORE_RECAP,
                    Severity.CRITICAL,
                    f"Kotak suara {_RACE_WORDS[sheet.race]} TPS {sheet.tps} "
                    f"{'dibuka' if scan.action is Action.BUKA else 'disegel ulang'} di "
                    f"{_place(scan.node)} {_when(scan.at, scan.node)}, sebelum rekapitulasi PPK",
                    sheet,
                    node=scan.node,
                    event_ids=(scan.event_id,),
                )
            )
            continue
        if scan.action not in (Action.KEMBALI, Action.TERIMA):
            continue
        if not scan.seals:
            findings.append(
                _finding(
                    ReconCode.RETURN_SEAL_UNCHECKED,
                    Severity.INFO,
                    f"Segel kotak suara TPS {sheet.tps} tidak dicatat saat "
                    f"{scan.action} di {_place(scan.node)}",
                    sheet,
                    node=scan.node,
                    event_ids=(scan.event_id,),
                )
            )
        elif sorted(scan.seals) != closing:
            findings.append(
                _finding(
                    ReconCode.RETURN_SEAL_CHANGED,
                    Severity.CRITICAL,
                    f"Segel kotak suara TPS {sheet.tps} di {_place(scan.node)}: "
                    f"{', '.join(scan.seals)}, padahal saat penutupan {', '.join(sheet.seals)}",
                    sheet,
                    node=scan.node,
                    event_ids=(scan.event_id,),
                    sealed=",".join(sheet.seals),
                    found=",".join(scan.seals),
                )
            )
    return tuple(findings)


def reconcile(
    sheet: Sheet, ballots: TpsBallots, handovers: Sequence[Handover] = ()
) -> tuple[Finding, ...]:
    """Every reconciliation finding of one TPS and race."""
    return check_sheet(sheet, ballots) + check_return(sheet, handovers)


def recon_status(findings: Sequence[Finding]) -> str:
    """``cocok`` (nothing to say), ``catatan`` (only notes) or ``selisih`` (to resolve)."""
    if any(f.severity is not Severity.INFO for f in findings):
        return "selisih"
    return "catatan" if findings else "cocok"
