"""Live findings: what is late as of now (quantities, costs, deadlines, closings owed).

Quantities and costs are worked out per kabupaten, read for all the kabupaten of a page at
once: each kind of row (kecamatan counters, costs, names) is read in one statement for all
of them, so the number of statements does not grow with the number of kabupaten. Answers
are cached per kabupaten (in the process and in Redis) under what they depend on.
Deadlines (items waiting on each leg, ``app.custody.waiting``) and closings owed
(``app.custody.closings``) are counted from an area's own counters (:func:`counted_now`)
and listed a page at a time (:func:`listed_now`).
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app import cache
from app.custody import closings, counts, quantities, rules, waiting
from app.custody.names import PlaceNames
from app.plan import codes
from app.plan import service as plan_service
from app.plan.models import Election, Region

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


def live_findings(
    session: Session, election: Election, area: str, now: datetime
) -> list[dict[str, Any]]:
    """Quantity, deadline and cost findings of the kabupaten under ``area`` as of ``now``."""
    kabupaten = kabupaten_under(session, area)
    # What a live finding depends on: the kabupaten's counters (scans, closings filed:
    # closed:<race>, quantities), costs and budgets, and the minute. One read for all.
    own = counts.read(session, [*kabupaten, *(counts.OWN + kab for kab in kabupaten)])
    minute = now.replace(second=0, microsecond=0)
    url = str(session.get_bind().url)
    answers: dict[str, list[dict[str, Any]]] = {}
    missing: dict[str, tuple[tuple[str, str], Any, str]] = {}
    for kab in kabupaten:
        key = (url, kab)
        version = (
            sorted(own.get(kab, Counter()).items()),
            own.get(counts.OWN + kab, Counter())["costs_version"],
            minute,
        )
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
    (deadlines and closings owed are counted and listed apart: :func:`counted_now`,
    :func:`listed_now`)."""
    now = now.replace(second=0, microsecond=0)
    kecamatan: dict[str, list[str]] = {kab: [] for kab in kabs}
    for code, parent in session.execute(
        select(Region.code, Region.parent_code).where(Region.parent_code.in_(kabs))
    ):
        kecamatan[str(parent)].append(code)
    money = plan_service.leg_costs_many(session, election.code, kabs)
    quantities.ensure_many(session, election, kabs)  # older counters: checked once
    not_issued = quantities.not_issued_many(session, kecamatan)
    found: dict[str, tuple[rules.Finding, ...]] = {}
    for kab in kabs:
        found[kab] = rules.check_costs(*money[kab]) + tuple(not_issued[kab])
    names = PlaceNames(session)
    names.preload(kab for kab in kabs if found[kab])
    return {kab: shown(names, kab, found[kab], now) for kab in kabs}


def counted_now(
    session: Session, election: Election, rows: Mapping[str, Mapping[str, int]], now: datetime
) -> dict[str, Counter[tuple[str, str, str]]]:
    """Per region of ``rows`` (its counters; a kabupaten or below, or a province whose
    kabupaten's rows are read here): deadline and quantity findings and TPS owing a closing
    at ``now``, per (principle, severity, code)."""
    provinces = [code for code in rows if "." not in code and not codes.TPS_ID.match(code)]
    kabs = {codes.kabkota_of(code) for code in rows if code not in provinces}
    below = {p: kabupaten_under(session, p) for p in provinces}
    kab_rows = counts.read(session, [k for ks in below.values() for k in ks])
    deadlines = closings.deadlines(
        session, election, kabs | {k for ks in below.values() for k in ks}
    )
    result: dict[str, Counter[tuple[str, str, str]]] = {}
    for code, have in rows.items():
        found: Counter[tuple[str, str, str]] = Counter()
        for (kind, level), n in rules.counts_at(have, now).items():
            found[(rules.CODES[kind].value, level.value, str(kind))] += n
        for (kind, level), n in quantities.counted(have, now).items():
            found[(_principle(kind), level, kind)] += n
        if code in below:
            owing = sum(
                closings.owing(kab_rows.get(k, Counter()), deadlines.get(k), now)
                for k in below[code]
            )
        else:
            owing = closings.owing(have, deadlines.get(codes.kabkota_of(code)), now)
        if owing:
            found[(CLOSING[0], CLOSING[1], rules.CLOSING_MISSING)] += owing
        result[code] = found
    return result


def _principle(code: str) -> str:
    try:
        return rules.CODES[rules.Code(code)].value
    except (ValueError, KeyError):
        return "jumlah"


#: The principle and severity of a TPS owing its closing (``rules.check_closings_missing``).
CLOSING = ("akuntabilitas", "warning")
#: Which findings a list keeps: (principle, severity, code) -> keep it.
Keep = Callable[[str, str, str], bool]


def listed_now(
    session: Session,
    election: Election,
    area: str,
    have: Mapping[str, int],
    now: datetime,
    limit: int | None,
    keep: Keep | None = None,
) -> list[dict[str, Any]]:
    """The first page of deadline findings (critical first), then the first destinations
    short or over, then TPS owing a closing, in ``area`` at ``now``: at most ``limit``
    (None: all); only the (principle, severity, code) ``keep`` keeps."""

    def deadlines_kept(kind: rules.Code, level: rules.Severity) -> bool:
        return keep is None or keep(rules.CODES[kind].value, level.value, str(kind))

    found = deadline_findings(session, area, have, now, limit, deadlines_kept)
    kabs = kabupaten_under(session, area)
    room = None if limit is None else limit - len(found)
    if room is None or room > 0:
        short = quantities.listed(session, election, area, kabs, now, room)
        short = [
            (kab, f)
            for kab, f in short
            if keep is None or keep(f.principle.value, f.severity.value, str(f.code))
        ]
        found += _named(session, short, now)
    room = None if limit is None else limit - len(found)
    if (room is None or room > 0) and (keep is None or keep(*CLOSING, rules.CLOSING_MISSING)):
        owed = closings.listed(
            session, election, area, closings.deadlines(session, election, kabs), now, room
        )
        found += _named(session, owed, now)
    return found if limit is None else found[:limit]


def _named(
    session: Session, found: list[tuple[str, rules.Finding]], now: datetime
) -> list[dict[str, Any]]:
    """Findings of a page as shown, their places named (one read of names for all)."""
    if not found:
        return []
    names = PlaceNames(session)
    names.preload({kab for kab, _ in found})
    return [shown(names, kab, (f,), now)[0] for kab, f in found]


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
