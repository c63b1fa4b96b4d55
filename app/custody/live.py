"""Live findings: what is late as of now (quantities, costs, closings, deadlines).

Quantities, costs and closings are worked out per kabupaten, read for all the kabupaten of
a page at once: each kind of row (kecamatan counters, costs, return schedules, closings,
names) is read in one statement for all of them, so the number of statements does not grow
with the number of kabupaten. Answers are cached per kabupaten (in the process and in
Redis) under what they depend on. Deadlines come from the counts of items waiting on each
leg (``app.custody.waiting``): their number per kind from an area's own counters, and the
late destinations a page at a time (:func:`deadline_findings`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import cache
from app.closing.models import ClosingRecord
from app.custody import counts, quantities, rules, waiting
from app.custody.chunks import starting_with
from app.custody.names import PlaceNames
from app.plan import codes
from app.plan import service as plan_service
from app.plan.models import Election, LegCost, NodeKind, Region, RouteLeg, Tps
from app.timeutil import h_day, zone_for_region

#: Kecamatan per statement when reading what waits at their gudang (ranges OR-ed).
RANGES = 200

_live: dict[tuple[str, str], tuple[Any, list[dict[str, Any]]]] = {}
_live_lock = threading.Lock()


def clear() -> None:
    """Forget the cached live findings of this process."""
    with _live_lock:
        _live.clear()


def kabupaten_under(session: Session, area: str) -> list[str]:
    """The kabupaten/kota an area lies in or covers (a province: all of its own)."""
    if codes.TPS_ID.match(area) or area.count(".") >= 1:
        return [codes.kabkota_of(area)]
    return list(
        session.scalars(select(Region.code).where(Region.parent_code == area).order_by(Region.code))
    )


def _costs_version(session: Session) -> tuple[Any, ...]:
    """Changes whenever a cost or a leg budget is recorded (anywhere: a few rows)."""
    return tuple(
        session.execute(
            select(
                select(func.count(LegCost.id)).scalar_subquery(),
                select(func.sum(RouteLeg.budget_idr)).scalar_subquery(),
            )
        ).one()
    )


def live_findings(
    session: Session, election: Election, area: str, now: datetime
) -> list[dict[str, Any]]:
    """Quantity, deadline and cost findings of the kabupaten under ``area`` as of ``now``."""
    kabupaten = kabupaten_under(session, area)
    # What a live finding depends on: the kabupaten's counters (scans, closings filed:
    # closed:<race>, quantities), costs and budgets, and the minute. One read for all.
    own = counts.read(session, kabupaten)
    costs = _costs_version(session)
    minute = now.replace(second=0, microsecond=0)
    url = str(session.get_bind().url)
    answers: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, tuple[tuple[str, str], Any, str]] = {}
    for kab in kabupaten:
        key = (url, kab)
        version = (sorted(own.get(kab, Counter()).items()), costs, minute)
        with _live_lock:
            hit = _live.get(key)
        if hit is not None and hit[0] == version:
            answers[kab] = hit[1]
            continue
        # Another server process may have computed it (Redis), else compute it here.
        shared_key = "live:" + hashlib.sha256(repr((key, version)).encode()).hexdigest()
        found = cache.get(shared_key)
        if found is None:
            missing[kab] = (key, version, shared_key)
            continue
        with _live_lock:
            _live[key] = (version, found)
        answers[kab] = found
    if missing:
        computed = _live_of(session, election, sorted(missing), now)
        for kab, (key, version, shared_key) in missing.items():
            cache.put(shared_key, computed[kab])
            with _live_lock:
                _live[key] = (version, computed[kab])
            answers[kab] = computed[kab]
    return [finding for kab in kabupaten for finding in answers[kab]]


def _live_of(
    session: Session, election: Election, kabs: list[str], now: datetime
) -> dict[str, list[dict[str, Any]]]:
    """The live findings of each kabupaten, each kind of row read once for all of them
    (deadlines are counted, not listed here: :func:`deadline_findings`)."""
    now = now.replace(second=0, microsecond=0)
    kecamatan: dict[str, list[str]] = {kab: [] for kab in kabs}
    for code, parent in session.execute(
        select(Region.code, Region.parent_code).where(Region.parent_code.in_(kabs))
    ):
        kecamatan[str(parent)].append(code)
    money = plan_service.leg_costs_many(session, election.code, kabs)
    counted = quantities.live_many(session, election, kecamatan, now)
    closings = _closings_missing(session, election, kabs, now)
    found: dict[str, tuple[rules.Finding, ...]] = {}
    for kab in kabs:
        found[kab] = rules.check_costs(*money[kab]) + tuple(counted[kab]) + closings[kab]
    names = PlaceNames(session)
    names.preload(kab for kab in kabs if found[kab])
    return {kab: shown(names, kab, found[kab], now) for kab in kabs}


def deadline_findings(
    session: Session,
    area: str,
    have: Mapping[str, int],
    now: datetime,
    limit: int | None,
    keep: waiting.Keep | None = None,
) -> list[dict[str, Any]]:
    """The destinations of ``area`` with items late or at risk at ``now``, one finding per
    destination, leg and kind with the number of items (critical first, at most
    ``limit``; None: all; only the kinds ``keep`` keeps). ``have``: the area's counters."""
    late = waiting.late_destinations(session, area, have, now, limit, keep)
    found: list[tuple[str, rules.Finding]] = []
    for destination, metric, n in late:
        leg = rules.parse(metric, destination)
        if leg is not None:
            found += [
                (destination, f) for f in rules.group_findings(leg, destination, n, now, keep=keep)
            ]
    if limit is not None:
        found = found[:limit]
    names = PlaceNames(session)
    names.preload({codes.kabkota_of(d) for d, _ in found})
    return [shown(names, codes.kabkota_of(d), (f,), now, destination=d)[0] for d, f in found]


