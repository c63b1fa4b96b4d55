"""Writers for the desk's downloads: one table as CSV, XLSX or PDF.

A table is a title, column headings and rows of plain values; a row may name its
severity (``critical``, ``warning``, ``info``) so the XLSX and PDF can colour it.

Conventions of Indonesian spreadsheets: Excel set to Indonesian lists with ``;`` and
writes decimals with a comma, so the CSV is UTF-8 with a BOM, ``;``-separated, decimals
with a comma. (A ``sep=;`` first line would also declare the separator, but Excel then
ignores the BOM and garbles every non-ASCII name, so the BOM and ``;`` it is.) The XLSX
holds real numbers: counts as integers, shares as fractions formatted as percent.
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
    decimal: str = ","  # the PDF's decimal mark (the reader's language); CSV always uses ","


class Percent(float):
    """A share in percent (12.5 means 12.5 %): a number cell formatted as percent in XLSX."""


def number_text(value: Any, decimal: str = ",") -> Any:
    """A number as text for CSV and PDF: decimals with ``decimal``, percent with %."""
    if isinstance(value, Percent):
        return f"{value:.1f}".replace(".", decimal) + "%"
    if isinstance(value, float):
        return f"{value:.2f}".replace(".", decimal)
    return value


def write(table: Table, fmt: str) -> bytes:
    """Return the table in ``fmt`` (csv, xlsx or pdf)."""
    return {"csv": _csv, "xlsx": _xlsx, "pdf": _pdf}[fmt](table)


def _csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(table.columns)
    writer.writerows([[_csv_value(v) for v in row] for row in table.rows])
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
        sheet.append([float(v) / 100 if isinstance(v, Percent) else _cell(v) for v in row])
        for column, value in enumerate(row, start=1):
            if isinstance(value, Percent):
                sheet.cell(row=sheet.max_row, column=column).number_format = "0.0%"
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
    # Words are never cut: lines break between words, and each column is at least as wide
    # as its longest word (the others give way).
    cell = styles["BodyText"].clone("cell", fontSize=7.5, leading=9, splitLongWords=0)
    head = cell.clone("head", fontName="Helvetica-Bold")
    usable = page[0] - 24 * mm
    texts = [[_text(v, table.decimal) for v in row] for row in table.rows]
    widths = _column_widths(table, texts, usable)
    # Paragraphs wrap but are slow to lay out: only for text that may not fit its column.
    fits = [max(3, int(w / (7.5 * 0.62)) - 1) for w in widths]  # characters per line, about
    data: list[list[Any]] = [[Paragraph(_xml(c), head) for c in table.columns]]
    data += [
        [Paragraph(_xml(v), cell) if len(v) > fits[i] else v for i, v in enumerate(row)]
        for row in texts
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


def _text(value: Any, decimal: str) -> str:
    return "" if value is None else str(number_text(value, decimal))


def _column_widths(table: Table, texts: list[list[str]], usable: float) -> list[float]:
    """Widths by the table's weights, widened so the longest word of each column fits."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    weights = list(table.widths) or [1.0] * len(table.columns)
    widths = [usable * w / sum(weights) for w in weights]
    padding = 6.5  # the cell's left and right padding, and a little air
    need = []
    for index, heading in enumerate(table.columns):
        words = str(heading).split() or [""]
        longest = max(stringWidth(w, "Helvetica-Bold", 7.5) for w in words)
        for row in texts[:2000]:
            for word in row[index].split():
                longest = max(longest, stringWidth(word, "Helvetica", 7.5))
        need.append(min(longest + padding, usable / 2))
    short = sum(max(0.0, n - w) for n, w in zip(need, widths, strict=True))
    slack = sum(max(0.0, w - n) for n, w in zip(need, widths, strict=True))
    if short and slack:
        give = min(1.0, short / slack)
        widths = [n if n > w else w - (w - n) * give for n, w in zip(need, widths, strict=True)]
    return widths


def _csv_value(value: Any) -> Any:
    """A CSV cell: decimals with a comma; a percent as its number (the heading says %)."""
    text = number_text(value)
    return text.removesuffix("%") if isinstance(value, Percent) else _cell(text)


def _cell(value: Any) -> Any:
    """A value a spreadsheet shows as text, never runs as a formula (device ids are input)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _xml(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
