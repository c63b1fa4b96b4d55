"""The desk's way back: where the closed boxes are, and the reconciliation per TPS.

Two reads, chosen by the size of the area (``per_tps``):

- a desa or a TPS (and one kecamatan's download): the ballot boxes destined for its TPS
  (their state rows), the latest closing record per TPS and race, the TPS tallies, the
  SURAT plan lines and the scans of the closed boxes, handed to the pure reconciliation
  rules (``way_back``);
- a kecamatan, kabupaten, province or the country: the counters kept on ingest and filing,
  per child region (``way_back_rollup``), a read whose size does not grow with the TPS.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from app.closing.models import ClosingRecord
from app.closing.service import latest_closings
from app.custody import codec, counts, overview, rules
from app.custody.models import CustodyEvent, ItemStateRow, TpsTallyRow
from app.custody.names import PlaceNames
from app.desk import exports
from app.items.models import Item
from app.plan import codes
from app.plan.models import Election, PlanLine, Region, RegionLevel, Tps
from app.plan.service import races_at
from app.words import local_time

#: The way back, in order: not yet closed, closed at the TPS, on the road, at the PPS,
#: at the PPK (recapitulation), back at the KPU warehouse.
STAGES = ("belum_ditutup", "ditutup", "jalan", "di_pps", "di_ppk", "di_gudang")
#: Reconciliation per TPS: no closing yet for some race, all fine, notes only, to resolve.
STATUSES = ("belum", "cocok", "catatan", "selisih")
_CHUNK = 900  # below SQLite's bound-parameter limit


def per_tps(area: str) -> bool:
    """Whether the way back of ``area`` is read per TPS: a desa or a TPS (a few TPS)."""
    return bool(codes.TPS_ID.match(area)) or area.count(".") == 3


def downloadable(area: str) -> bool:
    """Whether the per-TPS reconciliation table may be built for ``area``: one kecamatan
    (the PPK's recapitulation meeting) or less."""
    return bool(codes.TPS_ID.match(area)) or area.count(".") >= 2


def tps_prefix(area: str) -> str:
    """The TPS-id prefix of a region code (``62.10.03`` -> ``621003``); a TPS is itself."""
    return area if codes.TPS_ID.match(area) else area.replace(".", "")


def child_of(area: str, tps: str) -> str:
    """The child of ``area`` on the way down to ``tps`` (the TPS itself below a desa)."""
    if codes.TPS_ID.match(area):
        return tps
    desa = codes.desa_of_tps(tps)
    parts = desa.split(".")
    depth = area.count(".") + 2
    return tps if depth > 4 else ".".join(parts[:depth])


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(values))
    for start in range(0, len(ordered), _CHUNK):
        yield ordered[start : start + _CHUNK]


def _stage(stage: str | None, holder: str | None, closed: bool) -> str:
    if stage == "kembali_jalan":
        return "jalan"
    if stage == "kembali" and holder:
        kind = codes.node_kind(holder).value
        return {"pps": "di_pps", "ppk": "di_ppk", "gudang": "di_gudang"}.get(kind, "ditutup")
    return "ditutup" if closed else "belum_ditutup"


@dataclass
class TpsReconciliation:
    """One TPS: its races, the closing per race, the findings and the status."""

    tps: str
    races: list[str]
    sheets: dict[str, ClosingRecord] = field(default_factory=dict)
    arrived: dict[str, int | None] = field(default_factory=dict)
    findings: list[rules.Finding] = field(default_factory=list)

    @property
    def status(self) -> str:
        """``belum`` until every race is closed, then the rules' verdict."""
        if any(race not in self.sheets for race in self.races):
            return "belum"
        return rules.recon_status(self.findings)


@dataclass
class WayBack:
    """Everything the way-back page and its download show for one area."""

    area: str
    stages: Counter[str]
    children: list[dict[str, Any]]
    tps: list[TpsReconciliation]

    def statuses(self) -> Counter[str]:
        """TPS per reconciliation status."""
        return Counter(t.status for t in self.tps)


