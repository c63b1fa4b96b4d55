"""Summaries and export: a kabupaten's needs per TPS, desa, kecamatan or kabupaten."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import ValidationFailed
from app.plan import codes
from app.plan.models import ItemType, NodeKind, Tps
from app.plan.service.planning import plan_lines
from app.plan.service.regions import region_names

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
