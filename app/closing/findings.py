"""The reconciliation findings of a closing record, stored as findings like any other.

When a KPPS files (or corrects) its closing record, the C.Hasil numbers of that TPS and
race are checked by the pure rules (``rules.check_sheet``) and the result is kept in the
``finding`` table, so it shows in the desk's findings, the public counts and Bawaslu's
view. A finding already open for the same TPS, race and evidence is kept, not added
again; an open one the new numbers no longer raise is resolved by the new record. The
counters move with them (``counts.Deltas``), and the work reads only the one TPS.

The seals on the way back (``rules.check_return``) depend on later scans and stay a
live view of the way-back page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.closing.desk import _sheet
from app.closing.service import latest_closings
from app.custody import closings, codec, counts, resolve, rules
from app.custody.models import FindingRow, TpsTallyRow
from app.custody.service import finding_values
from app.plan import codes
from app.plan.models import Election, PlanLine, Tps

#: The codes a closing record raises by itself (the numbers on the C.Hasil form).
SHEET_CODES = tuple(
    sorted(
        str(c)
        for c in (
            rules.ReconCode.SHEETS_UNBALANCED,
            rules.ReconCode.ARRIVED_MISMATCH,
            rules.ReconCode.USED_OVER_VOTERS,
            rules.ReconCode.RESERVE_UNEXPLAINED,
        )
    )
)


def _identity(values: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two findings the same: code, severity, place and evidence but the record."""
    detail = {k: v for k, v in (values.get("detail") or {}).items() if k != "record"}
    return (
        values["code"],
        values["severity"],
        values.get("node"),
        tuple(values.get("event_ids") or ()),
        tuple(sorted(detail.items(), key=lambda kv: kv[0])),
    )


def sheet_findings(
    session: Session, election: Election, tps: str, race: str
) -> tuple[str | None, list[rules.Finding]]:
    """The latest closing record's id for the TPS and race and what the rules say of it."""
    sheet = latest_closings(session, election.code, [tps]).get((tps, race))
    place = session.execute(select(Tps.dpt, Tps.dptb).where(Tps.id == tps)).one_or_none()
    if sheet is None or place is None:
        return None, []
    registered = place.dpt + place.dptb
    planned = session.scalar(
        select(PlanLine.quantity).where(
            PlanLine.election_code == election.code,
            PlanLine.item_type_code == "SURAT",
            PlanLine.destination == tps,
            PlanLine.race_kind == race,
        )
    )
    tally_row = session.scalar(select(TpsTallyRow.tally).where(TpsTallyRow.tps == tps))
    tally = codec.tally_from_dict(tps, tally_row) if tally_row is not None else None
    arrived = tally.delivered.get((rules.ItemType.SURAT, rules.Race(race))) if tally else None
    ballots = rules.TpsBallots(
        tps,
        registered=registered,
        reserve=max(0, (planned if planned is not None else registered) - registered),
        arrived=arrived,
    )
    return str(sheet.id), list(rules.check_sheet(_sheet(sheet), ballots))


def file_sheet_findings(
    session: Session, election: Election, touched: Iterable[tuple[str, str]], now: datetime
) -> tuple[int, int]:
    """Store the findings of each (TPS, race) and resolve those no longer raised.

    Returns (added, resolved). Does not commit: the caller's transaction holds the closing
    records, the findings and the counters together.
    """
    wanted = sorted(set(touched))
    if not wanted:
        return 0, 0
    session.flush()
    # One filing per TPS at a time (PostgreSQL): two devices sending the same closing
    # cannot both find nothing open and add the same finding twice.
    session.execute(
        select(Tps.id).where(Tps.id.in_(sorted({t for t, _ in wanted}))).with_for_update()
    )
    deltas = counts.Deltas()
    added: list[dict[str, Any]] = []
    resolved = 0
    # The first record of a TPS and race counts as closed (the desk's way back, rolled up).
    have = counts.read(session, [counts.OWN + tps for tps, _ in wanted])
    for tps, race in wanted:
        record_id, found = sheet_findings(session, election, tps, race)
        if record_id is None:
            continue
        if not have.get(counts.OWN + tps, {}).get(f"closed:{race}"):
            counts.closed(deltas, tps, race)
            own = have.setdefault(counts.OWN + tps, Counter())
            closings.closed(deltas, own, tps)
            own[f"closed:{race}"] += 1
        open_rows = [
            row
            for row in session.execute(
                select(
                    FindingRow.id,
                    FindingRow.code,
                    FindingRow.severity,
                    FindingRow.node,
                    FindingRow.event_ids,
                    FindingRow.detail,
                ).where(
                    FindingRow.tps == tps,
                    FindingRow.code.in_(SHEET_CODES),
                    FindingRow.status == resolve.OPEN,
                )
            )
            if (row.detail or {}).get("race") == race
        ]
        kept = {_identity(row._asdict()): row.id for row in open_rows}
        fresh = [finding_values(f, codes.kabkota_of(tps)) for f in found]
        still = {_identity(values) for values in fresh}
        # A finding is resolved by the record that no longer raises it.
        stale = [row_id for key, row_id in kept.items() if key not in still]
        if stale:
            session.execute(
                update(FindingRow)
                .where(FindingRow.id.in_(stale))
                .values(status=resolve.RESOLVED, resolved_by=record_id, resolved_at=now)
            )
            counts.findings_resolved(session, stale)
            resolved += len(stale)
        for values in fresh:
            if _identity(values) not in kept:
                added.append(values)
                kept[_identity(values)] = values["id"]
    if added:
        session.execute(FindingRow.__table__.insert(), added)
        for values in added:
            deltas.finding(values)
    deltas.write(session)
    return len(added), resolved
