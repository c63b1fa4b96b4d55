"""PDF writer for label sheets; the A4 documents are written by ``labels.forms``.

The writer takes a path or a binary file object. Output is reproducible: the same
input gives the same bytes (reportlab's invariant mode), so a printed batch can be
checked against its file. QR codes are vector paths; fonts are the PDF built-ins.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from reportlab.lib.colors import Color, HexColor, black, white
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from labels.canvas import ELLIPSIS, Output, fit_text, open_canvas
from labels.documents import LabelSheetItem
from labels.errors import LayoutError
from labels.layouts import Field, FontSpec, LabelLayout
from labels.qr import draw_qr, qr_matrix

_GREY = Color(0.55, 0.55, 0.55)


def _text_colour_on(background: Color) -> Color:
    luminance = 0.299 * background.red + 0.587 * background.green + 0.114 * background.blue
    result: Color = black if luminance > 0.55 else white
    return result


class _LabelPainter:
    """Draws label cells of one layout on one canvas.

    Each label is drawn in its own coordinate system (origin at the cell's bottom-left
    corner), so the operators for its colour band and its text lines do not depend on
    where the cell sits on the page. Those operators repeat across thousands of labels
    (the same TPS, region and item type), so they are built once with reportlab's text
    objects and replayed; only the QR code and the serial are new on every label. The
    caches belong to this painter, which belongs to one write call.
    """

    _CACHE_LIMIT = 4096

    def __init__(self, canvas: Canvas, layout: LabelLayout) -> None:
        self.canvas = canvas
        self.layout = layout
        self._fitted: dict[tuple[str, str, float, float], tuple[str, float]] = {}
        self._bands: dict[tuple[str, str | None], str] = {}
        self._blocks: dict[tuple[str, ...], str] = {}
        self._serials: dict[tuple[int, float], tuple[int, float, float]] = {}
        side = layout.qr_side
        top = layout.cell_height - layout.band_height - layout.padding
        self._qr_x, self._qr_y = layout.qr_offset
        if layout.qr_position == "left":
            self._text_x = layout.padding * 2 + side
            self._text_top = top
        else:
            self._text_x = layout.padding
            self._text_top = self._qr_y - layout.serial_font.leading - layout.padding / 2
        self._text_width = layout.cell_width - layout.padding - self._text_x

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
        canvas.saveState()
        canvas.translate(x, y)
        if layout.cut_lines:
            canvas.setStrokeColor(_GREY)
            canvas.rect(0, 0, layout.cell_width, layout.cell_height, stroke=1, fill=0)
        if layout.band_height and item.race_colour:
            canvas.addLiteral(self._band(item.race_colour, item.race_name))

        side = layout.qr_side
        draw_qr(canvas, qr_matrix(item.qr_text), self._qr_x, self._qr_y, side)

        serial, size, width = self._serial_fit(item.serial)
        text = canvas.beginText(self._qr_x + (side - width) / 2, self._qr_y - size)
        text.setFont(layout.serial_font.name, size)
        text.textOut(serial)
        canvas.drawText(text)

        lines = tuple(self._field_text(field, item) for field in layout.fields)
        block = self._blocks.get(lines)
        if block is None:
            block = self._text_block(lines)
            if len(self._blocks) > self._CACHE_LIMIT:
                self._blocks.clear()
            self._blocks[lines] = block
        if block:
            canvas.addLiteral(block)
        canvas.restoreState()

    def _band(self, hex_colour: str, race_name: str | None) -> str:
        """PDF operators for the race colour band with its caption, in cell coordinates."""
        key = (hex_colour, race_name)
        code = self._bands.get(key)
        if code is None:
            layout = self.layout
            background = HexColor(hex_colour)
            top, band, pad = layout.cell_height, layout.band_height, layout.padding
            font = layout.band_font
            label = f"PEMILIHAN {(race_name or '').upper()}".strip()
            label, size = self._fit(label, font, layout.cell_width - 2 * pad)
            text = self.canvas.beginText(pad, top - band / 2 - size * 0.35)
            text.setFillColor(_text_colour_on(background))
            text.setFont(font.name, size)
            text.textOut(label)
            rgb = " ".join(f"{c:.4f}" for c in background.rgb())
            code = (
                f"{rgb} rg 0 {top - band:.3f} {layout.cell_width:.3f} {band:.3f} re f\n"
                f"{text.getCode()}\n0 g"
            )
            self._bands[key] = code
        return code

    def _text_block(self, lines: tuple[str, ...]) -> str:
        """PDF operators for a label's text lines, in cell coordinates."""
        layout = self.layout
        fitted: list[tuple[str, FontSpec, float]] = []
        for field, line in zip(layout.fields, lines, strict=True):
            if line:
                font = layout.font_for(field)
                line, size = self._fit(line, font, self._text_width)
                fitted.append((line, font, size))
        if not fitted:
            return ""
        # Each line moves down by the leading (T*), set so that every baseline lands
        # where the layout puts it.
        text = self.canvas.beginText(self._text_x, self._text_top - fitted[0][1].size)
        current: tuple[str, float, float] | None = None
        for index, (line, font, size) in enumerate(fitted):
            following = fitted[index + 1][1] if index + 1 < len(fitted) else font
            leading = font.leading - font.size + following.size
            if current != (font.name, size, leading):
                text.setFont(font.name, size, leading)
                current = (font.name, size, leading)
            text.textLine(line)
        code: str = text.getCode()
        return code

    def _serial_fit(self, serial: str) -> tuple[str, float, float]:
        """The serial as printed under the QR code: text, font size and width."""
        font = self.layout.serial_font
        if font.name.startswith("Courier"):
            # Monospaced: the fit depends only on the length, which every serial shares.
            key = (len(serial), font.size)
            fitted = self._serials.get(key)
            if fitted is None:
                text, size = fit_text(serial, font, self.layout.qr_side, self.layout.min_font_size)
                fitted = (len(text), size, stringWidth(text, font.name, size))
                self._serials[key] = fitted
            length, size, width = fitted
            shown = serial if length == len(serial) else serial[: length - 1] + ELLIPSIS
            return shown, size, width
        text, size = fit_text(serial, font, self.layout.qr_side, self.layout.min_font_size)
        return text, size, stringWidth(text, font.name, size)

    def _fit(self, text: str, font: FontSpec, width: float) -> tuple[str, float]:
        key = (text, font.name, font.size, width)
        fitted = self._fitted.get(key)
        if fitted is None:
            if len(self._fitted) > self._CACHE_LIMIT:
                self._fitted.clear()
            fitted = fit_text(text, font, width, self.layout.min_font_size)
            self._fitted[key] = fitted
        return fitted


def write_labels(
    items: Iterable[LabelSheetItem],
    layout: LabelLayout,
    out: Output,
    progress: Callable[[int], None] | None = None,
    *,
    compress_level: int = 1,
) -> int:
    """Write labels into a PDF in the layout's grid; return how many were written.

    ``progress`` is called with the running count after each finished page;
    ``compress_level`` is the zlib level of page streams: 1 (the default) is fastest;
    6 makes the file about a quarter smaller for half again the time.
    """
    canvas = open_canvas(out, layout.page_width, layout.page_height, compress_level)
    painter = _LabelPainter(canvas, layout)
    per_page = layout.per_page
    count = 0
    for item in items:
        if count and count % per_page == 0:
            canvas.showPage()
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
