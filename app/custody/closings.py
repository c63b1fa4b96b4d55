"""TPS that still owe a closing record, counted: the way back's ``closing_missing``; and
the TPS of the plan per region (``tps``), which the summary shows per child.

Every TPS of the plan owes one closing record (C.Hasil numbers, seals) per race it holds.
Its own row ``=<tps>`` keeps how many it still owes (``belum_tutup``, set when the plan is
imported or the kabupaten recounted, one less at each race's first record), and every
region above counts the TPS that still owe any (``tps_belum_tutup``). Once a kabupaten's
KPPS return deadline has passed, the desk counts them from an area's row and lists them a
page at a time; nothing reads every TPS or every closing record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.custody import counts, rules
from app.custody.chunks import starting_with
from app.custody.models import RegionCount
from app.plan import codes
from app.plan import service as plan_service
from app.plan.models import Election, NodeKind, Tps
from app.timeutil import h_day, zone_for_region

OWED = "belum_tutup"
TPS_OWING = "tps_belum_tutup"
#: TPS of the plan (own row: 1), added up the regions.
IN_PLAN = "tps"
OWN = counts.OWN


def expect(session: Session, election: Election, kab: str) -> None:
    """Set what every TPS of the kabupaten owes: its races less those already closed
    (plan import and recount; reads the kabupaten's TPS once)."""
    owed: dict[str, int] = {}
    for tps, desa in session.execute(
        select(Tps.id, Tps.desa_code).where(starting_with(Tps.id, kab.replace(".", "")))
    ):
        owed[tps] = len(plan_service.races_at(election, desa))
    have: dict[str, Counter[str]] = {}
    for code, metric, n in session.execute(
        select(RegionCount.region_code, RegionCount.metric, RegionCount.n).where(
            starting_with(RegionCount.region_code, OWN + kab.replace(".", "")),
            RegionCount.metric.in_([OWED, IN_PLAN]) | RegionCount.metric.startswith("closed:"),
        )
    ):
        have.setdefault(code[len(OWN) :], Counter())[metric] += n
    deltas = counts.Deltas()
    for tps in sorted(set(owed) | set(have)):
        mine = have.get(tps, Counter())
        closed = sum(1 for m, n in mine.items() if m.startswith("closed:") and n > 0)
        now_owed = max(0, owed.get(tps, 0) - closed)
        was = mine[OWED]
        if now_owed != was:
            deltas.own[(OWN + tps, OWED)] += now_owed - was
        if (now_owed > 0) != (was > 0):
            deltas.add(tps, {TPS_OWING: 1 if now_owed > 0 else -1})
        # The TPS of the plan, counted at every region (the summary's TPS per child).
        planned = 1 if tps in owed else 0
        if planned != mine[IN_PLAN]:
            deltas.own[(OWN + tps, IN_PLAN)] += planned - mine[IN_PLAN]
            deltas.add(tps, {IN_PLAN: planned - mine[IN_PLAN]})
    deltas.write(session)


def closed(deltas: counts.Deltas, own: Counter[str], tps: str) -> None:
    """A TPS filed its first record for one more race (``own``: its own row, as read
    before; updated here, so several races of one TPS in a batch count right)."""
    if own[OWED] <= 0:
        return
    own[OWED] -= 1
    deltas.own[(OWN + tps, OWED)] -= 1
    if own[OWED] == 0:
        deltas.add(tps, {TPS_OWING: -1})


def deadlines(session: Session, election: Election, kabs: Iterable[str]) -> dict[str, datetime]:
    """When the boxes of each kabupaten must be at the PPS (the KPPS' return deadline)."""
    found = {}
    for kab, schedule in plan_service.return_schedules(session, election.code, kabs).items():
        offset, local = schedule[NodeKind.KPPS]
        found[kab] = h_day(election.election_day, offset, local, zone_for_region(kab))
    return found


def owing(have: Mapping[str, int], kab_deadline: datetime | None, now: datetime) -> int:
    """How many TPS of an area owe a closing at ``now`` (its row; its kabupaten's deadline)."""
    if kab_deadline is None or now <= kab_deadline:
        return 0
    return max(0, int(have.get(TPS_OWING, 0)))


def listed(
    session: Session,
    election: Election,
    area: str,
    kab_deadlines: Mapping[str, datetime],
    now: datetime,
    limit: int | None,
) -> list[tuple[str, rules.Finding]]:
    """(kabupaten, finding) of the TPS of ``area`` that owe a closing at ``now``, in code
    order, at most ``limit`` (None: all): one read of their own rows."""
    past = [kab for kab, deadline in sorted(kab_deadlines.items()) if now > deadline]
    found: list[tuple[str, rules.Finding]] = []
    for kab in past:
        if limit is not None and len(found) >= limit:
            break
        within = _within(area, kab)
        if within is None:
            continue
        stmt = (
            select(RegionCount.region_code)
            .where(RegionCount.metric == OWED, RegionCount.n > 0, within)
            .order_by(RegionCount.region_code)
        )
        if limit is not None:
            stmt = stmt.limit(limit - len(found))
        tps_ids = [code[len(OWN) :] for code in session.scalars(stmt)]
        if not tps_ids:
            continue
        closed_pairs = {
            (code[len(OWN) :], rules.Race(metric.split(":", 1)[1]))
            for code, metric in session.execute(
                select(RegionCount.region_code, RegionCount.metric).where(
                    RegionCount.region_code.in_([OWN + t for t in tps_ids]),
                    RegionCount.metric.startswith("closed:"),
                    RegionCount.n > 0,
                )
            )
        }
        races = {
            t: [
                rules.Race(r.kind.value)
                for r in plan_service.races_at(election, codes.desa_of_tps(t))
            ]
            for t in tps_ids
        }
        deadline = kab_deadlines[kab]
        found += [
            (kab, f) for f in rules.check_closings_missing(races, closed_pairs, deadline, now)
        ]
    return found


def _within(area: str, kab: str) -> Any:
    """The TPS own rows of ``kab`` inside ``area`` (None: none)."""
    column = RegionCount.region_code
    if codes.TPS_ID.match(area):
        return column == OWN + area if codes.kabkota_of(area) == kab else None
    if not (kab == area or codes.within(kab, area) or codes.within(area, kab)):
        return None
    inner = area if codes.within(area, kab) else kab
    return starting_with(column, OWN + inner.replace(".", ""))
