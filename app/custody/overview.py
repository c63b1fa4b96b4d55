"""Region overviews at any size, from the counters kept on ingest (``app.custody.counts``).

Nothing here reads every item of a region. The summary of a province, kabupaten,
kecamatan or desa reads the counters of the area and its children; the live findings
(quantities, deadlines, costs) are computed per kabupaten from what can still be late -
containers and loose items on the way, one stand-in per destination for what has not left
the gudang (with the number of items it stands for) - and the TPS tallies; stored findings
are read a page at a time with a cursor.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.custody import closings, counts, live, quantities, rules
from app.custody.live import counted_now, kabupaten_under, listed_now, live_findings
from app.custody.models import FindingRow
from app.custody.planview import clear_cache as clear_plans
from app.errors import ValidationFailed
from app.plan import codes
from app.plan.models import Election, Region, RegionLevel, Tps

PRINCIPLES = ("jenis", "jumlah", "kualitas", "waktu", "sasaran", "biaya", "akuntabilitas")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}
#: Findings per page (API and desk); a page never grows with the region.
PAGE = 100


def clear_caches(*, everything: bool = False) -> None:
    """Forget cached answers (tests and benchmarks measure cold reads); ``everything``:
    the pure plans too, as in a process that just started."""
    live.clear()
    if everything:
        clear_plans()


def _empty_principles() -> dict[str, dict[str, Any]]:
    return {p: {"count": 0, "worst": None} for p in PRINCIPLES}


def _note(entry: dict[str, Any], severity: str, n: int) -> None:
    if n <= 0:
        return
    entry["count"] += n
    if entry["worst"] is None or SEVERITY_RANK[severity] > SEVERITY_RANK[entry["worst"]]:
        entry["worst"] = severity


def ensure_counted(session: Session, area: str) -> None:
    """Count kabupaten issued before the counters existed (once; later ingest keeps them)."""
    kabupaten = kabupaten_under(session, area)
    done = counts.counted(session, kabupaten)
    for kab in kabupaten:
        if kab not in done:  # once per kabupaten (one with no labels yet: its plan only)
            counts.rebuild(session, kab)
            session.commit()


def child_codes(session: Session, area: str) -> list[str]:
    """The regions one level below ``area`` (a desa: its TPS)."""
    if codes.TPS_ID.match(area):
        return []
    if area.count(".") == 3:
        return list(session.scalars(select(Tps.id).where(Tps.desa_code == area).order_by(Tps.id)))
    return list(
        session.scalars(select(Region.code).where(Region.parent_code == area).order_by(Region.code))
    )


def tps_per_child(children: list[str], counters: dict[str, Counter[str]]) -> Counter[str]:
    """How many TPS of the plan each child region has (a TPS: one), from their counters
    (``closings.IN_PLAN``, kept at plan import)."""
    return Counter(
        {
            c: 1 if codes.TPS_ID.match(c) else counters.get(c, Counter())[closings.IN_PLAN]
            for c in children
        }
    )


def _child_of(area: str, place: str) -> str | None:
    """The child of ``area`` that contains ``place`` (a desa's child is a TPS)."""
    if codes.TPS_ID.match(area):
        return None
    if area.count(".") == 3:
        return place if codes.TPS_ID.match(place) and codes.within(place, area) else None
    try:
        region = codes.node_region(place)
    except ValueError:
        return None
    if not region.startswith(area + "."):
        return None
    return ".".join(region.split(".")[: area.count(".") + 2])


def region_summary(
    session: Session, election: Election, area: str, now: datetime
) -> dict[str, Any]:
    """Per child region: TPS, items by stage and status, delivered, complete TPS, findings."""
    ensure_counted(session, area)
    children = child_codes(session, area)
    counters = counts.read(session, [*children, area])
    counted = counted_now(
        session, election, {c: counters.get(c, Counter()) for c in [*children, area]}, now
    )
    tps = tps_per_child(children, counters)
    names = dict(
        session.execute(
            select(Region.code, Region.name).where(
                Region.code.in_([area, *[c for c in children if not codes.TPS_ID.match(c)]])
            )
        ).all()
    )
    rows = []
    for code in children:
        have = counters.get(code, Counter())
        name = names.get(code) or (f"TPS {code[-3:]}" if codes.TPS_ID.match(code) else code)
        rows.append(_row(code, name, tps.get(code, 0), have, counted[code]))
    by_code = {r["code"]: r for r in rows}
    # The area's own counters hold every stored finding placed in it or below, the items
    # waiting on each deadline and the TPS owing a closing: counted at ``now``.
    totals = _row(area, "", 0, counters.get(area, Counter()), counted[area])["principles"]
    for finding in live_findings(session, election, area, now):
        if not _in_area(finding, area):
            continue
        n = int(finding.get("count", 1))
        if finding["principle"] not in totals:
            continue
        _note(totals[finding["principle"]], finding["severity"], n)
        tps = finding.get("tps")
        target = _child_of(area, tps if tps and codes.within(tps, area) else finding["region"])
        if target in by_code:
            _note(by_code[target]["principles"][finding["principle"]], finding["severity"], n)
    return {
        "region": area,
        "name": names.get(area, area),
        "now": now.isoformat(),
        "tps": sum(r["tps"] for r in rows),
        "tps_complete": sum(r["tps_complete"] for r in rows),
        "items": sum(r["items"] for r in rows),
        "delivered": sum(r["delivered"] for r in rows),
        "stages": dict(sum((Counter(r["stages"]) for r in rows), Counter())),
        "races": _races(counters.get(area, Counter())),
        "statuses": dict(sum((Counter(r["statuses"]) for r in rows), Counter())),
        "principles": totals,
        "children": rows,
    }


def national_summary(session: Session, now: datetime) -> dict[str, Any]:
    """Per province: items by stage and status, delivered, complete TPS, stored findings.

    Reads only the provinces' own counters (38 regions), so its cost does not grow with the
    country: stored findings and deadlines (items waiting per deadline) come from them.
    Quantities, costs and closings owed depend on each kabupaten and are left to the
    province pages; TPS per province are not counted (no counter holds them).
    """
    provinces = dict(
        session.execute(
            select(Region.code, Region.name)
            .where(Region.level == RegionLevel.PROVINSI)
            .order_by(Region.code)
        ).all()
    )
    counters = counts.read(session, list(provinces))
    rows = [
        _row(code, name, 0, have, _deadlines(have, now))
        for code, name in provinces.items()
        for have in [counters.get(code, Counter())]
    ]
    totals = _empty_principles()
    for row in rows:
        for principle, entry in row["principles"].items():
            if entry["count"]:
                _note(totals[principle], entry["worst"], entry["count"])
    return {
        "region": codes.NATIONAL,
        "name": "Indonesia",
        "now": now.isoformat(),
        "tps_complete": sum(r["tps_complete"] for r in rows),
        "items": sum(r["items"] for r in rows),
        "delivered": sum(r["delivered"] for r in rows),
        "stages": dict(sum((Counter(r["stages"]) for r in rows), Counter())),
        "races": _races(sum((counters.get(c, Counter()) for c in provinces), Counter())),
        "statuses": dict(sum((Counter(r["statuses"]) for r in rows), Counter())),
        "principles": totals,
        "children": rows,
    }


def status_counts(session: Session, election: Election, area: str, now: datetime) -> dict[str, int]:
    """Items per ``rules.ItemStatus`` in an area as of ``now``, from its counters: the
    statuses before any deadline, the items delivered unconfirmed whose last leg's
    deadline passed moved to missing, and the planned destinations with no label."""
    ensure_counted(session, area)
    for kab in kabupaten_under(session, area):
        quantities.ensure(session, election, kab)
    have = counts.read(session, [area]).get(area, Counter())
    result = {status.value: have[f"status:{status.value}"] for status in rules.ItemStatus}
    overdue = quantities.unconfirmed_overdue(have, now)
    result[rules.ItemStatus.DELIVERED_UNCONFIRMED.value] -= overdue
    result[rules.ItemStatus.MISSING.value] += overdue
    result[rules.ItemStatus.NOT_ISSUED.value] = have["not_issued"]
    return result


def _deadlines(have: Counter[str], now: datetime) -> Counter[tuple[str, str, str]]:
    """Deadline findings per (principle, severity, code) at ``now`` from a region's row."""
    return Counter(
        {
            (rules.CODES[kind].value, level.value, str(kind)): n
            for (kind, level), n in rules.counts_at(have, now).items()
        }
    )


def _races(have: Counter[str]) -> dict[str, dict[str, int]]:
    """Items and delivered items per race in an area (a province: summed over its kabupaten)."""
    races: dict[str, dict[str, int]] = {}
    for key, n in have.items():
        kind, _, race = key.partition(":")
        if kind in ("race", "race_delivered") and n:
            entry = races.setdefault(race, {"items": 0, "delivered": 0})
            entry["items" if kind == "race" else "delivered"] += n
    return dict(sorted(races.items()))


def _row(
    code: str, name: str, tps: int, have: Counter[str], live: Counter[tuple[str, str, str]]
) -> dict[str, Any]:
    """A region's line: its counters, and the live findings counted at the moment."""
    principles = _empty_principles()
    for (principle, severity, _), n in live.items():
        if principle in principles:
            _note(principles[principle], severity, n)
    stages: dict[str, int] = {}
    statuses: dict[str, int] = {}
    for key, n in have.items():
        if not n:
            continue
        kind, _, rest = key.partition(":")
        if kind == "stage":
            stages[rest] = n
        elif kind == "status":
            statuses[rest] = n
        elif kind == "finding":
            principle, severity = rest.split(":")
            if principle in principles:
                _note(principles[principle], severity, n)
    return {
        "code": code,
        "name": name,
        "tps": tps,
        "tps_complete": have["tps_complete"],
        "items": have["items"],
        "delivered": have["delivered"],
        "stages": stages,
        "statuses": statuses,
        "races": _races(have),
        "principles": principles,
    }


# --- stored findings, a page at a time -------------------------------------------------


def _cursor_decode(cursor: str | None) -> tuple[datetime, uuid.UUID] | None:
    """The (created_at, id) a page ended at, or ValidationFailed for anything else."""
    if not cursor:
        return None
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor.encode()).decode())
        return datetime.fromisoformat(str(data[0])), uuid.UUID(str(data[1]))
    except (ValueError, TypeError, IndexError, KeyError, AttributeError):
        raise ValidationFailed("Kursor halaman tidak sah.") from None


