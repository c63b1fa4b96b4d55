"""Plan use cases: load regions, import TPS lists, compute needs, build routes, export."""

from __future__ import annotations

import csv
import io
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import IO, Any

from sqlalchemy import column, delete, select, table
from sqlalchemy.orm import Session

from app.errors import NotFound, PlanImportError, RowError, ValidationFailed
from app.plan import codes
from app.plan.models import (
    CustodyNode,
    Election,
    ItemType,
    LegCost,
    NodeKind,
    PlanLine,
    Race,
    RaceKind,
    Region,
    RegionLevel,
    ReturnSchedule,
    RouteLeg,
    Tps,
    Unit,
)
from app.plan.needs import DEFAULT_RULES, NeedLine, QuantityRule, TpsFacts, compute_needs
from app.timeutil import h_day, zone_for_region

NODE_PREFIX = {
    NodeKind.GUDANG: "Gudang KPU",
    NodeKind.PPK: "PPK",
    NodeKind.PPS: "PPS",
    NodeKind.KPPS: "KPPS",
}


# --- regions -------------------------------------------------------------------------


def load_regions(session: Session, source: Path | IO[str], prefixes: Iterable[str] = ()) -> int:
    """Upsert regions from a ``kode,nama`` CSV (wilayah.csv); keep only ``prefixes`` if given."""
    wanted = tuple(prefixes)
    stream = source.open(encoding="utf-8") if isinstance(source, Path) else source
    try:
        rows = []
        for record in csv.DictReader(stream):
            code = (record.get("kode") or "").strip()
            if not code or not codes.REGION_CODE.match(code):
                continue
            if wanted and not any(
                code == p or code.startswith(p + ".") or p.startswith(code + ".") for p in wanted
            ):
                continue
            rows.append((code, (record.get("nama") or "").strip()))
    finally:
        if isinstance(source, Path):
            stream.close()
    existing = (
        {
            r.code: r
            for r in session.scalars(select(Region).where(Region.code.in_([c for c, _ in rows])))
        }
        if len(rows) < 5000
        else {r.code: r for r in session.scalars(select(Region))}
    )
    new = []
    for code, name in rows:
        region = existing.get(code)
        if region is None:
            new.append(
                {
                    "code": code,
                    "name": name,
                    "level": codes.region_level(code),
                    "parent_code": codes.region_parent(code),
                }
            )
        elif region.name != name:
            region.name = name
    if new:
        session.execute(Region.__table__.insert(), new)
    session.commit()
    return len(rows)


def region_names(session: Session, prefix: str) -> dict[str, str]:
    """Return code -> name for a region and everything below it."""
    stmt = select(Region.code, Region.name).where(
        (Region.code == prefix) | Region.code.like(prefix + ".%")
    )
    return {code: name for code, name in session.execute(stmt)}


# --- item types (the quantity rules as data) ----------------------------------------


def ensure_item_types(session: Session, rules: Iterable[QuantityRule] = DEFAULT_RULES) -> None:
    """Seed the default item types and rules where they are missing; never overwrite edits."""
    have = set(session.scalars(select(ItemType.code)))
    for rule in rules:
        if rule.code in have:
            continue
        session.add(
            ItemType(
                code=rule.code,
                name_id=rule.name_id,
                name_en=rule.name_en,
                unit=Unit(rule.unit),
                per_race=rule.per_race,
                per_tps=rule.per_tps,
                per_voter=rule.per_voter,
                reserve_percent=rule.reserve_percent,
                spare_per_kecamatan=rule.spare_per_kecamatan,
                fixed_reserve_per_race=rule.fixed_reserve_per_race,
                bundle_size=rule.bundle_size,
                labelled=rule.labelled,
                sort_order=rule.sort_order,
            )
        )
    session.commit()


def load_rules(session: Session) -> list[QuantityRule]:
    """Return the quantity rules as stored (the admin may have edited them)."""
    types = session.scalars(select(ItemType).order_by(ItemType.sort_order, ItemType.code))
    return [
        QuantityRule(
            code=t.code,
            name_id=t.name_id,
            name_en=t.name_en,
            unit=t.unit.value,
            per_race=t.per_race,
            per_tps=t.per_tps,
            per_voter=t.per_voter,
            reserve_percent=t.reserve_percent,
            spare_per_kecamatan=t.spare_per_kecamatan,
            fixed_reserve_per_race=t.fixed_reserve_per_race,
            bundle_size=t.bundle_size,
            labelled=t.labelled,
            sort_order=t.sort_order,
        )
        for t in types
    ]


