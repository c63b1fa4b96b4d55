"""Findings are state: a later event resolves the findings an earlier one raised.

``batal`` of a scan resolves what that scan raised (a cancelled "rusak berat" is no
longer critical); ``koreksi`` resolves the findings about what it corrects (the count,
the condition, the seals), and the rules raise them again if the corrected value is
still wrong; the scan that fills a device's sequence gap resolves the gap.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.custody import counts, rules
from app.custody.models import CustodyEvent, FindingRow

OPEN, RESOLVED = "open", "resolved"


def resolve_referenced(
    session: Session,
    event: rules.Event,
    serials: Iterable[str],
    pending: list[dict[str, Any]],
    now: datetime,
) -> int:
    """Resolve the open findings the referenced scan raised (stored, or still in the batch)."""
    if event.ref_event_id is None or rules.resolved_codes(event) == frozenset():
        return 0

    def hit(code: str, event_ids: Iterable[str]) -> bool:
        # The same decision as the rules' recompute makes (rules.resolves).
        probe = rules.Finding(code, rules.Principle.AKUNTABILITAS, rules.Severity.INFO, "")
        return rules.resolves(event, replace(probe, event_ids=tuple(event_ids or ())))

    resolved = 0
    for values in pending:
        if values.get("status", OPEN) == OPEN and hit(values["code"], values["event_ids"]):
            values.update(status=RESOLVED, resolved_by=event.event_id, resolved_at=now)
            resolved += 1
    rows = session.execute(
        select(FindingRow.id, FindingRow.code, FindingRow.event_ids).where(
            FindingRow.serial.in_(set(serials)), FindingRow.status == OPEN
        )
    )
    ids = [row.id for row in rows if hit(row.code, row.event_ids or ())]
    if ids:
        session.execute(
            update(FindingRow)
            .where(FindingRow.id.in_(ids))
            .values(status=RESOLVED, resolved_by=event.event_id, resolved_at=now)
        )
        counts.findings_resolved(session, ids)
    return resolved + len(ids)


def close_filled_gaps(
    session: Session,
    device_id: str,
    closing_event: str,
    now: datetime,
    *,
    arriving: Iterable[int] = (),
) -> int:
    """Resolve the device's sequence-gap findings whose missing scans have all arrived
    (stored, or ``arriving`` in the batch being written)."""
    batch = set(arriving)
    gaps = session.execute(
        select(FindingRow.id, FindingRow.detail).where(
            FindingRow.code == "device_seq_gap", FindingRow.status == OPEN
        )
    ).all()
    closed = []
    for row in gaps:
        detail = row.detail or {}
        if detail.get("device_id") != device_id:
            continue
        low, high = int(detail["missing_from"]), int(detail["missing_to"])
        stored = set(
            session.scalars(
                select(CustodyEvent.device_seq).where(
                    CustodyEvent.device_id == device_id,
                    CustodyEvent.device_seq.between(low, high),
                )
            )
        )
        if len({seq for seq in stored | batch if low <= seq <= high}) == high - low + 1:
            closed.append(row.id)
    if closed:
        session.execute(
            update(FindingRow)
            .where(FindingRow.id.in_(closed))
            .values(status=RESOLVED, resolved_by=closing_event, resolved_at=now)
        )
        counts.findings_resolved(session, closed)
    return len(closed)