def _cursor_encode(created_at: datetime, row_id: Any) -> str:
    return base64.urlsafe_b64encode(
        json.dumps([created_at.isoformat(), str(row_id)]).encode()
    ).decode()


def _area_filter(area: str) -> Any:
    """Stored findings placed in an area (a TPS: about it or seen there).

    Always narrowed by province (one partition on PostgreSQL), then by kabupaten, so the
    index (kabkota_code, created_at) serves the newest-first page of any area inside it."""
    return (FindingRow.province == codes.province_of(area)) & _within(area)


def _within(area: str) -> Any:
    if codes.TPS_ID.match(area):
        return (FindingRow.kabkota_code == codes.kabkota_of(area)) & (
            (FindingRow.tps == area) | (FindingRow.node == area)
        )
    if "." not in area:
        return FindingRow.kabkota_code.like(area + ".%")
    within = FindingRow.kabkota_code == codes.kabkota_of(area)
    if area.count(".") == 1:
        return within
    return within & ((FindingRow.region_code == area) | FindingRow.region_code.like(area + ".%"))


def _kinds(session: Session, area: str, where: list[Any], filters: dict[str, Any]) -> list[Any]:
    """Open findings per principle, severity and kind in the whole area: from the counters
    (a TPS, whose findings are counted at its desa: one small GROUP BY)."""
    if codes.TPS_ID.match(area):
        return [
            {"principle": p, "severity": s, "code": c, "count": n}
            for p, s, c, n in session.execute(
                select(FindingRow.principle, FindingRow.severity, FindingRow.code, func.count())
                .where(*where, FindingRow.status == "open")
                .group_by(FindingRow.principle, FindingRow.severity, FindingRow.code)
            )
        ]
    ensure_counted(session, area)
    kinds = []
    for key, n in counts.read(session, [area]).get(area, Counter()).items():
        if not key.startswith("kind:") or n <= 0:
            continue
        _, principle, severity, code = key.split(":", 3)
        wanted = {"principle": principle, "severity": severity, "code": code}
        if any(filters.get(k) and filters[k] != v for k, v in wanted.items()):
            continue
        kinds.append({**wanted, "count": n})
    return sorted(kinds, key=lambda k: (-k["count"], k["code"]))


