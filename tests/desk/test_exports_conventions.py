"""Downloads in the conventions of Indonesian spreadsheets (issue 13): CSV with ``;`` and a
BOM, decimals with a comma; XLSX with real number cells (percent as a number format); PDFs
that break lines between words, never inside one."""

from __future__ import annotations

import csv
import io

import pypdfium2 as pdfium
from openpyxl import load_workbook

from app.desk.exports import Percent, Table, write

TABLE = Table(
    title="Status Kabupaten Gunung Mas",
    subtitle="Keadaan per 26 Nov 2024 15.00 WIB",
    columns=["Kode", "Nama", "Barang", "%", "Akuntabilitas", "Temuan"],
    rows=[
        ["62.10.03", "Tewah; Kelurahan", 1200, Percent(12.5), 3, '=HYPERLINK("x")'],
        ["62.10.02", "Kurun", 800, Percent(100.0), 0, "Pertanggungjawaban " * 6],
    ],
    widths=[4, 6, 3, 2, 1, 12],
)


def test_csv_uses_semicolons_a_bom_and_decimal_commas() -> None:
    data = write(TABLE, "csv")
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Kode", "Nama", "Barang", "%", "Akuntabilitas", "Temuan"]
    assert rows[1][:5] == ["62.10.03", "Tewah; Kelurahan", "1200", "12,5", "3"]
    assert rows[1][5].startswith("'=")  # never a formula
    assert rows[2][3] == "100,0"


def test_xlsx_holds_numbers_and_percent_cells() -> None:
    sheet = load_workbook(io.BytesIO(write(TABLE, "xlsx"))).active
    count, share = sheet.cell(row=4, column=3), sheet.cell(row=4, column=4)
    assert count.value == 1200 and count.data_type == "n"
    assert share.value == 0.125 and share.data_type == "n" and "%" in share.number_format
    assert sheet.cell(row=5, column=4).value == 1.0


def test_pdf_breaks_lines_between_words_only() -> None:
    document = pdfium.PdfDocument(write(TABLE, "pdf"))
    try:
        text = document[0].get_textpage().get_text_bounded()
    finally:
        document.close()
    words = text.split()
    assert "Akuntabilitas" in words  # the heading of a narrow column, whole
    assert words.count("Pertanggungjawaban") == 6
    assert "12,5%" in words