def shown(
    names: PlaceNames,
    kab: str,
    found: tuple[rules.Finding, ...],
    now: datetime,
    destination: str | None = None,
) -> list[dict[str, Any]]:
    """The findings as the desk and the API show them (named places, items counted); a
    finding for the items of one ``destination`` is placed there."""
    said: dict[str, str] = {}  # findings of one place and kind share their message
    result = []
    for finding in found:
        if finding.message not in said or finding.code == rules.Code.WRONG_TPS:
            said[finding.message] = names.humanize(finding, None).message
        detail = dict(finding.detail)
        place = destination or finding.node or finding.tps or kab
        result.append(
            {
                "code": finding.code,
                "principle": finding.principle.value,
                "severity": finding.severity.value,
                "message": said[finding.message],
                "serial": finding.serial,
                "tps": finding.tps,
                "node": finding.node,
                "event_ids": list(finding.event_ids),
                "count": int(detail.get("items") or 1),
                "id": "live-"
                + hashlib.sha1(
                    f"{finding.code}|{finding.serial or ''}|{place}|{finding.node}".encode()
                ).hexdigest()[:16],
                "region": codes.node_region(place),
                "created_at": now.isoformat(),
                "live": True,
            }
        )
    return result


def _closings_missing(
    session: Session, election: Election, kabs: list[str], now: datetime
) -> dict[str, tuple[rules.Finding, ...]]:
    """Per kabupaten, TPS with no closing record once the KPPS return deadline passed."""
    found: dict[str, tuple[rules.Finding, ...]] = {kab: () for kab in kabs}
    deadlines = {}
    for kab, schedule in plan_service.return_schedules(session, election.code, kabs).items():
        offset, local = schedule[NodeKind.KPPS]
        deadlines[kab] = h_day(election.election_day, offset, local, zone_for_region(kab))
    past = [kab for kab in kabs if now > deadlines[kab]]
    if not past:
        return found
    races: dict[str, dict[str, list[rules.Race]]] = {kab: {} for kab in past}
    flat = {kab.replace(".", ""): kab for kab in past}
    for tps, desa in session.execute(
        # TPS ids are the desa code's digits: a range of the primary key per kabupaten.
        select(Tps.id, Tps.desa_code).where(or_(*(starting_with(Tps.id, f) for f in flat)))
    ):
        kab = flat[tps[:4]]
        races[kab][tps] = [rules.Race(r.kind.value) for r in plan_service.races_at(election, desa)]
    closed: dict[str, set[tuple[str, rules.Race]]] = {kab: set() for kab in past}
    for tps, race, kab in session.execute(
        select(ClosingRecord.tps, ClosingRecord.race_kind, ClosingRecord.kabkota_code)
        .where(
            ClosingRecord.election_code == election.code,
            ClosingRecord.kabkota_code.in_(past),
        )
        .distinct()
    ):
        closed[kab].add((tps, rules.Race(race)))
    for kab in past:
        found[kab] = rules.check_closings_missing(races[kab], closed[kab], deadlines[kab], now)
    return found
