"""PDF writers: label sheets, TPS kit manifests and handover forms (BAST).

Each writer takes a path or a binary file object. Output is reproducible: the same
input gives the same bytes (reportlab's invariant mode), so a printed batch can be
checked against its file. QR codes are vector paths; fonts are the PDF built-ins.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from labels.documents import (
    HandoverForm,
    KitManifest,
    LabelSheetItem,
    format_local_time,
)
from labels.errors import LayoutError
from labels.layouts import (
    A4_DOCUMENT,
    DocumentLayout,
    Field,
    FontSpec,
    LabelLayout,
)
from labels.qr import draw_qr, qr_matrix

Output = str | os.PathLike[str] | BinaryIO
_ELLIPSIS = "\u2026"
_GREY = Color(0.55, 0.55, 0.55)


class _Flate:
    """Deflate stream filter at a chosen zlib level (reportlab's uses the default, 6)."""

    pdfname = "FlateDecode"

    def __init__(self, level: int) -> None:
        self.level = level

    def encode(self, text: str | bytes) -> bytes:
        """Compress a stream's content."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        return zlib.compress(data, self.level)

    def decode(self, encoded: bytes) -> bytes:
        """Decompress a stream's content."""
        return zlib.decompress(encoded)


def _open_canvas(out: Output, width: float, height: float, compress_level: int) -> Canvas:
    target = os.fspath(out) if isinstance(out, str | os.PathLike) else out
    # invariant=1: no timestamps or random ids, so equal input gives equal bytes.
    canvas = Canvas(target, pagesize=(width, height), pageCompression=0, invariant=1)
    # With page compression off, page streams take the document's default filters.
    # Setting them on this document (not reportlab's global rl_config.useA85) gives
    # binary Flate streams without ASCII85, which adds a quarter to the size and most
    # of the write time, and leaves other canvases in the process as they were.
    canvas._doc.defaultStreamFilters = [_Flate(compress_level)]
    return canvas


def _fit(text: str, font: FontSpec, width: float, min_size: float) -> tuple[str, float]:
    """Shrink the font, then cut with an ellipsis, until text fits in width."""
    natural = stringWidth(text, font.name, font.size)
    if natural <= width:
        return text, font.size
    # A hair under the exact ratio so rounding cannot push the text back over.
    size = max(min_size, font.size * width / natural * 0.995)
    if stringWidth(text, font.name, size) <= width:
        return text, size
    while text and stringWidth(text + _ELLIPSIS, font.name, size) > width:
        text = text[:-1]
    return text.rstrip() + _ELLIPSIS, size


def _text_colour_on(background: Color) -> Color:
    luminance = 0.299 * background.red + 0.587 * background.green + 0.114 * background.blue
    result: Color = black if luminance > 0.55 else white
    return result


class _LabelPainter:
    """Draws label cells of one layout on one canvas; holds per-run caches only."""

    def __init__(self, canvas: Canvas, layout: LabelLayout) -> None:
        self.canvas = canvas
        self.layout = layout
        self._colours: dict[str, tuple[Color, Color]] = {}
        self._font: tuple[str, float] | None = None
        self._fitted: dict[tuple[str, str, float, float], tuple[str, float]] = {}

    def new_page(self) -> None:
        """Forget the current font: a new page starts from reportlab's defaults."""
        self._font = None

    def _set_font(self, name: str, size: float) -> None:
        # Each setFont writes operators; labels switch between a few fonts, so skip
        # the calls that would not change anything.
        if self._font != (name, size):
            self.canvas.setFont(name, size)
            self._font = (name, size)

    def _band_colours(self, hex_colour: str) -> tuple[Color, Color]:
        colours = self._colours.get(hex_colour)
        if colours is None:
            background = HexColor(hex_colour)
            colours = (background, _text_colour_on(background))
            self._colours[hex_colour] = colours
        return colours

    @staticmethod
    def _field_text(field: Field, item: LabelSheetItem) -> str:
        if field is Field.ITEM_TYPE:
            return item.item_type_name
        if field is Field.TPS:
            return f"TPS {item.tps_number}" if item.tps_number else ""
        if field is Field.QUANTITY:
            return f"Isi: {item.quantity_text}" if item.quantity_text else ""
        if field is Field.DESA:
            return f"PPS: {item.desa}" if item.desa else ""
        if field is Field.KECAMATAN:
            return f"PPK: {item.kecamatan}" if item.kecamatan else ""
        if field is Field.KABUPATEN:
            return f"Kab/Kota: {item.kabupaten}" if item.kabupaten else ""
        if field is Field.PROVINSI:
            return f"Provinsi: {item.provinsi}" if item.provinsi else ""
        return f"Tujuan: {item.destination_code}"

    def draw(self, item: LabelSheetItem, x: float, y: float) -> None:
        """Draw one label with its bottom-left corner at (x, y)."""
        canvas, layout = self.canvas, self.layout
        width, pad = layout.cell_width, layout.padding
        top = y + layout.cell_height
        if layout.cut_lines:
            canvas.setStrokeColor(_GREY)
            canvas.rect(x, y, width, layout.cell_height, stroke=1, fill=0)

        band = layout.band_height
        if band and item.race_colour:
            background, foreground = self._band_colours(item.race_colour)
            canvas.setFillColor(background)
            canvas.rect(x, top - band, width, band, stroke=0, fill=1)
            font = layout.band_font
            label = f"PEMILIHAN {(item.race_name or '').upper()}".strip()
            text, size = self._fit(label, font, width - 2 * pad)
            canvas.setFillColor(foreground)
            self._set_font(font.name, size)
            canvas.drawString(x + pad, top - band / 2 - size * 0.35, text)
            canvas.setFillColor(black)

        side = layout.qr_side
        content_top = top - band - pad
        if layout.qr_position == "left":
            qr_x = x + pad
            text_x = qr_x + side + pad
            text_top = content_top
        else:
            qr_x = x + (width - side) / 2
            text_x = x + pad
            text_top = content_top - side - layout.serial_font.leading - pad / 2
        qr_y = content_top - side
        draw_qr(canvas, qr_matrix(item.qr_text), qr_x, qr_y, side)

        font = layout.serial_font
        serial, size = _fit(item.serial, font, side, layout.min_font_size)
        self._set_font(font.name, size)
        canvas.drawCentredString(qr_x + side / 2, qr_y - size, serial)

        text_width = x + width - pad - text_x
        lines: list[tuple[str, FontSpec, float]] = []
        for field in layout.fields:
            line = self._field_text(field, item)
            if line:
                font = layout.font_for(field)
                line, size = self._fit(line, font, text_width)
                lines.append((line, font, size))
        if not lines:
            return
        # One text object per label: each line moves down by the leading (T*), set so
        # that every baseline lands where the layout puts it.
        first_font = lines[0][1]
        text = canvas.beginText(text_x, text_top - first_font.size)
        current: tuple[str, float, float] | None = None
        for index, (line, font, size) in enumerate(lines):
            following = lines[index + 1][1] if index + 1 < len(lines) else font
            leading = font.leading - font.size + following.size
            if current != (font.name, size, leading):
                text.setFont(font.name, size, leading)
                current = (font.name, size, leading)
            text.textLine(line)
        canvas.drawText(text)
        self._font = None  # the text object's font does not outlive it

    def _fit(self, text: str, font: FontSpec, width: float) -> tuple[str, float]:
        # Region names and item types repeat on thousands of labels.
        key = (text, font.name, font.size, width)
        fitted = self._fitted.get(key)
        if fitted is None:
            if len(self._fitted) > 4096:
                self._fitted.clear()
            fitted = _fit(text, font, width, self.layout.min_font_size)
            self._fitted[key] = fitted
        return fitted


def write_labels(
    items: Iterable[LabelSheetItem],
    layout: LabelLayout,
    out: Output,
    progress: Callable[[int], None] | None = None,
    *,
    compress_level: int = 6,
) -> int:
    """Write labels into a PDF in the layout's grid; return how many were written.

    ``progress`` is called with the running count after each finished page;
    ``compress_level`` is the zlib level of page streams (1 is fastest, 9 smallest).
    """
    canvas = _open_canvas(out, layout.page_width, layout.page_height, compress_level)
    painter = _LabelPainter(canvas, layout)
    per_page = layout.per_page
    count = 0
    for item in items:
        if count and count % per_page == 0:
            canvas.showPage()
            painter.new_page()
            if progress is not None:
                progress(count)
        x, y = layout.cell_origin(count)
        painter.draw(item, x, y)
        count += 1
    if count == 0:
        raise LayoutError("no labels to write")
    canvas.showPage()
    canvas.save()
    if progress is not None:
        progress(count)
    return count


# --- A4 documents -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Column:
    title: str
    width_mm: float
    align: str = "left"  # "left" | "centre"


def _plan_pages(
    row_count: int,
    first_top: float,
    other_top: float,
    bottom: float,
    row_height: float,
    tail_height: float,
) -> list[tuple[int, int]]:
    """Split table rows over pages: (start, end) per page; a last (n, n) holds the tail."""
    pages: list[tuple[int, int]] = []
    start, top = 0, first_top
    while True:
        capacity = int((top - bottom) // row_height) - 1  # minus the header row
        if capacity < 1:
            raise LayoutError("a document page has no room for its table")
        end = min(row_count, start + capacity)
        pages.append((start, end))
        if end >= row_count:
            table_bottom = top - (end - start + 1) * row_height
            if table_bottom - tail_height < bottom:
                pages.append((row_count, row_count))
            return pages
        start, top = end, other_top


class _DocumentPainter:
    """Shared drawing for the A4 documents: text, tables, footers."""

    def __init__(self, canvas: Canvas, layout: DocumentLayout) -> None:
        self.canvas = canvas
        self.layout = layout
        self.left = layout.margin
        self.right = layout.page_width - layout.margin
        self.top = layout.page_height - layout.margin
        self.bottom = layout.margin + 8 * mm  # above the footer

    def text(self, x: float, y: float, text: str, font: FontSpec, align: str = "left") -> None:
        self.canvas.setFont(font.name, font.size)
        if align == "centre":
            self.canvas.drawCentredString(x, y, text)
        elif align == "right":
            self.canvas.drawRightString(x, y, text)
        else:
            self.canvas.drawString(x, y, text)

    def paragraph(self, y: float, text: str, font: FontSpec, indent: float = 0.0) -> float:
        """Draw wrapped text from baseline y down; return the y below it."""
        width = self.right - self.left - indent
        for line in simpleSplit(text, font.name, font.size, width):
            self.text(self.left + indent, y, line, font)
            y -= font.leading
        return y

    def table(
        self,
        top: float,
        columns: Sequence[_Column],
        rows: Sequence[Sequence[str]],
        checkbox_column: int | None = None,
    ) -> float:
        """Draw a header row and rows with grid lines from top down; return the bottom."""
        canvas, layout = self.canvas, self.layout
        height = layout.row_height
        font = layout.table_font
        bold = FontSpec("Helvetica-Bold", font.size)
        xs = [self.left]
        for column in columns:
            xs.append(xs[-1] + column.width_mm * mm)
        bottom = top - height * (len(rows) + 1)
        canvas.setFillColor(Color(0.9, 0.9, 0.9))
        canvas.rect(self.left, top - height, xs[-1] - self.left, height, stroke=0, fill=1)
        canvas.setFillColor(black)
        canvas.setLineWidth(0.5)
        canvas.grid(xs, [top - i * height for i in range(len(rows) + 2)])
        baseline_offset = (height - font.size) / 2 + 0.2 * font.size
        for index, column in enumerate(columns):
            width = xs[index + 1] - xs[index] - 2 * mm
            title, size = _fit(column.title, bold, width, 5.0)
            canvas.setFont(bold.name, size)
            canvas.drawCentredString(
                (xs[index] + xs[index + 1]) / 2, top - height + baseline_offset, title
            )
        for row_index, row in enumerate(rows):
            y = top - (row_index + 2) * height + baseline_offset
            for index, column in enumerate(columns):
                if index == checkbox_column:
                    box = 3.5 * mm
                    centre = (xs[index] + xs[index + 1]) / 2
                    canvas.rect(centre - box / 2, y - 0.5 * mm, box, box, stroke=1, fill=0)
                    continue
                value = row[index] if index < len(row) else ""
                if not value:
                    continue
                width = xs[index + 1] - xs[index] - 2 * mm
                value, size = _fit(value, font, width, 5.0)
                canvas.setFont(font.name, size)
                if column.align == "centre":
                    canvas.drawCentredString((xs[index] + xs[index + 1]) / 2, y, value)
                else:
                    canvas.drawString(xs[index] + 1 * mm, y, value)
        return bottom

    def footer(self, text: str, page: int, pages: int) -> None:
        font = self.layout.small_font
        y = self.layout.margin
        self.text(self.left, y, text, font)
        self.text(self.right, y, f"Halaman {page} dari {pages}", font, align="right")

    def qr(self, text: str, serial: str) -> None:
        """The document's QR code at the top right, its serial under it."""
        side = self.layout.qr_side
        x, y = self.right - side, self.top - side
        draw_qr(self.canvas, qr_matrix(text), x, y, side)
        font = self.layout.small_font
        self.text(
            x + side / 2, y - font.size, serial, FontSpec("Courier-Bold", font.size), "centre"
        )


_KIT_COLUMNS = (
    _Column("No", 10, "centre"),
    _Column("Jenis Logistik", 52),
    _Column("Pemilihan", 26),
    _Column("Jumlah", 24, "centre"),
    _Column("Nomor Seri", 50, "centre"),
    _Column("Cek", 18, "centre"),
)


def write_kit_manifest(kit: KitManifest, out: Output, layout: DocumentLayout = A4_DOCUMENT) -> int:
    """Write the packing list of one TPS kit with the kit's QR code; return page count."""
    canvas = _open_canvas(out, layout.page_width, layout.page_height, 6)
    painter = _DocumentPainter(canvas, layout)
    body, title = layout.body_font, layout.title_font
    details = (
        ("TPS", kit.tps_number),
        ("Desa/Kelurahan (PPS)", kit.desa),
        ("Kecamatan (PPK)", kit.kecamatan),
        ("Kabupaten/Kota", kit.kabupaten),
        ("Provinsi", kit.provinsi),
        ("Kode tujuan", kit.destination_code),
    )
    details_bottom = painter.top - title.size - body.leading * (2.8 + len(details))
    qr_bottom = painter.top - layout.qr_side - layout.small_font.leading
    header_bottom = min(details_bottom, qr_bottom) - 2 * mm
    other_top = painter.top - title.leading * 1.5
    tail_height = 30 * mm
    pages = _plan_pages(
        len(kit.lines), header_bottom, other_top, painter.bottom, layout.row_height, tail_height
    )
    rows = [
        (
            str(number),
            line.item_type_name,
            line.race_name or "-",
            line.quantity_text,
            line.serial,
        )
        for number, line in enumerate(kit.lines, start=1)
    ]
    footer = f"Daftar kelengkapan paket {kit.serial} - TPS {kit.tps_number} {kit.desa}"
    for page_number, (start, end) in enumerate(pages, start=1):
        if page_number == 1:
            painter.qr(kit.qr_text, kit.serial)
            y = painter.top - title.size
            painter.text(painter.left, y, "DAFTAR KELENGKAPAN LOGISTIK TPS", title)
            y -= body.leading * 1.2
            painter.text(painter.left, y, kit.election_name, body)
            y -= body.leading * 1.6
            for label, value in details:
                painter.text(painter.left, y, label, body)
                painter.text(painter.left + 42 * mm, y, f": {value}", body)
                y -= body.leading
            table_top = header_bottom
        else:
            painter.text(
                painter.left, painter.top - title.size, f"Lanjutan - TPS {kit.tps_number}", body
            )
            table_top = other_top
        bottom = table_top
        if start < end or page_number == 1:
            bottom = painter.table(table_top, _KIT_COLUMNS, rows[start:end], checkbox_column=5)
        if page_number == len(pages):
            y = bottom - 10 * mm
            painter.text(painter.left, y, f"Jumlah barang: {len(kit.lines)}", body)
            y -= 10 * mm
            painter.text(painter.left, y, "Dikemas oleh: ______________________", body)
            painter.text(painter.left + 95 * mm, y, "Diperiksa oleh (KPPS): ______________", body)
            y -= 8 * mm
            painter.text(painter.left, y, "Tanggal: ___________  Paraf: ________", body)
            painter.text(painter.left + 95 * mm, y, "Tanggal: ___________  Paraf: ________", body)
        painter.footer(footer, page_number, len(pages))
        canvas.showPage()
    canvas.save()
    return len(pages)


_HANDOVER_COLUMNS = (
    _Column("No", 10, "centre"),
    _Column("Jenis Logistik", 42),
    _Column("Pemilihan", 22),
    _Column("Jumlah Rencana", 25, "centre"),
    _Column("Jumlah Diterima", 25, "centre"),
    _Column("Kondisi", 24, "centre"),
    _Column("Nomor Segel", 32, "centre"),
)


def write_handover_form(
    form: HandoverForm, out: Output, layout: DocumentLayout = A4_DOCUMENT
) -> int:
    """Write the berita acara serah terima of one leg; return the page count."""
    canvas = _open_canvas(out, layout.page_width, layout.page_height, 6)
    painter = _DocumentPainter(canvas, layout)
    body, title = layout.body_font, layout.title_font

    # The opening text is measured first so the table can start right under it.
    when = format_local_time(form.handed_over_at, form.zone)
    sender = f"{form.sender.name} ({form.sender.code})" if form.sender.code else form.sender.name
    receiver = (
        f"{form.receiver.name} ({form.receiver.code})" if form.receiver.code else form.receiver.name
    )
    opening = [
        f"Pada hari ini {when}, bertempat di {form.place}, kami yang bertanda tangan di bawah ini:",
        f"1. Nama: ................................  Jabatan: ......................., "
        f"mewakili {sender}, selanjutnya disebut PIHAK PERTAMA;",
        f"2. Nama: ................................  Jabatan: ......................., "
        f"mewakili {receiver}, selanjutnya disebut PIHAK KEDUA.",
        "PIHAK PERTAMA menyerahkan kepada PIHAK KEDUA, dan PIHAK KEDUA menerima dari "
        f"PIHAK PERTAMA, logistik {form.election_name} dengan rincian sebagai berikut:",
    ]
    text_width = painter.right - painter.left
    header_height = title.leading * 3 + body.leading
    if form.qr_text:
        header_height = max(header_height, layout.qr_side + layout.small_font.leading)
    opening_lines = [simpleSplit(p, body.name, body.size, text_width) for p in opening]
    opening_height = sum(len(lines) + 0.4 for lines in opening_lines) * body.leading
    first_top = painter.top - header_height - opening_height
    other_top = painter.top - title.leading * 1.5
    closing = [
        "Kolom Kondisi diisi: Baik / Rusak Ringan / Rusak Berat / Basah. Segel yang rusak "
        "atau nomor segel yang berbeda dicatat pada kolom Nomor Segel.",
        *form.notes,
        "Demikian berita acara ini dibuat dengan sebenarnya dan ditandatangani oleh kedua "
        "belah pihak serta saksi untuk dipergunakan sebagaimana mestinya.",
    ]
    closing_lines = [simpleSplit(p, body.name, body.size, text_width) for p in closing]
    signature_height = 42 * mm
    tail_height = sum(len(lines) + 0.4 for lines in closing_lines) * body.leading + signature_height
    pages = _plan_pages(
        len(form.lines), first_top, other_top, painter.bottom, layout.row_height, tail_height
    )
    rows = [
        (str(number), line.item_type_name, line.race_name or "-", line.planned_quantity)
        for number, line in enumerate(form.lines, start=1)
    ]
    footer = f"{form.document_number}: {form.sender.name} kepada {form.receiver.name}"

    for page_number, (start, end) in enumerate(pages, start=1):
        if page_number == 1:
            centre = (painter.left + painter.right) / 2
            if form.qr_text:
                painter.qr(form.qr_text, form.document_number)
                centre = (painter.left + painter.right - layout.qr_side) / 2
            y = painter.top - title.size
            painter.text(centre, y, "BERITA ACARA SERAH TERIMA LOGISTIK", title, "centre")
            y -= title.leading
            painter.text(centre, y, form.election_name.upper(), body, "centre")
            y -= title.leading
            painter.text(centre, y, f"Nomor: {form.document_number}", body, "centre")
            y = painter.top - header_height - body.size
            for lines in opening_lines:
                for line in lines:
                    painter.text(painter.left, y, line, body)
                    y -= body.leading
                y -= 0.4 * body.leading
            table_top = first_top
        else:
            painter.text(
                painter.left,
                painter.top - title.size,
                f"Lanjutan BAST {form.document_number}",
                body,
            )
            table_top = other_top
        bottom = table_top
        if start < end or page_number == 1:
            bottom = painter.table(table_top, _HANDOVER_COLUMNS, rows[start:end])
        if page_number == len(pages):
            _draw_handover_closing(painter, bottom, closing_lines, signature_height)
        painter.footer(footer, page_number, len(pages))
        canvas.showPage()
    canvas.save()
    return len(pages)


def _draw_handover_closing(
    painter: _DocumentPainter,
    top: float,
    closing_lines: list[list[str]],
    signature_height: float,
) -> None:
    body = painter.layout.body_font
    bold = FontSpec("Helvetica-Bold", body.size)
    y = top - body.leading * 1.2
    for lines in closing_lines:
        for line in lines:
            painter.text(painter.left, y, line, body)
            y -= body.leading
        y -= 0.4 * body.leading
    width = (painter.right - painter.left) / 3
    y -= body.leading
    blocks = (
        ("PIHAK PERTAMA", "Yang Menyerahkan"),
        ("PIHAK KEDUA", "Yang Menerima"),
        ("SAKSI", "Polri / TNI / Pengawas"),
    )
    for index, (role, subtitle) in enumerate(blocks):
        centre = painter.left + width * (index + 0.5)
        painter.text(centre, y, role, bold, "centre")
        painter.text(centre, y - body.leading, subtitle, body, "centre")
        painter.text(
            centre,
            y - signature_height + 12 * mm,
            "(.............................)",
            body,
            "centre",
        )
        painter.text(
            centre,
            y - signature_height + 12 * mm - body.leading,
            "Nama jelas",
            painter.layout.small_font,
            "centre",
        )