def way_back(session: Session, election: Election, area: str) -> WayBack:
    """The boxes per way-back stage and the reconciliation of every TPS in ``area``."""
    prefix = tps_prefix(area)
    tps_rows = list(
        session.execute(
            select(Tps.id, Tps.desa_code, Tps.dpt, Tps.dptb)
            .where(Tps.id.like(prefix + "%"))
            .order_by(Tps.id)
        )
    )
    tps_ids = [t.id for t in tps_rows]
    closings = latest_closings(session, election.code, tps_ids)
    boxes = list(
        session.execute(
            select(
                Item.serial,
                Item.destination,
                Item.race_kind,
                ItemStateRow.stage,
                ItemStateRow.holder,
            )
            .outerjoin(ItemStateRow, ItemStateRow.serial == Item.serial)
            .where(
                Item.destination.like(prefix + "%"),
                Item.item_type_code == "KOTAK",
                Item.voided_at.is_(None),
            )
        )
    )
    stages: Counter[str] = Counter()
    per_child: dict[str, Counter[str]] = defaultdict(Counter)
    for box in boxes:
        closed = (box.destination, box.race_kind) in closings
        stage = _stage(box.stage, box.holder, closed)
        stages[stage] += 1
        per_child[child_of(area, box.destination)][stage] += 1

    registered = {t.id: t.dpt + t.dptb for t in tps_rows}
    planned: dict[tuple[str, str], int] = {}
    tallies: dict[str, rules.TpsTally] = {}
    for chunk in _chunks(tps_ids):
        for line in session.execute(
            select(PlanLine.destination, PlanLine.race_kind, PlanLine.quantity).where(
                PlanLine.election_code == election.code,
                PlanLine.item_type_code == "SURAT",
                PlanLine.destination.in_(chunk),
            )
        ):
            planned[(line.destination, line.race_kind)] = line.quantity
        for row in session.scalars(select(TpsTallyRow).where(TpsTallyRow.tps.in_(chunk))):
            tallies[row.tps] = codec.tally_from_dict(row.tps, row.tally)
    handovers = _handovers(session, [c.box_serial for c in closings.values() if c.box_serial])

    reconciled: list[TpsReconciliation] = []
    for t in tps_rows:
        entry = TpsReconciliation(
            t.id, sorted(r.kind.value for r in races_at(election, t.desa_code))
        )
        tally = tallies.get(t.id)
        for race in entry.races:
            sheet = closings.get((t.id, race))
            received = (
                tally.delivered.get((rules.ItemType.SURAT, rules.Race(race))) if tally else None
            )
            entry.arrived[race] = received
            if sheet is None:
                continue
            entry.sheets[race] = sheet
            ballots = rules.TpsBallots(
                t.id,
                registered=registered[t.id],
                reserve=max(0, planned.get((t.id, race), registered[t.id]) - registered[t.id]),
                arrived=received,
            )
            entry.findings += rules.reconcile(
                _sheet(sheet), ballots, handovers.get(sheet.box_serial or "", ())
            )
        reconciled.append(entry)

    by_child_status: dict[str, Counter[str]] = defaultdict(Counter)
    for entry in reconciled:
        by_child_status[child_of(area, entry.tps)][entry.status] += 1
    names = PlaceNames(session)
    children = [
        {
            "code": code,
            "name": area_label(names, code),
            "stages": per_child.get(code, Counter()),
            "statuses": by_child_status.get(code, Counter()),
        }
        for code in sorted(set(per_child) | set(by_child_status))
    ]
    return WayBack(area, stages, children, reconciled)


@dataclass
class WayBackRollup:
    """The way back of a kecamatan, kabupaten, province or the country, per child region:
    ballot boxes per stage, closing records filed per race and open reconciliation
    findings, all from the counters kept on ingest and filing (``app.custody.counts``)."""

    area: str
    totals: dict[str, Any]
    children: list[dict[str, Any]]


