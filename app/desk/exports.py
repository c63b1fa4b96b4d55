"""Writers for the desk's downloads: one table as CSV, XLSX or PDF.

A table is a title, column headings and rows of plain values; a row may name its
severity (``critical``, ``warning``, ``info``) so the XLSX and PDF can colour it.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

MIMETYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}
COLOURS = {"critical": "F6D4D1", "warning": "FBE7C6", "info": "D6E4F5", "ok": "D9EEDC"}


@dataclass
class Table:
    """What a download holds."""

    title: str
    subtitle: str
    columns: Sequence[str]
    rows: list[Sequence[Any]]
    severities: list[str | None] = field(default_factory=list)  # per row, for colour
    cell_severities: dict[tuple[int, int], str] = field(default_factory=dict)  # (row, column)
    widths: Sequence[float] = ()  # relative column widths for the PDF


def write(table: Table, fmt: str) -> bytes:
    """Return the table in ``fmt`` (csv, xlsx or pdf)."""
    return {"csv": _csv, "xlsx": _xlsx, "pdf": _pdf}[fmt](table)


def _csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(table.columns)
    writer.writerows([[_cell(v) for v in row] for row in table.rows])
    return ("\ufeff" + out.getvalue()).encode("utf-8")  # the BOM lets Excel read UTF-8


def _xlsx(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = table.title[:31]
    sheet.append([table.title])
    sheet["A1"].font = Font(bold=True, size=13)
    sheet.append([table.subtitle])
    sheet.append(list(table.columns))
    for cell in sheet[3]:
        cell.font = Font(bold=True)
    for index, row in enumerate(table.rows):
        sheet.append([_cell(v) for v in row])
        severity = table.severities[index] if index < len(table.severities) else None
        if severity in COLOURS:
            sheet.cell(row=sheet.max_row, column=1).fill = PatternFill(
                "solid", fgColor=COLOURS[severity]
            )
    for (row, column), severity in table.cell_severities.items():
        if severity in COLOURS:
            sheet.cell(row=row + 4, column=column + 1).fill = PatternFill(
                "solid", fgColor=COLOURS[severity]
            )
    sheet.freeze_panes = "A4"
    for number, heading in enumerate(table.columns, start=1):
        values = [len(str(heading))] + [len(str(r[number - 1])) for r in table.rows[:500]]
        letter = sheet.cell(row=3, column=number).column_letter
        sheet.column_dimensions[letter].width = min(max(values) + 2, 70)
        if max(values) > 70:
            for (cell,) in sheet.iter_rows(min_row=4, min_col=number, max_col=number):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _pdf(table: Table) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, TableStyle

    out = io.BytesIO()
    page = landscape(A4)
    doc = SimpleDocTemplate(
        out,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=table.title,
    )
    styles = getSampleStyleSheet()
    cell = styles["BodyText"].clone("cell", fontSize=7.5, leading=9)
    head = cell.clone("head", fontName="Helvetica-Bold")
    usable = page[0] - 24 * mm
    weights = list(table.widths) or [1.0] * len(table.columns)
    widths = [usable * w / sum(weights) for w in weights]
    # Paragraphs wrap but are slow to lay out: only for text that may not fit its column.
    fits = [max(3, int(w / (7.5 * 0.62)) - 1) for w in widths]  # characters per line, about
    data: list[list[Any]] = [[Paragraph(_xml(c), head) for c in table.columns]]
    data += [
        [
            Paragraph(_xml(v), cell) if len(str(v)) > fits[i] else ("" if v is None else v)
            for i, v in enumerate(row)
        ]
        for row in table.rows
    ]
    grid = LongTable(data, colWidths=widths, repeatRows=1)
    style = [
        ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#B8C0C8")),
        ("FONTSIZE", (0, 1), (-1, -1), 7.5),
        ("LEADING", (0, 1), (-1, -1), 9),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEF1F4")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
    for index, severity in enumerate(table.severities, start=1):
        if severity in COLOURS:
            style.append(
                ("BACKGROUND", (0, index), (0, index), colors.HexColor("#" + COLOURS[severity]))
            )
    for (row, column), severity in table.cell_severities.items():
        if severity in COLOURS:
            style.append(
                (
                    "BACKGROUND",
                    (column, row + 1),
                    (column, row + 1),
                    colors.HexColor("#" + COLOURS[severity]),
                )
            )
    grid.setStyle(TableStyle(style))
    story = [
        Paragraph(_xml(table.title), styles["Title"]),
        Paragraph(_xml(table.subtitle), styles["Normal"]),
        Spacer(1, 4 * mm),
        grid,
    ]
    doc.build(story)
    return out.getvalue()


def _cell(value: Any) -> Any:
    """A value a spreadsheet shows as text, never runs as a formula (device ids are input)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _xml(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