def edit_rule(
    session: Session, election_code: str, code: str, changes: dict[str, object]
) -> dict[str, int]:
    """Change an item type's rule and rebuild the plan of every kabupaten that has TPS."""
    from decimal import Decimal

    item_type = session.get(ItemType, code)
    if item_type is None:
        raise NotFound(f"Jenis barang {code!r} tidak dikenal.")
    if not changes:
        raise ValidationFailed("Tidak ada yang diubah.")
    for name, value in changes.items():
        setattr(item_type, name, Decimal(str(value)) if name == "reserve_percent" else value)
    election = get_election(session, election_code)
    kabupatens = sorted(
        {tps_id[:2] + "." + tps_id[2:4] for tps_id in session.scalars(select(Tps.id))}
    )
    counts = {kab: rebuild_plan(session, election, kab) for kab in kabupatens}
    session.commit()
    return counts


def _leg(session: Session, election_code: str, from_node: str, to_node: str) -> RouteLeg:
    leg = session.scalar(
        select(RouteLeg).where(
            RouteLeg.election_code == election_code,
            RouteLeg.from_node == from_node,
            RouteLeg.to_node == to_node,
        )
    )
    if leg is None:
        raise NotFound(f"Tidak ada leg {from_node} → {to_node} dalam rencana.")
    return leg


def set_budget(
    session: Session, election_code: str, from_node: str, to_node: str, amount_idr: int | None
) -> RouteLeg:
    """Set (or clear) a leg's budget in rupiah."""
    if amount_idr is not None and amount_idr < 0:
        raise ValidationFailed("Anggaran tidak boleh negatif.")
    leg = _leg(session, election_code, from_node, to_node)
    leg.budget_idr = amount_idr
    session.commit()
    return leg


def record_cost(
    session: Session,
    election_code: str,
    from_node: str,
    to_node: str,
    amount_idr: int,
    note: str = "",
    user_id: Any = None,
) -> LegCost:
    """Record what a leg cost (appended; a correction is a negative amount with a note)."""
    _leg(session, election_code, from_node, to_node)
    if amount_idr == 0:
        raise ValidationFailed("Biaya tidak boleh nol.")
    cost = LegCost(
        election_code=election_code,
        from_node=from_node,
        to_node=to_node,
        amount_idr=amount_idr,
        note=note.strip()[:200],
        recorded_by=user_id,
    )
    session.add(cost)
    session.commit()
    return cost


def leg_costs(
    session: Session, election_code: str, kabkota: str
) -> tuple[dict[tuple[str, str], int | None], dict[tuple[str, str], int]]:
    """Budgets of the kabupaten's legs that have costs, and the costs summed per leg."""
    from sqlalchemy import func

    costs = {
        (a, b): int(total)
        for a, b, total in session.execute(
            select(LegCost.from_node, LegCost.to_node, func.sum(LegCost.amount_idr))
            .where(LegCost.election_code == election_code)
            .group_by(LegCost.from_node, LegCost.to_node)
        )
        if codes.within(b, kabkota) or codes.within(a, kabkota)
    }
    budgets: dict[tuple[str, str], int | None] = {}
    for a, b in costs:
        leg = session.scalar(
            select(RouteLeg.budget_idr).where(
                RouteLeg.election_code == election_code,
                RouteLeg.from_node == a,
                RouteLeg.to_node == b,
            )
        )
        budgets[(a, b)] = leg
    return budgets, costs


@dataclass(frozen=True)
class LegMoney:
    """One forward leg's budget and what was recorded as spent on it (rupiah)."""

    from_node: str
    to_node: str
    budget: int | None
    spent: int

    @property
    def over(self) -> int:
        """How far the costs exceed the budget (0 when within it or without one)."""
        return max(0, self.spent - self.budget) if self.budget is not None else 0


def leg_money(session: Session, election_code: str, kabkota: str) -> list[LegMoney]:
    """Every forward leg of a kabupaten with its budget and summed costs, in route order."""
    _, spent = leg_costs(session, election_code, kabkota)
    rows = session.execute(
        select(RouteLeg.from_node, RouteLeg.to_node, RouteLeg.budget_idr)
        .where(
            RouteLeg.election_code == election_code,
            RouteLeg.is_return.is_(False),
            RouteLeg.to_node.like(kabkota + ".%")
            | RouteLeg.to_node.like(kabkota.replace(".", "") + "%"),
        )
        .order_by(RouteLeg.from_node, RouteLeg.to_node)
    ).all()
    return [LegMoney(a, b, budget, spent.get((a, b), 0)) for a, b, budget in rows]


# --- elections and races ------------------------------------------------------------


def latest_election(session: Session) -> Election | None:
    """Return the election being run: the latest by election day."""
    return session.scalar(select(Election).order_by(Election.election_day.desc()))


def item_type_names(session: Session) -> dict[str, str]:
    """Indonesian names of the item types by code."""
    return {t.code: t.name_id for t in session.scalars(select(ItemType))}