#: Reconciliation findings (stored when a closing record is filed), by code.
RECON_CODES = frozenset(str(c) for c in rules.ReconCode)


def way_back_rollup(session: Session, area: str) -> WayBackRollup:
    """Boxes per way-back stage, closings and reconciliation findings of an area per child
    region (the country per province ... a kecamatan per desa): a bounded read of counters."""
    level = (
        Region.level == RegionLevel.PROVINSI
        if area == codes.NATIONAL
        else Region.parent_code == area
    )
    children = dict(session.execute(select(Region.code, Region.name).where(level)).all())
    if area != codes.NATIONAL:  # kabupaten counted before the counters knew the way back
        overview.ensure_counted(session, area)
    have = counts.read(session, list(children))
    if area.count(".") == 1:  # a kabupaten's children are its kecamatan
        children = {code: f"Kecamatan {name}" for code, name in children.items()}
    rows = [
        {"code": code, "name": name, **_return_counts(have.get(code, Counter()))}
        for code, name in sorted(children.items())
    ]
    totals = _return_counts(sum((have.get(c, Counter()) for c in children), Counter()))
    return WayBackRollup(area, totals, rows)


def rollup_as_json(view: WayBackRollup) -> dict[str, Any]:
    """The rolled-up way back for the API: totals and one entry per child region."""

    def plain(counted: dict[str, Any]) -> dict[str, Any]:
        return {**counted, "stages": dict(counted["stages"])}

    return {
        "area": view.area,
        **plain(view.totals),
        "children": [plain(child) for child in view.children],
    }


def _return_counts(have: Counter[str]) -> dict[str, Any]:
    stages = Counter({s: have[f"kembali:{s}"] for s in counts.RETURN_STAGES})
    closed = {
        key.split(":", 1)[1]: n
        for key, n in sorted(have.items())
        if key.startswith("closed:") and n
    }
    recon = sum(
        n
        for key, n in have.items()
        if key.startswith("kind:") and n > 0 and key.rsplit(":", 1)[1] in RECON_CODES
    )
    return {"stages": stages, "closed": closed, "recon_findings": recon}


def area_label(names: PlaceNames, code: str) -> str:
    """A region or TPS as people name it."""
    if codes.TPS_ID.match(code):
        return names.node(code)
    if code.count(".") == 3:
        return names.desa(code)
    name = names.region_name(code) or code
    return f"Kecamatan {name}" if code.count(".") == 2 else name


def _sheet(row: ClosingRecord) -> rules.Sheet:
    return rules.Sheet(
        record_id=str(row.id),
        tps=row.tps,
        race=rules.Race(row.race_kind),
        received=row.received,
        used=row.used,
        invalid=row.invalid,
        spoiled=row.spoiled,
        unused=row.unused,
        voters_signed=row.voters_signed,
        closed_at=closed_at(row),
        reserve_drawn=row.reserve_drawn,
        reserve_note=row.reserve_note,
        seals=tuple(row.seals or ()),
        box=row.box_serial,
    )


def _handovers(session: Session, serials: Sequence[str]) -> dict[str, list[rules.Handover]]:
    """The scans of the closed boxes, in receipt order."""
    found: dict[str, list[rules.Handover]] = defaultdict(list)
    for chunk in _chunks(serials):
        for event in session.execute(
            select(
                CustodyEvent.event_id,
                CustodyEvent.serial,
                CustodyEvent.action,
                CustodyEvent.node,
                CustodyEvent.device_time,
                CustodyEvent.server_time,
                CustodyEvent.seals,
            )
            .where(CustodyEvent.serial.in_(chunk))
            .order_by(CustodyEvent.server_time, CustodyEvent.item_seq)
        ):
            if event.action not in rules.Action._value2member_map_:
                continue
            found[event.serial].append(
                rules.Handover(
                    str(event.event_id),
                    rules.Action(event.action),
                    event.node,
                    min(event.device_time, event.server_time),
                    tuple(event.seals or ()),
                )
            )
    return found


