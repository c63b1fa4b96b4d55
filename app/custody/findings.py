"""Findings of the rules as API answers and as stored rows."""

from __future__ import annotations

import uuid
from typing import Any

from app.custody import resolve, rules
from app.custody.models import FindingRow
from app.plan import codes
from app.timeutil import utcnow


def finding_dict(finding: rules.Finding) -> dict[str, Any]:
    """The JSON form of a finding for API answers."""
    return {
        "code": finding.code,
        "principle": finding.principle.value,
        "severity": finding.severity.value,
        "message": finding.message,
        "serial": finding.serial,
        "tps": finding.tps,
        "node": finding.node,
        "event_ids": list(finding.event_ids),
    }


def finding_row(finding: rules.Finding, kabkota: str) -> FindingRow:
    """Map a rules finding to a stored row (see :func:`finding_values`)."""
    return FindingRow(**finding_values(finding, kabkota))


def finding_values(finding: rules.Finding, kabkota: str) -> dict[str, Any]:
    """Map a rules finding to a stored row, placed in the most precise region it names."""
    # Where it was seen first (a tertukar carton sits in our warehouse), else its TPS.
    place = finding.node or finding.tps or kabkota
    try:
        region = codes.node_region(place)
    except ValueError:
        region = kabkota
    return dict(
        id=uuid.uuid4(),
        created_at=utcnow(),
        code=finding.code,
        principle=finding.principle.value,
        severity=finding.severity.value,
        message=finding.message,
        serial=finding.serial,
        tps=finding.tps,
        node=finding.node,
        region_code=region,
        kabkota_code=kabkota,
        province=codes.province_of(kabkota),
        event_ids=list(finding.event_ids),
        status=resolve.OPEN,
        resolved_by=None,
        resolved_at=None,
        detail={
            k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
            for k, v in finding.detail
        },
    )
