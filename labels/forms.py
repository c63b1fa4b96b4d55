"""PDF writers for the A4 documents: TPS kit manifests and handover forms (BAST).

Each writer takes a path or a binary file object and gives the same bytes for the
same input, like the label sheet writer in ``labels.pdf``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.lib.colors import Color, black
from reportlab.lib.units import mm
from reportlab.lib.utils import simpleSplit
from reportlab.pdfgen.canvas import Canvas

from labels.canvas import Output, fit_text, open_canvas
from labels.documents import HandoverForm, KitManifest, format_local_time
from labels.errors import LayoutError
from labels.layouts import A4_DOCUMENT, DocumentLayout, FontSpec
from labels.qr import draw_qr, qr_matrix

_PARAGRAPH_GAP = 0.4  # extra space after a paragraph, in lines


@dataclass(frozen=True, slots=True)
class _Column:
    title: str
    width_mm: float
    align: str = "left"  # "left" | "centre"


#: Table rows carried to the last page so the signatures stand under part of the table.
_ROWS_WITH_TAIL = 3


def _plan_pages(
    row_count: int,
    first_top: float,
    other_top: float,
    bottom: float,
    row_height: float,
    tail_height: float,
) -> list[tuple[int, int]]:
    """Split table rows over pages: (start, end) per page; the last page has rows and the tail."""
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
                # The signatures never stand alone: the last rows go over with them, so
                # the page that is signed also shows (the end of) the table.
                moved = min(_ROWS_WITH_TAIL, end - start)
                pages[-1] = (start, end - moved)
                pages.append((end - moved, row_count))
                if other_top - (moved + 1) * row_height - tail_height < bottom:
                    raise LayoutError("a document page has no room for its closing")
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
        """Draw one line of text anchored at (x, y) on the left, centre or right."""
        self.canvas.setFont(font.name, font.size)
        if align == "centre":
            self.canvas.drawCentredString(x, y, text)
        elif align == "right":
            self.canvas.drawRightString(x, y, text)
        else:
            self.canvas.drawString(x, y, text)

    def paragraphs(self, y: float, paragraphs: Sequence[Sequence[str]], font: FontSpec) -> float:
        """Draw paragraphs of already wrapped lines from baseline y; return the next y."""
        for lines in paragraphs:
            for line in lines:
                self.text(self.left, y, line, font)
                y -= font.leading
            y -= _PARAGRAPH_GAP * font.leading
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
            title, size = fit_text(column.title, bold, width, 5.0)
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
                value, size = fit_text(value, font, width, 5.0)
                canvas.setFont(font.name, size)
                if column.align == "centre":
                    canvas.drawCentredString((xs[index] + xs[index + 1]) / 2, y, value)
                else:
                    canvas.drawString(xs[index] + 1 * mm, y, value)
        return bottom

    def footer(self, text: str, page: int, pages: int) -> None:
        """Draw the page footer: what the document is and 'Halaman i dari n'."""
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
    canvas = open_canvas(out, layout.page_width, layout.page_height, 6)
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
    canvas = open_canvas(out, layout.page_width, layout.page_height, 6)
    painter = _DocumentPainter(canvas, layout)
    body, title = layout.body_font, layout.title_font

    # The opening text is measured first so the table can start right under it.
    if form.handed_over_at is None:
        # Printed before the handover: the parties write the real moment, never a deadline.
        when = f"................ tanggal ........................ pukul ........ {form.zone}"
    else:
        when = format_local_time(form.handed_over_at, form.zone)
    sender = f"{form.sender.name} ({form.sender.code})" if form.sender.code else form.sender.name
    receiver = (
        f"{form.receiver.name} ({form.receiver.code})" if form.receiver.code else form.receiver.name
    )
    blank_name = "................................"
    opening = [
        f"Pada hari ini {when}, bertempat di {form.place}, kami yang bertanda tangan di bawah ini:",
        f"1. Nama: {form.sender.person or blank_name}  Jabatan: ......................., "
        f"mewakili {sender}, selanjutnya disebut PIHAK PERTAMA;",
        f"2. Nama: {form.receiver.person or blank_name}  Jabatan: ......................., "
        f"mewakili {receiver}, selanjutnya disebut PIHAK KEDUA.",
        "PIHAK PERTAMA menyerahkan kepada PIHAK KEDUA, dan PIHAK KEDUA menerima dari "
        f"PIHAK PERTAMA, logistik {form.election_name} dengan rincian sebagai berikut:",
    ]
    text_width = painter.right - painter.left
    header_height = title.leading * 3 + body.leading
    if form.qr_text:
        header_height = max(header_height, layout.qr_side + layout.small_font.leading)
    opening_lines = [simpleSplit(p, body.name, body.size, text_width) for p in opening]
    opening_height = sum(len(lines) + _PARAGRAPH_GAP for lines in opening_lines) * body.leading
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
    # Closing paragraphs, the gaps around them and the three signature blocks.
    closing_height = sum(len(lines) + _PARAGRAPH_GAP for lines in closing_lines) + 3.2
    tail_height = closing_height * body.leading + signature_height
    pages = _plan_pages(
        len(form.lines), first_top, other_top, painter.bottom, layout.row_height, tail_height
    )
    rows = [
        (
            str(number),
            line.item_type_name,
            line.race_name or "-",
            line.planned_quantity,
            line.received_quantity,
            line.condition,
            line.seals,
        )
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
            painter.paragraphs(painter.top - header_height - body.size, opening_lines, body)
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
            people = (form.sender.person, form.receiver.person, "")
            _draw_handover_closing(painter, bottom, closing_lines, signature_height, people)
        painter.footer(footer, page_number, len(pages))
        canvas.showPage()
    canvas.save()
    return len(pages)


def _draw_handover_closing(
    painter: _DocumentPainter,
    top: float,
    closing_lines: list[list[str]],
    signature_height: float,
    people: tuple[str, str, str],
) -> None:
    body = painter.layout.body_font
    bold = FontSpec("Helvetica-Bold", body.size)
    y = painter.paragraphs(top - body.leading * 1.2, closing_lines, body)
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
            f"({people[index]})" if people[index] else "(.............................)",
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