def closed_at(row: ClosingRecord) -> datetime:
    """When the KPPS closed (its device's time, never after the server received it)."""
    return min(row.device_time, row.recorded_at)


_SEVERITY = {"selisih": "critical", "catatan": "info", "belum": "warning", "cocok": "ok"}
_RANK = {"cocok": 0, "catatan": 1, "belum": 2, "selisih": 3}
_NUMBERS = ("received", "used", "invalid", "spoiled", "unused", "voters_signed", "reserve_drawn")


def status_words() -> dict[str, str]:
    """The reconciliation statuses as people read them."""
    return {
        "belum": _("Belum ditutup"),
        "cocok": _("Cocok"),
        "catatan": _("Ada catatan"),
        "selisih": _("Selisih"),
    }


def reconciliation_table(view: WayBack, names: PlaceNames, at: datetime) -> exports.Table:
    """Per TPS and race, grouped per kecamatan with its totals: for the recapitulation."""
    columns = [
        _("Kecamatan"),
        "TPS",
        _("Pemilihan"),
        _("Diterima (C.Hasil)"),
        _("Tiba (serah terima)"),
        _("Digunakan"),
        _("Tidak sah"),
        _("Rusak"),
        _("Sisa"),
        _("Selisih"),
        _("Hadir"),
        _("Cadangan dipakai"),
        _("Segel"),
        _("Status"),
        _("Temuan"),
    ]
    words = status_words()
    rows: list[list[Any]] = []
    severities: list[str | None] = []
    by_kecamatan: dict[str, list[TpsReconciliation]] = defaultdict(list)
    for entry in view.tps:
        by_kecamatan[codes.desa_of_tps(entry.tps).rsplit(".", 1)[0]].append(entry)
    for kecamatan in sorted(by_kecamatan):
        kec_name = area_label(names, kecamatan)
        totals: Counter[str] = Counter()
        arrived_total = 0
        worst = max((e.status for e in by_kecamatan[kecamatan]), key=_RANK.__getitem__)
        for entry in by_kecamatan[kecamatan]:
            for race in entry.races:
                sheet = entry.sheets.get(race)
                arrived = entry.arrived.get(race)
                arrived_total += arrived or 0
                messages = [
                    names.text(f.message)
                    for f in entry.findings
                    if dict(f.detail).get("race") == race
                ]
                if sheet is None:
                    rows.append(
                        [kec_name, names.node(entry.tps), race, "", arrived, "", "", "", "", "",
                         "", "", "", words["belum"], ""]
                    )  # fmt: skip
                    severities.append(_SEVERITY["belum"])
                    continue
                numbers = {name: getattr(sheet, name) for name in _NUMBERS}
                totals.update(numbers)
                difference = sheet.received - sheet.used - sheet.spoiled - sheet.unused
                race_status = rules.recon_status(
                    [f for f in entry.findings if dict(f.detail).get("race") == race]
                )
                rows.append(
                    [
                        kec_name,
                        names.node(entry.tps),
                        race,
                        sheet.received,
                        arrived,
                        sheet.used,
                        sheet.invalid,
                        sheet.spoiled,
                        sheet.unused,
                        difference,
                        sheet.voters_signed,
                        sheet.reserve_drawn,
                        ", ".join(sheet.seals or ()),
                        words[race_status],
                        "; ".join(messages),
                    ]
                )
                severities.append(_SEVERITY[race_status])
        rows.append(
            [
                _("Jumlah %(name)s", name=kec_name),
                f"{len(by_kecamatan[kecamatan])} TPS",
                "",
                totals["received"],
                arrived_total,
                totals["used"],
                totals["invalid"],
                totals["spoiled"],
                totals["unused"],
                totals["received"] - totals["used"] - totals["spoiled"] - totals["unused"],
                totals["voters_signed"],
                totals["reserve_drawn"],
                "",
                words[worst],
                "",
            ]
        )
        severities.append(_SEVERITY[worst])
    return exports.Table(
        title=_("Rekonsiliasi surat suara %(area)s", area=area_label(names, view.area)),
        subtitle=_("Keadaan per %(time)s", time=local_time(at, view.area)),
        columns=columns,
        rows=rows,
        severities=severities,
        widths=[10, 14, 4, 5, 5, 5, 4, 4, 4, 4, 4, 5, 8, 6, 22],
    )