def get_election(session: Session, code: str) -> Election:
    """Return an election or raise NotFound."""
    election = session.get(Election, code)
    if election is None:
        raise NotFound(f"Pemilihan {code!r} tidak ditemukan.")
    return election


def races_at(election: Election, region_code: str) -> list[Race]:
    """Return the races held in a region (a race covers its region and everything below)."""
    return [
        r
        for r in election.races
        if region_code == r.region_code or region_code.startswith(r.region_code + ".")
    ]


# --- TPS import ---------------------------------------------------------------------

_ALIASES = {
    "kode_desa": "desa",
    "kode desa": "desa",
    "desa": "desa",
    "kode": "desa",
    "kode_kelurahan": "desa",
    "kode desa/kelurahan": "desa",
    "tps_id": "tps_id",
    "id_tps": "tps_id",
    "id tps": "tps_id",
    "tps id": "tps_id",
    "nomor_tps": "nomor",
    "nomor tps": "nomor",
    "no_tps": "nomor",
    "no tps": "nomor",
    "nomor": "nomor",
    "tps": "nomor",
    "dpt": "dpt",
    "dptb": "dptb",
}


@dataclass(frozen=True, slots=True)
class TpsRow:
    """One valid row of a TPS file."""

    tps_id: str
    desa_code: str
    number: int
    dpt: int
    dptb: int


