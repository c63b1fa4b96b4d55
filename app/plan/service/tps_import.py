"""TPS import: read a CSV or XLSX list, validate every row, store it and rebuild the plan."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import column, delete, select, table
from sqlalchemy.orm import Session

from app.errors import NotFound, PlanImportError, RowError, ValidationFailed
from app.plan import codes
from app.plan.models import CustodyNode, LegCost, PlanLine, Region, RegionLevel, RouteLeg, Tps
from app.plan.service.elections import get_election, races_at
from app.plan.service.planning import rebuild_plan
from app.plan.service.routes import build_legs, build_nodes

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
            # Every destination's quantity findings against the new plan and deadlines.
            from app.custody import closings, quantities

            quantities.rebuild(session, election, kabkota)
            # What every TPS owes on the way back: a closing record per race it holds.
            closings.expect(session, election, kabkota)
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