def findings_page(
    session: Session,
    election: Election,
    area: str,
    now: datetime,
    *,
    principle: str | None = None,
    severity: str | None = None,
    code: str | None = None,
    cursor: str | None = None,
    limit: int = PAGE,
    live_limit: int | None = PAGE,
) -> dict[str, Any]:
    """One page of findings in an area, newest first, with counts per group.

    The first page also carries the most severe live findings (quantities, deadlines,
    costs: one per destination and kind, at most ``live_limit``; None: all, for
    downloads). ``groups`` counts the open findings per principle, severity and code in
    the whole area, stored (from the counters) and live.
    """
    if area == codes.NATIONAL:  # a country-wide list would read every province's findings
        raise ValidationFailed("Pilih provinsi untuk melihat daftar temuan.")
    if principle and principle not in PRINCIPLES:
        raise ValidationFailed("Prinsip tidak dikenal.")
    if severity and severity not in SEVERITY_RANK:
        raise ValidationFailed("Tingkat keparahan tidak dikenal.")
    limit = max(1, min(limit, 500))
    where = [_area_filter(area), FindingRow.status == "open"]  # resolved ones are history
    if principle:
        where.append(FindingRow.principle == principle)
    if severity:
        where.append(FindingRow.severity == severity)
    if code:
        where.append(FindingRow.code == code)
    groups = _kinds(
        session, area, where, {"principle": principle, "severity": severity, "code": code}
    )
    after = _cursor_decode(cursor)
    stmt = select(FindingRow).where(*where)
    if after is not None:
        moment, last = after
        # "<= moment" first: an index condition on (kabkota_code, created_at).
        stmt = stmt.where(
            FindingRow.created_at <= moment,
            (FindingRow.created_at < moment) | (FindingRow.id < last),
        )
    rows = list(
        session.scalars(
            stmt.order_by(FindingRow.created_at.desc(), FindingRow.id.desc()).limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    page = [_stored(r) for r in rows]

    def wanted(f: dict[str, Any]) -> bool:
        return (
            (not principle or f["principle"] == principle)
            and (not severity or f["severity"] == severity)
            and (not code or f["code"] == code)
        )

    live = [f for f in live_findings(session, election, area, now) if _in_area(f, area)]
    live = [f for f in live if wanted(f)]
    live_kinds: Counter[tuple[str, str, str]] = Counter()
    for f in live:
        live_kinds[(f["principle"], f["severity"], str(f["code"]))] += int(f.get("count", 1))
    # Deadlines and closings owed: counted from the area's counters, listed a page at a time.
    have = counts.read(session, [area]).get(area, Counter())

    def keep(p: str, s: str, c: str) -> bool:
        return wanted({"principle": p, "severity": s, "code": c})

    for key, n in counted_now(session, election, {area: have}, now)[area].items():
        if keep(*key):
            live_kinds[key] += n
    if after is None:
        live += listed_now(session, election, area, have, now, live_limit, keep)
    groups = sorted(
        groups
        + [
            {"principle": p, "severity": s, "code": c, "count": n, "live": True}
            for (p, s, c), n in live_kinds.items()
        ],
        key=lambda k: (-k["count"], k["code"]),
    )
    # The first page carries the most severe live findings (a page never grows with the
    # region: at most ``limit`` of them; the filters and the downloads reach the rest).
    shown: list[dict[str, Any]] = []
    if after is None:
        shown = sorted(live, key=lambda f: (-SEVERITY_RANK[f["severity"]], f["region"], f["id"]))
        shown = shown if live_limit is None else shown[:live_limit]
    # Most severe first; within a severity what scans proved (newest first), then live ones.
    combined = sorted(page + shown, key=lambda f: (-SEVERITY_RANK[f["severity"]], f["live"]))
    return {
        "findings": combined,
        "live": sum(n for (p, _, _), n in live_kinds.items()),
        "groups": groups,
        "count": sum(g["count"] for g in groups),
        "next": _cursor_encode(rows[-1].created_at, rows[-1].id) if more and rows else None,
    }


def _in_area(finding: dict[str, Any], area: str) -> bool:
    """A finding belongs to an area where it is placed (a TPS: about it or seen there)."""
    if codes.TPS_ID.match(area):
        return area in (finding.get("tps"), finding.get("node"))
    place = finding.get("region")
    return bool(place) and (place == area or codes.within(place, area))


def stored_finding(row: FindingRow) -> dict[str, Any]:
    """A stored finding as the API and the desk show it (the fields every view shares)."""
    return {
        "id": str(row.id),
        "code": row.code,
        "principle": row.principle,
        "severity": row.severity,
        "message": row.message,
        "serial": row.serial,
        "tps": row.tps,
        "node": row.node,
        "region": row.region_code,
        "event_ids": row.event_ids,
        "created_at": row.created_at.isoformat(),
        "live": False,
        "status": row.status,
    }


def _stored(row: FindingRow) -> dict[str, Any]:
    # One finding per container and cause says how many items it stands for.
    return stored_finding(row) | {"count": int((row.detail or {}).get("items") or 1)}