@dataclass
class ImportResult:
    """What an import changed."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0
    plan_lines: int = 0
    not_in_file: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    #: Not in the file but kept: labels were issued or scans recorded for them.
    kept: list[str] = field(default_factory=list)


def read_table(filename: str, data: bytes) -> Iterator[tuple[int, dict[str, str]]]:
    """Yield (row number, {column: text}) from CSV or XLSX bytes; row 1 is the header."""
    if filename.lower().endswith((".xlsx", ".xlsm")):
        from openpyxl import load_workbook

        try:
            sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).active
        except Exception as exc:  # openpyxl raises many kinds on a broken file
            raise ValidationFailed(f"Berkas XLSX tidak dapat dibaca: {exc}") from exc
        if sheet is None:
            raise ValidationFailed("Berkas XLSX tidak berisi lembar kerja.")
        rows = sheet.iter_rows(values_only=True)
        header = [str(h or "").strip() for h in next(rows, ())]
        for number, values in enumerate(rows, start=2):
            cells = ["" if v is None else str(v).strip() for v in values]
            if any(cells):
                yield number, dict(zip(header, cells, strict=False))
        return
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("Berkas CSV harus berenkode UTF-8.") from exc
    dialect: Any = csv.excel
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        pass
    reader = csv.reader(io.StringIO(text), dialect)
    try:
        header = [h.strip() for h in next(reader, [])]
        for number, cells in enumerate(reader, start=2):
            if any(c.strip() for c in cells):
                yield number, dict(zip(header, (c.strip() for c in cells), strict=False))
    except csv.Error as exc:  # a field over the csv module's 128 KB limit, a broken quote
        raise ValidationFailed(
            f"Berkas CSV tidak dapat dibaca di baris {reader.line_num}: {exc}"
        ) from exc


def _int(
    value: str,
    row: int,
    column: str,
    errors: list[RowError],
    *,
    minimum: int = 0,
    maximum: int | None = None,
    required: bool = True,
) -> int | None:
    if value == "":
        if required:
            errors.append(RowError(row, column, "wajib diisi"))
        return None if required else 0
    try:
        number = int(float(value)) if value.replace(".", "", 1).isdigit() else int(value)
        if str(value).count(".") and float(value) != number:
            raise ValueError
    except ValueError:
        errors.append(RowError(row, column, "harus bilangan bulat", value))
        return None
    if number < minimum or (maximum is not None and number > maximum):
        limit = (
            f"{minimum} sampai {maximum}" if maximum is not None else f"paling sedikit {minimum}"
        )
        errors.append(RowError(row, column, f"harus {limit}", value))
        return None
    return number


def parse_tps_rows(
    table: Iterable[tuple[int, dict[str, str]]],
    kabkota: str,
    known_desa: set[str],
    max_voters: int,
) -> list[TpsRow]:
    """Validate every row; raise PlanImportError listing all problems, or return the rows."""
    errors: list[RowError] = []
    rows: list[TpsRow] = []
    seen: dict[str, int] = {}
    header_checked = False
    for number, raw in table:
        record = {_ALIASES.get(k.strip().lower().replace("-", "_"), k): v for k, v in raw.items()}
        if not header_checked:
            header_checked = True
            if "dpt" not in record or not ({"desa", "tps_id"} & record.keys()):
                raise PlanImportError(
                    [
                        RowError(
                            1,
                            "header",
                            "kolom wajib: 'kode desa' atau 'tps id', 'nomor tps', 'dpt' "
                            "(dan 'dptb')",
                        )
                    ]
                )
        desa = record.get("desa", "")
        tps = record.get("tps_id", "")
        nomor = _int(
            record.get("nomor", ""),
            number,
            "nomor tps",
            errors,
            minimum=1,
            maximum=999,
            required=not tps,
        )
        dpt = _int(record.get("dpt", ""), number, "dpt", errors, maximum=max_voters)
        dptb = _int(record.get("dptb", ""), number, "dptb", errors, required=False)
        if tps:
            if not codes.TPS_ID.match(tps):
                errors.append(RowError(number, "tps id", "harus 13 digit", tps))
                continue
            if desa and desa != codes.desa_of_tps(tps):
                errors.append(RowError(number, "kode desa", "tidak cocok dengan ID TPS", desa))
            desa = codes.desa_of_tps(tps)
            if nomor and nomor != int(tps[-3:]):
                errors.append(
                    RowError(number, "nomor tps", "tidak cocok dengan ID TPS", str(nomor))
                )
            nomor = int(tps[-3:])
        column = "tps id" if record.get("tps_id") else "kode desa"
        if not desa:
            errors.append(RowError(number, column, "wajib diisi"))
            continue
        if not codes.REGION_CODE.match(desa) or desa.count(".") != 3:
            errors.append(RowError(number, column, "harus kode desa PP.KK.CC.DDDD", desa))
            continue
        if not desa.startswith(kabkota + "."):
            errors.append(RowError(number, column, f"bukan wilayah {kabkota}", desa))
            continue
        if desa not in known_desa:
            errors.append(RowError(number, column, "desa/kelurahan tidak dikenal", desa))
            continue
        if nomor is None or dpt is None or dptb is None:
            continue
        if nomor == 0:
            errors.append(RowError(number, "nomor tps", "wajib diisi"))
            continue
        tid = codes.tps_id(desa, nomor)
        if tid in seen:
            errors.append(
                RowError(
                    number, "nomor tps", f"TPS {tid} sudah ada di baris {seen[tid]}", str(nomor)
                )
            )
            continue
        seen[tid] = number
        rows.append(TpsRow(tid, desa, nomor, dpt, dptb))
    if not header_checked:
        errors.append(RowError(1, "header", "berkas kosong"))
    if errors:
        raise PlanImportError(errors)
    return rows


def import_tps(
    session: Session,
    election_code: str,
    kabkota: str,
    filename: str,
    data: bytes,
    *,
    dispatch_days: dict[str, int] | None = None,
    scope: str | None = None,
    remove_missing: bool = False,
) -> ImportResult:
    """Import a kabupaten's TPS list and rebuild its nodes, routes and plan in one transaction.

    ``scope`` (the uploader's region) refuses rows outside it. Without ``dispatch_days``
    existing legs keep their deadlines; nothing is rebuilt when no row changed. TPS stored
    but not in the file are reported; ``remove_missing`` removes those with no label
    issued and no scan recorded (the others are kept and listed).
    """
    election = get_election(session, election_code)
    if (
        session.get(Region, kabkota) is None
        or codes.region_level(kabkota) is not RegionLevel.KABKOTA
    ):
        raise NotFound(f"Kabupaten/kota {kabkota!r} tidak dikenal; muat data wilayah dahulu.")
    if not races_at(election, kabkota):
        raise ValidationFailed(
            f"Pemilihan {election.code} tidak punya pemilihan (gubernur/bupati/wali kota) "
            f"yang mencakup {kabkota}: tambahkan dahulu, misalnya "
            f"'flask elections races {election.code} --add WAL:{kabkota}'."
        )
    known_desa = set(
        session.scalars(
            select(Region.code).where(
                Region.level == RegionLevel.DESA, Region.code.like(kabkota + ".%")
            )
        )
    )
    rows = parse_tps_rows(
        read_table(filename, data), kabkota, known_desa, election.max_voters_per_tps
    )
    if scope is not None:
        outside = [
            RowError(0, "tps id", f"di luar wilayah Anda ({scope})", row.tps_id)
            for row in rows
            if not codes.within(row.tps_id, scope)
        ]
        if outside:
            raise PlanImportError(outside)
    result = ImportResult()
    try:
        existing = {
            t.id: t
            for t in session.scalars(select(Tps).where(Tps.id.like(kabkota.replace(".", "") + "%")))
        }
        for row in rows:
            tps = existing.get(row.tps_id)
            if tps is None:
                session.add(
                    Tps(
                        id=row.tps_id,
                        desa_code=row.desa_code,
                        number=row.number,
                        dpt=row.dpt,
                        dptb=row.dptb,
                    )
                )
                result.created += 1
            elif (tps.dpt, tps.dptb) != (row.dpt, row.dptb):
                tps.dpt, tps.dptb = row.dpt, row.dptb
                result.updated += 1
            else:
                result.unchanged += 1
        in_file = {r.tps_id for r in rows}
        result.not_in_file = sorted(
            t for t in set(existing) - in_file if scope is None or codes.within(t, scope)
        )
        if remove_missing and result.not_in_file:
            result.removed, result.kept = _remove_tps(session, result.not_in_file)
        if result.created or result.updated or result.removed or dispatch_days is not None:
            session.flush()
            build_nodes(session, kabkota)
            build_legs(session, election, kabkota, dispatch_days)
            result.plan_lines = rebuild_plan(session, election, kabkota)
        session.commit()
    except Exception:
        session.rollback()
        raise
    return result


def _remove_tps(session: Session, tps_ids: list[str]) -> tuple[list[str], list[str]]:
    """Remove TPS (their KPPS node and legs); keep those with labels or scans. (removed, kept)"""
    # Plain tables: the plan must not import the items or custody packages.
    item = table("item", column("destination"))
    event = table("custody_event", column("node"))
    used = set(session.scalars(select(item.c.destination).where(item.c.destination.in_(tps_ids))))
    used |= set(session.scalars(select(event.c.node).where(event.c.node.in_(tps_ids))))
    removed = [t for t in tps_ids if t not in used]
    if removed:
        session.execute(
            delete(LegCost).where(LegCost.from_node.in_(removed) | LegCost.to_node.in_(removed))
        )
        session.execute(
            delete(RouteLeg).where(RouteLeg.from_node.in_(removed) | RouteLeg.to_node.in_(removed))
        )
        session.execute(delete(PlanLine).where(PlanLine.destination.in_(removed)))
        session.execute(delete(CustodyNode).where(CustodyNode.code.in_(removed)))
        session.execute(delete(Tps).where(Tps.id.in_(removed)))
        session.flush()
    return removed, sorted(used)


# --- elections and races --------------------------------------------------------------

#: Which region level each race covers.
RACE_LEVEL = {
    RaceKind.GUB: RegionLevel.PROVINSI,
    RaceKind.BUP: RegionLevel.KABKOTA,
    RaceKind.WAL: RegionLevel.KABKOTA,
}
RACE_TITLE = {RaceKind.GUB: "Gubernur", RaceKind.BUP: "Bupati", RaceKind.WAL: "Wali Kota"}


def list_elections(session: Session) -> list[Election]:
    """Every election, the latest election day first."""
    return list(session.scalars(select(Election).order_by(Election.election_day.desc())))


def create_election(
    session: Session, code: str, name: str, election_day: Any, max_voters_per_tps: int = 600
) -> Election:
    """Create an election (any region: its races are added with :func:`add_race`)."""
    code = code.strip()
    if not code or len(code) > 40 or not all(c.isalnum() or c in "-_." for c in code):
        raise ValidationFailed("Kode pemilihan: 1-40 huruf, angka, '-', '_' atau '.'.")
    if not name.strip() or len(name) > 120:
        raise ValidationFailed("Nama pemilihan wajib diisi (maks. 120 karakter).")
    if not 1 <= max_voters_per_tps <= 1000:
        raise ValidationFailed("Pemilih per TPS: 1..1000.")
    if session.get(Election, code) is not None:
        raise ValidationFailed(f"Pemilihan {code!r} sudah ada.")
    election = Election(
        code=code,
        name=name.strip(),
        election_day=election_day,
        max_voters_per_tps=max_voters_per_tps,
    )
    session.add(election)
    ensure_item_types(session)  # a first election on a fresh database needs the catalogue
    return election


def add_race(
    session: Session, election_code: str, kind: str, region_code: str, name: str | None = None
) -> Race:
    """Add a race (GUB for a province, BUP for a kabupaten, WAL for a kota); idempotent."""
    election = get_election(session, election_code)
    try:
        race_kind = RaceKind(kind.strip().upper())
    except ValueError:
        raise ValidationFailed("Jenis pemilihan harus GUB, BUP atau WAL.") from None
    region = session.get(Region, region_code.strip())
    if region is None:
        raise NotFound(f"Wilayah {region_code!r} tidak dikenal; muat data wilayah dahulu.")
    if region.level is not RACE_LEVEL[race_kind]:
        raise ValidationFailed(
            f"{race_kind.value} berlaku untuk {RACE_LEVEL[race_kind].value}, "
            f"bukan {region.level.value} ({region.code})."
        )
    is_kota = int(region.code.split(".")[1]) >= 71 if race_kind is not RaceKind.GUB else None
    if (race_kind is RaceKind.WAL and not is_kota) or (race_kind is RaceKind.BUP and is_kota):
        raise ValidationFailed(
            f"{region.code} adalah {'kota' if is_kota else 'kabupaten'}: "
            f"gunakan {'WAL' if is_kota else 'BUP'}."
        )
    for race in election.races:
        if race.kind is race_kind and race.region_code == region.code:
            return race
    race = Race(
        kind=race_kind,
        region_code=region.code,
        name=(name or f"{RACE_TITLE[race_kind]} {_bare(region.name)}").strip()[:160],
    )
    election.races.append(race)
    session.commit()
    return race


def _bare(region_name: str) -> str:
    """ "KOTA BOGOR" -> "Bogor", "KABUPATEN GUNUNG MAS" -> "Gunung Mas"."""
    words = region_name.title().split()
    if words and words[0] in ("Kota", "Kabupaten", "Kab."):
        words = words[1:]
    return " ".join(words)


# --- custody nodes and routes -------------------------------------------------------


def build_nodes(session: Session, kabkota: str) -> None:
    """Create the warehouse, one PPK per kecamatan, one PPS per desa, one KPPS per TPS."""
    names = region_names(session, kabkota)
    have = set(
        session.scalars(
            select(CustodyNode.code).where(
                (CustodyNode.code == kabkota)
                | CustodyNode.code.like(kabkota + ".%")
                | CustodyNode.code.like(kabkota.replace(".", "") + "%")
            )
        )
    )
    tps_ids = session.scalars(select(Tps.id).where(Tps.id.like(kabkota.replace(".", "") + "%")))
    wanted: list[tuple[str, str]] = [(kabkota, names.get(kabkota, kabkota))]
    wanted += [(c, n) for c, n in sorted(names.items()) if c != kabkota]
    wanted += [
        (t, f"TPS {int(t[-3:]):03d} {names.get(codes.desa_of_tps(t), '')}".strip())
        for t in sorted(tps_ids)
    ]
    for code, name in wanted:
        if code in have:
            continue
        kind = codes.node_kind(code)
        label = name if kind is NodeKind.KPPS else f"{NODE_PREFIX[kind]} {name}"
        session.add(
            CustodyNode(
                code=code,
                kind=kind,
                name=label,
                parent_code=codes.node_parent(code),
                region_code=codes.node_region(code),
            )
        )
        have.add(code)
    session.flush()


#: Forward deadlines: (day offset, local time) per leg kind; gudang->PPK depends on dispatch day.
_PPK_PPS = (-1, time(14, 0))
_PPS_KPPS = (-1, time(20, 0))
#: Return deadlines per sending level: the box reaches the PPS on election night (H),
#: the PPK on H+1, and the gudang after the kecamatan recapitulation (H+1..H+6).
RETURN_DEFAULTS = {
    NodeKind.KPPS: (0, time(23, 59)),
    NodeKind.PPS: (1, time(18, 0)),
    NodeKind.PPK: (7, time(18, 0)),
}


def return_schedule(
    session: Session, election_code: str, kabkota: str
) -> dict[NodeKind, tuple[int, time]]:
    """The return deadline per sending level of a kabupaten: the defaults, then its own rows."""
    schedule = dict(RETURN_DEFAULTS)
    for row in session.scalars(
        select(ReturnSchedule).where(
            ReturnSchedule.election_code == election_code,
            ReturnSchedule.kabkota_code == kabkota,
        )
    ):
        schedule[row.from_kind] = (row.day_offset, row.local_time)
    return schedule


def set_return_deadline(
    session: Session,
    election_code: str,
    kabkota: str,
    from_kind: str,
    day_offset: int,
    local_time: time,
) -> int:
    """Set when one level must have sent its boxes back (H+n, local time); move the legs.

    Returns how many return legs got the new deadline.
    """
    election = get_election(session, election_code)
    try:
        kind = NodeKind(from_kind)
    except ValueError:
        raise ValidationFailed("Tingkat harus kpps, pps atau ppk.") from None
    if kind is NodeKind.GUDANG:
        raise ValidationFailed("Gudang adalah tujuan akhir; tingkat harus kpps, pps atau ppk.")
    if not 0 <= day_offset <= 60:
        raise ValidationFailed("Hari pengembalian harus H+0 sampai H+60.")
    try:
        is_kabkota = codes.node_kind(kabkota) is NodeKind.GUDANG
    except ValueError:
        is_kabkota = False
    if not is_kabkota:
        raise ValidationFailed("Kode kabupaten/kota seperti 62.10.")
    row = session.get(ReturnSchedule, (election_code, kabkota, kind))
    if row is None:
        session.add(
            ReturnSchedule(
                election_code=election_code,
                kabkota_code=kabkota,
                from_kind=kind,
                day_offset=day_offset,
                local_time=local_time,
            )
        )
    else:
        row.day_offset, row.local_time = day_offset, local_time
    deadline = h_day(election.election_day, day_offset, local_time, zone_for_region(kabkota))
    moved = 0
    for leg in session.scalars(
        select(RouteLeg).where(
            RouteLeg.election_code == election_code,
            RouteLeg.is_return.is_(True),
            RouteLeg.from_node.like(kabkota + ".%")
            | RouteLeg.from_node.like(kabkota.replace(".", "") + "%"),
        )
    ):
        if codes.within(leg.from_node, kabkota) and codes.node_kind(leg.from_node) is kind:
            leg.day_offset, leg.local_time, leg.deadline_at = day_offset, local_time, deadline
            moved += 1
    session.commit()
    return moved


def gudang_ppk_deadline(dispatch_day: int) -> tuple[int, time]:
    """Remote districts leave on H-2 or H-3 and must reach the PPK that evening."""
    return (dispatch_day, time(18, 0)) if dispatch_day <= -2 else (-1, time(10, 0))


def build_legs(
    session: Session, election: Election, kabkota: str, dispatch_days: dict[str, int] | None
) -> None:
    """Create forward and return legs for every edge of the kabupaten's node tree.

    With ``dispatch_days`` every leg's deadline is set; without, only new legs get the
    default deadlines and existing ones keep theirs (a re-import never moves H-2 to H-1).
    """
    zone = zone_for_region(kabkota)
    returns = return_schedule(session, election.code, kabkota)
    nodes = session.scalars(
        select(CustodyNode).where(
            (CustodyNode.code.like(kabkota + ".%"))
            | CustodyNode.code.like(kabkota.replace(".", "") + "%")
        )
    ).all()
    have = {
        (leg.from_node, leg.to_node): leg
        for leg in session.scalars(
            select(RouteLeg).where(
                RouteLeg.election_code == election.code,
                RouteLeg.from_node.in_([n.code for n in nodes] + [kabkota]),
            )
        )
    }
    have.update(
        {
            (leg.from_node, leg.to_node): leg
            for leg in session.scalars(
                select(RouteLeg).where(
                    RouteLeg.election_code == election.code,
                    RouteLeg.to_node.in_([n.code for n in nodes] + [kabkota]),
                )
            )
        }
    )
    for node in nodes:
        if node.parent_code is None:
            continue
        if node.kind is NodeKind.PPK:
            forward = gudang_ppk_deadline((dispatch_days or {}).get(node.code, -1))
        elif node.kind is NodeKind.PPS:
            forward = _PPK_PPS
        else:
            forward = _PPS_KPPS
        for src, dst, (offset, at), is_return in (
            (node.parent_code, node.code, forward, False),
            (node.code, node.parent_code, returns[node.kind], True),
        ):
            deadline = h_day(election.election_day, offset, at, zone)
            leg = have.get((src, dst))
            if leg is None:
                session.add(
                    RouteLeg(
                        election_code=election.code,
                        from_node=src,
                        to_node=dst,
                        day_offset=offset,
                        local_time=at,
                        deadline_at=deadline,
                        is_return=is_return,
                    )
                )
            elif dispatch_days is not None:
                leg.day_offset, leg.local_time, leg.deadline_at = offset, at, deadline
    session.flush()


# --- needs and plan lines -----------------------------------------------------------


def tps_facts(session: Session, election: Election, kabkota: str) -> list[TpsFacts]:
    """Return every TPS of a kabupaten with the races held there."""
    result = []
    for tps in session.scalars(
        select(Tps).where(Tps.id.like(kabkota.replace(".", "") + "%")).order_by(Tps.id)
    ):
        races = tuple(sorted(r.kind.value for r in races_at(election, tps.desa_code)))
        kec = tps.desa_code.rsplit(".", 1)[0]
        result.append(TpsFacts(tps.id, kec, tps.dpt, tps.dptb, races))
    return result


def rebuild_plan(session: Session, election: Election, kabkota: str) -> int:
    """Recompute every plan line of a kabupaten from its TPS and the stored rules."""
    lines = compute_needs(load_rules(session), tps_facts(session, election, kabkota), kabkota)
    session.execute(
        delete(PlanLine).where(
            PlanLine.election_code == election.code, PlanLine.kabkota_code == kabkota
        )
    )
    if lines:
        session.execute(
            PlanLine.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "election_code": election.code,
                    "destination": line.destination,
                    "item_type_code": line.item_type,
                    "race_kind": line.race,
                    "quantity": line.quantity,
                    "kabkota_code": kabkota,
                }
                for line in lines
            ],
        )
    session.flush()
    return len(lines)


def plan_lines(session: Session, election_code: str, kabkota: str) -> list[NeedLine]:
    """Return the stored plan of a kabupaten as pure need lines."""
    stmt = select(PlanLine).where(
        PlanLine.election_code == election_code, PlanLine.kabkota_code == kabkota
    )
    return [
        NeedLine(p.destination, p.item_type_code, p.race_kind, p.quantity)
        for p in session.scalars(stmt)
    ]


# --- summaries and export -----------------------------------------------------------

LEVELS = ("tps", "desa", "kecamatan", "kabupaten")


def _area_of(destination: str, level: str) -> str | None:
    """Return the code a plan line counts towards at ``level`` (None: not at that level)."""
    if codes.TPS_ID.match(destination):
        desa = codes.desa_of_tps(destination)
        return {
            "tps": destination,
            "desa": desa,
            "kecamatan": desa.rsplit(".", 1)[0],
            "kabupaten": desa.rsplit(".", 2)[0],
        }[level]
    kind = codes.node_kind(destination)
    if kind is NodeKind.PPK and level in ("kecamatan", "kabupaten"):
        return destination if level == "kecamatan" else destination.rsplit(".", 1)[0]
    if kind is NodeKind.GUDANG and level == "kabupaten":
        return destination
    return None


@dataclass
class NeedsTable:
    """Needs aggregated at one level: one row per area, one column per (item, race)."""

    level: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]

    def header(self) -> list[str]:
        """Column titles for export."""
        return ["kode", "nama", "jumlah_tps", "dpt", "dptb"] + [
            f"{item} {race}".strip() for item, race in self.columns
        ]

    def records(self) -> Iterator[list[Any]]:
        """Rows as lists in header order."""
        for row in self.rows:
            yield [row["code"], row["name"], row["tps"], row["dpt"], row["dptb"]] + [
                row["needs"].get(col, 0) for col in self.columns
            ]


def needs_table(session: Session, election_code: str, kabkota: str, level: str) -> NeedsTable:
    """Aggregate a kabupaten's plan at the TPS, desa, kecamatan or kabupaten level."""
    if level not in LEVELS:
        raise ValidationFailed(f"Tingkat harus salah satu dari {', '.join(LEVELS)}.")
    names = region_names(session, kabkota)
    order = {t.code: (t.sort_order, t.code) for t in session.scalars(select(ItemType))}
    rows: dict[str, dict[str, Any]] = {}

    def row(code: str) -> dict[str, Any]:
        if code not in rows:
            name = names.get(code) or f"TPS {code[-3:]} {names.get(codes.desa_of_tps(code), '')}"
            rows[code] = {
                "code": code,
                "name": name,
                "tps": 0,
                "dpt": 0,
                "dptb": 0,
                "needs": defaultdict(int),
            }
        return rows[code]

    for tps in session.scalars(select(Tps).where(Tps.id.like(kabkota.replace(".", "") + "%"))):
        area = _area_of(tps.id, level)
        if area:
            r = row(area)
            r["tps"] += 1
            r["dpt"] += tps.dpt
            r["dptb"] += tps.dptb
    columns: set[tuple[str, str]] = set()
    for line in plan_lines(session, election_code, kabkota):
        area = _area_of(line.destination, level)
        if area:
            row(area)["needs"][(line.item_type, line.race)] += line.quantity
            columns.add((line.item_type, line.race))
    ordered = sorted(columns, key=lambda c: (order.get(c[0], (99, c[0])), c[1]))
    return NeedsTable(level, ordered, [rows[k] for k in sorted(rows)])


def export_needs(table: NeedsTable, fmt: str, out: IO[bytes]) -> None:
    """Write a needs table as CSV or XLSX to a binary stream."""
    if fmt == "csv":
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(table.header())
        writer.writerows(table.records())
        out.write(text.getvalue().encode("utf-8-sig"))
    elif fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook(write_only=True)
        sheet = book.create_sheet(f"Kebutuhan {table.level}")
        sheet.append(table.header())
        for record in table.records():
            sheet.append(record)
        book.save(out)
    else:
        raise ValidationFailed("Format harus csv atau xlsx.")


def ensure_election(
    session: Session, code: str, name: str, election_day: Any, races: Iterable[tuple[str, str, str]]
) -> Election:
    """Create or update an election and its races ``(kind, region code, name)``."""
    election = session.get(Election, code)
    if election is None:
        election = Election(code=code, name=name, election_day=election_day)
        session.add(election)
        session.flush()
    else:
        election.name, election.election_day = name, election_day
    have = {(r.kind.value, r.region_code) for r in election.races}
    for kind, region, race_name in races:
        if (kind, region) not in have:
            election.races.append(Race(kind=RaceKind(kind), region_code=region, name=race_name))
    session.commit()
    return election