def as_json(view: WayBack, names: PlaceNames) -> dict[str, Any]:
    """The way back of an area for the API: stages, statuses, every TPS, every finding."""
    return {
        "area": view.area,
        "stages": {stage: view.stages[stage] for stage in STAGES},
        "statuses": {status: view.statuses()[status] for status in STATUSES},
        "children": [
            {
                "code": child["code"],
                "name": child["name"],
                "stages": dict(child["stages"]),
                "statuses": dict(child["statuses"]),
            }
            for child in view.children
        ],
        "tps": [
            {
                "tps": entry.tps,
                "status": entry.status,
                "races": {
                    race: {
                        "arrived": entry.arrived.get(race),
                        "closing": None
                        if race not in entry.sheets
                        else {
                            "id": str(entry.sheets[race].id),
                            **{name: getattr(entry.sheets[race], name) for name in _NUMBERS},
                            "seals": list(entry.sheets[race].seals or ()),
                            "box": entry.sheets[race].box_serial,
                        },
                    }
                    for race in entry.races
                },
                "findings": [
                    {
                        "code": str(f.code),
                        "principle": f.principle.value,
                        "severity": f.severity.value,
                        "message": names.text(f.message),
                        "serial": f.serial,
                        "node": f.node,
                        "event_ids": list(f.event_ids),
                        "detail": dict(f.detail),
                    }
                    for f in entry.findings
                ],
            }
            for entry in view.tps
        ],
    }


def psu_reserve(session: Session, election: Election, kabkota: str) -> list[dict[str, Any]]:
    """The kabupaten's re-vote (PSU) reserve per race, kept apart from the TPS' 2.5 %.

    Planned at the gudang; what was issued for it and how much of that is still there
    (a PSU reserve bundle seen anywhere else is also an off-route finding of its own).
    """
    planned = {
        line.race_kind: line.quantity
        for line in session.execute(
            select(PlanLine.race_kind, PlanLine.quantity).where(
                PlanLine.election_code == election.code,
                PlanLine.destination == kabkota,
                PlanLine.item_type_code == "SURAT",
            )
        )
    }
    issued: Counter[str] = Counter()
    at_gudang: Counter[str] = Counter()
    # Grouped in the database: one row per race and place, however many bundles.
    home = and_(
        or_(ItemStateRow.holder.is_(None), ItemStateRow.holder == kabkota),
        ItemStateRow.transit_to.is_(None),
    )
    for race, at_home, quantity in session.execute(
        select(Item.race_kind, home, func.sum(Item.quantity))
        .outerjoin(ItemStateRow, ItemStateRow.serial == Item.serial)
        .where(
            Item.destination == kabkota,
            Item.item_type_code == "SURAT",
            Item.voided_at.is_(None),
        )
        .group_by(Item.race_kind, home)
    ):
        issued[race] += int(quantity or 0)
        if at_home:
            at_gudang[race] += int(quantity or 0)
    return [
        {
            "race": race,
            "planned": planned.get(race, 0),
            "issued": issued[race],
            "at_gudang": at_gudang[race],
            "away": issued[race] - at_gudang[race],
        }
        for race in sorted(set(planned) | set(issued))
    ]
