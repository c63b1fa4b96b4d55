"""Live findings: what is late as of now (quantities, deadlines, costs, closings), per
kabupaten, read for all the kabupaten of a page at once.

A province's page asks for every kabupaten of the province: each kind of row (moving items,
kecamatan counters, legs, costs, return schedules, closings, names) is read in one statement
for all of them, so the number of statements does not grow with the number of kabupaten.
Answers are cached per kabupaten (in the process and in Redis) under what they depend on.
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter, defaultdict
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from app import cache
from app.closing.models import ClosingRecord
from app.custody import codec, counts, quantities, rules
from app.custody.chunks import chunked, rows_in, starting_with
from app.custody.models import ItemStateRow
from app.custody.names import PlaceNames
from app.custody.planview import ITEM_COLUMNS, partial_plans, to_rules_item
from app.items.models import Item
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
    """The live findings of each kabupaten, each kind of row read once for all of them."""
    now = now.replace(second=0, microsecond=0)
    # What can still be late: not inside a container, not delivered, not at the gudang.
    moving = session.execute(
        select(
            *ITEM_COLUMNS,
            ItemStateRow.state,
            ItemStateRow.kabkota_code.label("held_in"),
        )
        .join(ItemStateRow, ItemStateRow.serial == Item.serial)
        .where(
            ItemStateRow.kabkota_code.in_(kabs),
            ItemStateRow.container.is_(None),
            ItemStateRow.stage != "gudang",
            or_(
                ItemStateRow.holder.is_(None),
                ItemStateRow.holder != ItemStateRow.destination,
                ItemStateRow.transit_to.is_not(None),
                # A ballot box at its TPS still has the way back ahead (return deadlines).
                Item.item_type_code.in_(sorted(str(t) for t in rules.RETURNING_TYPES)),
            ),
            Item.voided_at.is_(None),
        )
    ).all()
    items: dict[str, dict[str, rules.Item]] = {kab: {} for kab in kabs}
    states: dict[str, dict[str, Any]] = {kab: {} for kab in kabs}
    for row in moving:
        items[row.held_in][row.serial] = to_rules_item(row)
        states[row.held_in][row.serial] = codec.state_from_dict(row.state)
    kecamatan: dict[str, list[str]] = {kab: [] for kab in kabs}
    for code, parent in session.execute(
        select(Region.code, Region.parent_code).where(Region.parent_code.in_(kabs))
    ):
        kecamatan[str(parent)].append(code)
    # The plan of what can be late only (not the kabupaten's: that grew with it).
    plans = partial_plans(
        session,
        election,
        {kab: {i.destination for i in items[kab].values()} for kab in kabs},
    )
    at_gudang, waiting = _waiting_deadlines(session, election, kecamatan, now)
    money = plan_service.leg_costs_many(session, election.code, kabs)
    counted = quantities.live_many(session, election, kecamatan, now)
    closings = _closings_missing(session, election, kabs, now)
    found: dict[str, tuple[rules.Finding, ...]] = {}
    for kab in kabs:
        found[kab] = (
            rules.check_costs(*money[kab])
            + tuple(counted[kab])
            + rules.check_deadlines(plans[kab], items[kab], states[kab], now)
            + at_gudang[kab]
            + rules.check_return_deadlines(plans[kab], items[kab], states[kab], now)
            + closings[kab]
        )
    names = PlaceNames(session)
    names.preload(kab for kab in kabs if found[kab])
    return {kab: _shown(names, kab, found[kab], waiting, now) for kab in kabs}


def _shown(
    names: PlaceNames,
    kab: str,
    found: tuple[rules.Finding, ...],
    waiting: dict[str, int],
    now: datetime,
) -> list[dict[str, Any]]:
    """The findings as the desk and the API show them (named places, stand-ins counted)."""
    said: dict[str, str] = {}  # the stand-ins of one PPK share their message
    result = []
    for finding in found:
        stand_in = (finding.serial or "").startswith("~")
        if finding.message not in said or finding.code == rules.Code.WRONG_TPS:
            said[finding.message] = names.humanize(finding, None).message
        place = finding.node or finding.tps or kab
        result.append(
            {
                "code": finding.code,
                "principle": finding.principle.value,
                "severity": finding.severity.value,
                "message": said[finding.message],
                "serial": None if stand_in else finding.serial,
                "tps": finding.tps,
                "node": finding.node,
                "event_ids": list(finding.event_ids),
                "count": waiting.get((finding.serial or "~")[1:], 1) if stand_in else 1,
                "id": "live-"
                + hashlib.sha1(
                    f"{finding.code}|{finding.serial or ''}|{place}".encode()
                ).hexdigest()[:16],
                "region": codes.node_region(place),
                "created_at": now.isoformat(),
                "live": True,
            }
        )
    return result


def _waiting_deadlines(
    session: Session, election: Election, kecamatan: dict[str, list[str]], now: datetime
) -> tuple[dict[str, tuple[rules.Finding, ...]], dict[str, int]]:
    """Per kabupaten, deadline findings of the goods still loose at the gudang, one
    stand-in per destination (``~<destination>``, for as many items as wait for it), and
    those counts.

    Everything at the gudang has the gudang -> PPK leg next: the rules check one stand-in
    per PPK (the kecamatan's ``loose_gudang`` counter) against that leg, and only a PPK
    with a finding reads its destinations to give each its copy. The cost follows the
    kecamatan and the findings given, not the TPS of the kabupaten."""
    found: dict[str, tuple[rules.Finding, ...]] = {kab: () for kab in kecamatan}
    loose = counts.read(session, [k for ks in kecamatan.values() for k in ks], ["loose_gudang"])
    waiting_ppk = {
        kab: sorted(k for k in ks if loose.get(k, Counter())["loose_gudang"] > 0)
        for kab, ks in kecamatan.items()
    }
    if not any(waiting_ppk.values()):
        return found, {}
    legs: dict[str, list[rules.Leg]] = defaultdict(list)
    for from_node, to_node, deadline in rows_in(
        session,
        select(RouteLeg.from_node, RouteLeg.to_node, RouteLeg.deadline_at).where(
            RouteLeg.election_code == election.code,
            RouteLeg.from_node.in_(sorted(kab for kab, ppk in waiting_ppk.items() if ppk)),
        ),
        RouteLeg.to_node,
        [ppk for ppks in waiting_ppk.values() for ppk in ppks],
    ):
        if to_node in waiting_ppk.get(from_node, ()):
            legs[from_node].append(rules.Leg(from_node, to_node, deadline))
    late: list[tuple[str, str, tuple[rules.Finding, ...]]] = []
    for kab, ppks in waiting_ppk.items():
        if not ppks:
            continue
        plan = rules.Plan(
            region=kab, races={p: frozenset() for p in ppks}, quantities={}, legs=tuple(legs[kab])
        )
        for ppk in ppks:
            stand_in = rules.Item(
                serial=f"~{ppk}",
                item_type=rules.ItemType.KIT,
                race=None,
                destination=ppk,  # the same first leg as every destination behind the PPK
                quantity=loose[ppk]["loose_gudang"],
                region=kab,
            )
            checked = rules.check_deadlines(plan, {stand_in.serial: stand_in}, {}, now)
            if checked:
                late.append((kab, ppk, checked))
    here = _loose_at_gudang(session, [ppk for _, ppk, _ in late])
    waiting: dict[str, int] = {}
    for kab, ppk, checked in late:
        waiting.update(here[ppk])
        found[kab] += tuple(
            replace(finding, serial=f"~{d}", tps=d)
            for finding in checked
            for d in sorted(here[ppk])
        )
    return found, waiting


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


def _loose_at_gudang(session: Session, kecamatan: list[str]) -> dict[str, dict[str, int]]:
    """Per kecamatan: its destinations (its TPS and the PPK itself) with items at the
    gudang not yet packed, and how many; one statement per ``RANGES`` kecamatan."""
    rows: list[tuple[str, int]] = []
    column = counts.RegionCount.region_code
    for chunk in chunked(kecamatan, RANGES):
        ranges = or_(*(starting_with(column, k.replace(".", "")) for k in chunk))
        rows += session.execute(
            select(column, counts.RegionCount.n).where(
                counts.RegionCount.metric == "loose_gudang",
                counts.RegionCount.n > 0,
                column.in_(chunk) | ranges,
            )
        ).all()
    flat = {k.replace(".", ""): k for k in kecamatan}
    tps_of: dict[str, dict[str, int]] = {k: {} for k in kecamatan}
    own: Counter[str] = Counter()
    for code, n in rows:
        if codes.TPS_ID.match(code):
            tps_of[flat[code[:6]]][code] = n
        elif code in tps_of:
            own[code] += n
    result = {}
    for kec, found in tps_of.items():
        # The kecamatan's counter adds up its TPS and the PPK's own (spare boxes).
        left = own[kec] - sum(found.values())
        result[kec] = {kec: left, **found} if left > 0 else found
    return result
