"""What the desk reads: region status, grouped findings, a TPS's items, an item's proof.

Built on the counters kept on ingest (``app.custody.overview``): no page reads every
item of its region. This module adds what only the desk needs: findings grouped per
event, the leg a finding belongs to, evidence links, the delivery curve, and the
recomputed hash chain of an item.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody import counts, overview, queries
from app.custody.models import CustodyEvent, ItemStateRow
from app.custody.names import PlaceNames
from app.custody.service import IDENTIFIED_BY
from app.items.models import Item
from app.plan import codes
from app.plan.models import Election, Region, Tps
from app.timeutil import parse_instant

PRINCIPLES = queries.PRINCIPLES
SEVERITIES = ("critical", "warning", "info")
#: The leg a finding belongs to, by the kind of node where it was seen.
LEGS = ("gudang", "ppk", "pps", "kpps")


def area_of(user: User) -> str:
    """The region the user oversees (a TPS-scoped user oversees that TPS)."""
    return user.scope_code


def area_exists(session: Session, code: str) -> bool:
    """Whether a region code or TPS id is in the plan."""
    model = Tps if codes.TPS_ID.match(code) else Region
    return session.get(model, code) is not None


def leg_of(finding: dict[str, Any]) -> str | None:
    """The leg of a finding: where it was seen (or the TPS it is about)."""
    place = finding.get("node") or finding.get("tps")
    if not place:
        return None
    try:
        return codes.node_kind(place).value
    except ValueError:
        return None


def _kabupaten_of(places: set[str]) -> set[str]:
    """The kabupaten of the places findings name (province or unknown codes left out)."""
    found = set()
    for place in places:
        try:
            kab = codes.kabkota_of(place)
        except ValueError:
            continue
        if kab.count(".") == 1:
            found.add(kab)
    return found


#: The stage line, in the order goods travel (in transit per leg); others follow.
STAGE_ORDER = (
    "gudang",
    "jalan:ppk",
    "ppk",
    "jalan:pps",
    "pps",
    "jalan:kpps",
    "kpps",
    "dibuka",
    "kembali_jalan",
    "kembali",
)


def stage_line(stages: dict[str, int]) -> list[tuple[str, int]]:
    """The stages in travel order with their counts (they add up to the items)."""
    known = [(s, stages[s]) for s in STAGE_ORDER if stages.get(s)]
    return known + sorted((s, n) for s, n in stages.items() if n and s not in STAGE_ORDER)


@dataclass
class DeskView:
    """One read of an area for a page, from the counters (never every item)."""

    session: Session
    election: Election
    now: datetime
    kab: str
    names: PlaceNames = field(init=False)

    def __post_init__(self) -> None:
        self.names = PlaceNames(self.session)
        self._summaries: dict[str, dict[str, Any]] = {}

    @classmethod
    def open(cls, session: Session, election: Election, area: str, now: datetime) -> DeskView:
        """A view of the area (a province, kabupaten, kecamatan, desa or TPS)."""
        kab = area if "." not in area and not codes.TPS_ID.match(area) else codes.kabkota_of(area)
        return cls(session, election, now, kab)

    def label(self, code: str) -> str:
        """A region or TPS as people name it: 'Kecamatan Tewah', 'Kelurahan Tewah', 'TPS 003'."""
        if codes.TPS_ID.match(code):
            return self.names.node(code)
        level = code.count(".")
        if level == 3:
            return self.names.desa(code)
        name = self.names.region_name(code) or code
        return f"Kecamatan {name}" if level == 2 else name

    def child_regions(self, area: str) -> list[dict[str, str]]:
        """The regions one level below ``area`` (for the region filter)."""
        if codes.TPS_ID.match(area) or area.count(".") >= 3:
            return []
        parent = (
            Region.parent_code.is_(None) if area == codes.NATIONAL else (Region.parent_code == area)
        )
        rows = dict(
            self.session.execute(
                select(Region.code, Region.name).where(parent).order_by(Region.code)
            ).all()
        )
        self.names.remember(rows)  # a province's kabupaten: not a read of each one's regions
        return [{"code": code, "name": self.label(code)} for code in rows]

    def summary(self, area: str) -> dict[str, Any]:
        """Status per child region; a TPS: its own row, counting every finding about it."""
        if area in self._summaries:
            return self._summaries[area]
        if codes.TPS_ID.match(area):
            desa = overview.region_summary(
                self.session, self.election, codes.desa_of_tps(area), self.now
            )
            row = next((r for r in desa["children"] if r["code"] == area), None)
            row = row or {"code": area, "tps": 1, "items": 0, "delivered": 0, "stages": {}}
            # Everything about this TPS, wherever seen (its kit overdue at the PPK too).
            principles: dict[str, dict[str, Any]] = {
                p: {"count": 0, "worst": None} for p in PRINCIPLES
            }
            for finding in self.findings(area):
                entry = principles.get(finding["principle"])
                if entry is None:
                    continue
                entry["count"] += int(finding.get("count", 1))
                if entry["worst"] is None or (
                    queries.SEVERITY_RANK[finding["severity"]]
                    > queries.SEVERITY_RANK[entry["worst"]]
                ):
                    entry["worst"] = finding["severity"]
            summary = {
                "region": area,
                "name": self.names.node(area),
                "tps": row["tps"],
                "tps_complete": row.get("tps_complete", 0),
                "items": row["items"],
                "delivered": row["delivered"],
                "principles": principles,
                "children": [],
                "stages": row["stages"],
                "statuses": row.get("statuses", {}),
            }
        else:
            summary = overview.region_summary(self.session, self.election, area, self.now)
            for child in summary["children"]:
                if codes.TPS_ID.match(child["code"]):
                    child["name"] = self.names.node(child["code"])
        summary["stage_line"] = stage_line(summary["stages"])
        summary["identified"] = self.identified(area)
        self._summaries[area] = summary
        return summary

    def identified(self, area: str) -> dict[str, int]:
        """Scans in the area by how they identified the item: one read of the counters."""
        wanted = [f"identified:{kind}" for kind in IDENTIFIED_BY]
        counted = counts.read(self.session, [area], wanted).get(area, Counter())
        return {kind: counted[f"identified:{kind}"] for kind in IDENTIFIED_BY}

    def findings(
        self,
        area: str,
        *,
        principle: str | None = None,
        severity: str | None = None,
        code: str | None = None,
        leg: str | None = None,
        cursor: str | None = None,
        limit: int = overview.PAGE,
    ) -> list[dict[str, Any]]:
        """One page of findings inside the area (a TPS: about or at that TPS), filtered."""
        page = self.findings_page(
            area, principle=principle, severity=severity, code=code, cursor=cursor, limit=limit
        )
        rows = page["findings"]
        if leg:
            rows = [f for f in rows if leg_of(f) == leg]
        return rows

    def findings_page(self, area: str, **filters: Any) -> dict[str, Any]:
        """A page of findings with the counts per group and the cursor of the next page."""
        return overview.findings_page(self.session, self.election, area, self.now, **filters)

    def groups(self, findings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """One row per kind of finding at one place with one message.

        A late kit raises one finding per item inside it, all from one scan and with one
        message: they make one row, with the count. Identical findings from several scans
        at the same place (five cartons of another region's ballots) make one row too.
        """
        groups: dict[tuple[Any, ...], dict[str, Any]] = {}
        places = {f.get("node") or f.get("tps") or f.get("region") or "" for f in findings}
        self.names.preload(_kabupaten_of(places))  # one read for a province's page
        for finding in findings:
            place = finding.get("node") or finding.get("tps") or finding.get("region") or ""
            key = (str(finding["code"]), place, finding["message"])
            group = groups.get(key)
            if group is None:
                group = groups[key] = {
                    "code": str(finding["code"]),
                    "principle": finding["principle"],
                    "severity": finding["severity"],
                    "message": finding["message"],
                    "count": 0,
                    "serials": [],
                    "event_ids": [],
                    "place": place,
                    "place_name": self.names.node(place) if place else "",
                    "link_area": place
                    if codes.TPS_ID.match(place)
                    else (finding.get("region") or place),
                    "region": finding.get("region") or "",
                    "tps": finding.get("tps"),
                    "leg": leg_of(finding),
                    "live": finding.get("live", False),
                    "at": parse_instant(finding["created_at"]),
                }
            group["count"] += int(finding.get("count", 1))
            if finding.get("serial"):
                group["serials"].append(finding["serial"])
            for event_id in finding.get("event_ids") or ():
                if event_id and event_id not in group["event_ids"]:
                    group["event_ids"].append(event_id)
        rows = list(groups.values())
        self._add_evidence(rows)
        return rows

    def _add_evidence(self, rows: list[dict[str, Any]]) -> None:
        """Link each row to the scan that proves it: that item's timeline, at that event."""
        wanted = {uuid.UUID(r["event_ids"][0]) for r in rows if r["event_ids"]}
        events: dict[str, tuple[str, datetime]] = {}
        if wanted:
            for event_id, serial, at in self.session.execute(
                select(CustodyEvent.event_id, CustodyEvent.serial, CustodyEvent.server_time).where(
                    CustodyEvent.event_id.in_(wanted)
                )
            ):
                events[str(event_id)] = (serial, at)
        for row in rows:
            event = events.get(row["event_ids"][0]) if row["event_ids"] else None
            row["evidence_serial"] = (
                event[0] if event else (row["serials"][0] if row["serials"] else None)
            )
            row["evidence_event"] = row["event_ids"][0] if event else None
            if event and not row["live"]:
                row["at"] = event[1]  # when it happened, not when the row was written

    def tps_items(self, tps: str) -> list[dict[str, Any]]:
        """The items destined for a TPS with where each one is now."""
        items = list(self.session.scalars(select(Item).where(Item.destination == tps)))
        states = {
            r.serial: r
            for r in self.session.scalars(
                select(ItemStateRow).where(
                    ItemStateRow.serial.in_([i.serial for i in items])  # one TPS: dozens
                )
            )
        }
        rows = []
        for item in sorted(
            items,
            key=lambda i: (i.item_type_code != "KIT", i.item_type_code, i.race_kind, i.serial),
        ):
            state = states.get(item.serial)
            rows.append(
                {
                    "serial": item.serial,
                    "display": labels.format_serial(item.serial),
                    "what": self.names.what(item),
                    "quantity": item.quantity,
                    "stage": state.stage if state else "gudang",
                    "holder": self.names.node(state.holder)
                    if state and state.holder
                    else self.names.node(codes.kabkota_of(tps)),
                    "condition": state.state.get("condition", "baik") if state else "baik",
                    "voided": item.voided_at is not None,
                }
            )
        return rows

    def curve(self, area: str, zone: str) -> dict[str, Any]:
        """Receipts per hour and the share of items delivered to their TPS, for the chart."""
        from zoneinfo import ZoneInfo

        local = ZoneInfo(zone)
        # Per UTC hour: receipts, receipts at a TPS, items delivered (counters of the area).
        hours: dict[datetime, dict[str, int]] = {}
        per_hour: dict[datetime, int] = {}
        for key, n in counts.read(self.session, [area]).get(area, Counter()).items():
            kind, _, hour = key.partition(":")
            if kind not in ("terima", "terima_tps", "delivered") or not hour or not n:
                continue
            moment = datetime.fromisoformat(hour + ":00+00:00").astimezone(local)
            if kind == "delivered":
                per_hour[moment] = n
            else:
                point = hours.setdefault(moment, {"receipts": 0, "at_tps": 0})
                point["receipts" if kind == "terima" else "at_tps"] += n
        total = self.summary(area)["items"]
        delivered = sorted(per_hour)
        now = self.now.astimezone(local).replace(minute=0, second=0, microsecond=0)
        starts = list(hours) + delivered[:1]
        start = min(starts).replace(minute=0, second=0, microsecond=0) if starts else now
        start = max(start, now - timedelta(days=10))  # a stray early scan: keep it readable
        points = []
        cursor, done, index = start, 0, 0
        while cursor <= now:
            while index < len(delivered) and delivered[index] < cursor + timedelta(hours=1):
                done += per_hour[delivered[index]]
                index += 1
            point = hours.get(cursor, {"receipts": 0, "at_tps": 0})
            points.append({"hour": cursor, **point, "delivered": done})
            cursor += timedelta(hours=1)
        return {"points": points, "total": total}
