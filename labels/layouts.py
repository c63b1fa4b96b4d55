"""Page layouts as data: sticker sheets, thermal labels, and the A4 documents.

A label layout is a grid of cells on a page. Each cell carries the race colour band
(when the item belongs to one race), the QR code with the serial under it, and text
lines for the fields the layout lists. Writers in ``labels.pdf`` draw any layout; a new
label stock is a new constant here, not new drawing code. Lengths are PDF points.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm

from labels.errors import LayoutError
from labels.qr import MIN_MODULE_SIZE, QUIET_ZONE

# The largest v1 label (longest item type and key id) is QR version 9 (53 modules) in
# the TP1: form and version 11 (61 modules) as a link on a host of up to about 45
# characters; every layout must hold that at the 0.4 mm minimum module.
LARGEST_LABEL_MODULES = 61
MIN_QR_SIDE = (LARGEST_LABEL_MODULES + 2 * QUIET_ZONE) * MIN_MODULE_SIZE


class Field(StrEnum):
    """A line of text a label layout can show."""

    ITEM_TYPE = "item_type"  # "Kotak Suara"
    TPS = "tps"  # "TPS 001"
    QUANTITY = "quantity"  # "Isi: 20 lembar"
    DESA = "desa"  # "PPS: Tumbang Posu"
    KECAMATAN = "kecamatan"  # "PPK: Rungan"
    KABUPATEN = "kabupaten"  # "Kab/Kota: Gunung Mas"
    PROVINSI = "provinsi"  # "Provinsi: Kalimantan Tengah"
    DESTINATION = "destination"  # "Tujuan: 6210052016001"


@dataclass(frozen=True, slots=True)
class FontSpec:
    """A built-in PDF font and its size in points."""

    name: str
    size: float

    @property
    def leading(self) -> float:
        """Baseline-to-baseline distance for lines in this font."""
        return self.size * 1.2


@dataclass(frozen=True, slots=True)
class LabelLayout:
    """A sheet of identical label cells and what each cell shows."""

    name: str
    page_width: float
    page_height: float
    columns: int
    rows: int
    margin_left: float
    margin_top: float
    gap_x: float
    gap_y: float
    cell_width: float
    cell_height: float
    padding: float
    qr_side: float
    qr_position: Literal["left", "top"]
    band_height: float
    heading_font: FontSpec
    tps_font: FontSpec
    body_font: FontSpec
    serial_font: FontSpec
    band_font: FontSpec
    fields: tuple[Field, ...]
    min_font_size: float = 5.0
    cut_lines: bool = False

    def __post_init__(self) -> None:
        if self.columns < 1 or self.rows < 1:
            raise LayoutError(f"{self.name}: grid must have at least one cell")
        right = self.margin_left + self.columns * self.cell_width
        right += (self.columns - 1) * self.gap_x
        bottom = self.margin_top + self.rows * self.cell_height + (self.rows - 1) * self.gap_y
        if right > self.page_width + 0.01 or bottom > self.page_height + 0.01:
            raise LayoutError(f"{self.name}: the grid does not fit on the page")
        if self.qr_side < MIN_QR_SIDE - 1e-6:
            raise LayoutError(
                f"{self.name}: QR box {self.qr_side / mm:.1f} mm is smaller than the "
                f"{MIN_QR_SIDE / mm:.1f} mm a label needs at 0.4 mm per module"
            )
        qr_area = self.qr_side + self.serial_font.leading
        if self.qr_position == "left":
            needed_width = self.qr_side + 3 * self.padding + 20 * mm
            needed_height = self.band_height + qr_area + 2 * self.padding
        else:
            needed_width = self.qr_side + 2 * self.padding
            needed_height = self.band_height + qr_area + 2 * self.padding + self.text_height
        if needed_width > self.cell_width + 0.01 or needed_height > self.cell_height + 0.01:
            raise LayoutError(f"{self.name}: QR code and text do not fit in a cell")
        if self.text_height > self.cell_height - self.band_height - 2 * self.padding + 0.01:
            raise LayoutError(f"{self.name}: the text lines do not fit in a cell")

    @property
    def per_page(self) -> int:
        """Labels on one page."""
        return self.columns * self.rows

    @property
    def text_height(self) -> float:
        """Height taken by the text lines of one label."""
        return sum(self.font_for(field).leading for field in self.fields)

    def font_for(self, field: Field) -> FontSpec:
        """The font a field's line is set in."""
        if field is Field.TPS:
            return self.tps_font
        if field is Field.ITEM_TYPE:
            return self.heading_font
        return self.body_font

    @property
    def qr_offset(self) -> tuple[float, float]:
        """Bottom-left corner of the QR square (quiet zone included) within a cell."""
        top = self.cell_height - self.band_height - self.padding
        x = self.padding if self.qr_position == "left" else (self.cell_width - self.qr_side) / 2
        return x, top - self.qr_side

    def cell_origin(self, index: int) -> tuple[float, float]:
        """Bottom-left corner of cell ``index`` (row by row from the top left)."""
        row, column = divmod(index % self.per_page, self.columns)
        x = self.margin_left + column * (self.cell_width + self.gap_x)
        top = self.page_height - self.margin_top - row * (self.cell_height + self.gap_y)
        return x, top - self.cell_height


ALL_FIELDS = (
    Field.ITEM_TYPE,
    Field.TPS,
    Field.QUANTITY,
    Field.DESA,
    Field.KECAMATAN,
    Field.KABUPATEN,
    Field.PROVINSI,
    Field.DESTINATION,
)

_HELVETICA = "Helvetica"
_HELVETICA_BOLD = "Helvetica-Bold"
_COURIER_BOLD = "Courier-Bold"

# 8 stickers of 99.1 x 67.7 mm on A4 (the common L7165 sheet geometry), big enough to
# read a box sticker at arm's length.
A4_STICKER = LabelLayout(
    name="a4-sticker",
    page_width=A4[0],
    page_height=A4[1],
    columns=2,
    rows=4,
    margin_left=4.65 * mm,
    margin_top=13.1 * mm,
    gap_x=2.5 * mm,
    gap_y=0.0,
    cell_width=99.1 * mm,
    cell_height=67.7 * mm,
    padding=2.5 * mm,
    qr_side=44 * mm,
    qr_position="left",
    band_height=7 * mm,
    heading_font=FontSpec(_HELVETICA_BOLD, 14),
    tps_font=FontSpec(_HELVETICA_BOLD, 22),
    body_font=FontSpec(_HELVETICA, 10),
    serial_font=FontSpec(_COURIER_BOLD, 9),
    band_font=FontSpec(_HELVETICA_BOLD, 11),
    fields=ALL_FIELDS,
)

# Thermal roll label 100 x 150 mm (shipping-label size): one label per page, QR on top.
THERMAL_100x150 = LabelLayout(
    name="thermal-100x150",
    page_width=100 * mm,
    page_height=150 * mm,
    columns=1,
    rows=1,
    margin_left=0.0,
    margin_top=0.0,
    gap_x=0.0,
    gap_y=0.0,
    cell_width=100 * mm,
    cell_height=150 * mm,
    padding=4 * mm,
    qr_side=62 * mm,
    qr_position="top",
    band_height=12 * mm,
    heading_font=FontSpec(_HELVETICA_BOLD, 18),
    tps_font=FontSpec(_HELVETICA_BOLD, 28),
    body_font=FontSpec(_HELVETICA, 12),
    serial_font=FontSpec(_COURIER_BOLD, 12),
    band_font=FontSpec(_HELVETICA_BOLD, 16),
    fields=ALL_FIELDS,
)

# Thermal roll label 100 x 50 mm: one label per page, QR on the left, compact text.
THERMAL_100x50 = LabelLayout(
    name="thermal-100x50",
    page_width=100 * mm,
    page_height=50 * mm,
    columns=1,
    rows=1,
    margin_left=0.0,
    margin_top=0.0,
    gap_x=0.0,
    gap_y=0.0,
    cell_width=100 * mm,
    cell_height=50 * mm,
    padding=1.5 * mm,
    qr_side=38 * mm,
    qr_position="left",
    band_height=5 * mm,
    heading_font=FontSpec(_HELVETICA_BOLD, 10),
    tps_font=FontSpec(_HELVETICA_BOLD, 14),
    body_font=FontSpec(_HELVETICA, 8),
    serial_font=FontSpec(_COURIER_BOLD, 7),
    band_font=FontSpec(_HELVETICA_BOLD, 8),
    fields=(
        Field.ITEM_TYPE,
        Field.TPS,
        Field.QUANTITY,
        Field.DESA,
        Field.KECAMATAN,
        Field.KABUPATEN,
        Field.PROVINSI,
    ),
)

LAYOUTS: dict[str, LabelLayout] = {
    layout.name: layout for layout in (A4_STICKER, THERMAL_100x150, THERMAL_100x50)
}


@dataclass(frozen=True, slots=True)
class DocumentLayout:
    """Page geometry and type sizes of the A4 documents (kit manifest, BAST)."""

    page_width: float
    page_height: float
    margin: float
    title_font: FontSpec
    body_font: FontSpec
    table_font: FontSpec
    small_font: FontSpec
    row_height: float
    qr_side: float

    def __post_init__(self) -> None:
        if self.qr_side < MIN_QR_SIDE - 1e-6:
            raise LayoutError(f"document QR box is smaller than {MIN_QR_SIDE / mm:.1f} mm")


A4_DOCUMENT = DocumentLayout(
    page_width=A4[0],
    page_height=A4[1],
    margin=15 * mm,
    title_font=FontSpec(_HELVETICA_BOLD, 13),
    body_font=FontSpec(_HELVETICA, 10),
    table_font=FontSpec(_HELVETICA, 9),
    small_font=FontSpec(_HELVETICA, 7.5),
    row_height=6.5 * mm,
    qr_side=32 * mm,
)
