"""The drawn QR path, rasterised, is its matrix module for module, quiet zone included.

Regression for the run-merging bug in ``path_operators``: a run in a symbol's last row
was merged with a run one module wider in row 0, so row 0 lost modules and the quiet
zone under the symbol got a dark strip (21-38 % of the Gunung Mas demo symbols). The
old round trip missed it because slicing the rendered symbol to the matrix's size
dropped the extra row. Here every symbol is compared as a full-size array that reaches
two modules beyond its quiet zone, and the page as a whole must hold no other dark pixel.

Payloads are random, across versions 1-15, every ECC level and every mask: level Q
through our own ``qr_matrix``, levels L, M and H through the ``qrcode`` package (the
path writer only needs a matrix), plus random module noise as the hardest input for
the run merging.
"""

from __future__ import annotations

import io
import random
from collections.abc import Iterator

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import qrcode
import qrcode.util
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M
from reportlab.pdfgen.canvas import Canvas

from labels import draw_qr, qr_matrix
from labels.qr import ALPHANUMERIC, QUIET_ZONE, QrMatrix, choose_version

VERSIONS = range(1, 16)
MODULE_PT = 2.0  # 2 px per module when rendered at 72 dpi (scale 1)
PIXELS = 2
MARGIN = 2  # modules checked beyond the quiet zone
BORDER = QUIET_ZONE + MARGIN
CELL = (max(VERSIONS) * 4 + 17) + 2 * BORDER  # modules per cell side
GRID = 8  # cells per page side

rng = random.Random(20241127)


def alphanumeric(length: int) -> str:
    return "".join(rng.choice(ALPHANUMERIC) for _ in range(length))


def q_lengths() -> dict[int, tuple[int, int]]:
    """For each version, the shortest and longest alphanumeric text our writer puts in it."""
    spans: dict[int, tuple[int, int]] = {}
    for length in range(1, 1200):
        version = choose_version(length)
        if version in VERSIONS:
            low, _ = spans.get(version, (length, length))
            spans[version] = (low, length)
    return spans


def level_q_symbols(per_version_and_mask: int) -> Iterator[QrMatrix]:
    """Our own writer: random texts filling each version, under every forced mask."""
    for version, (low, high) in q_lengths().items():
        for mask in range(8):
            for _ in range(per_version_and_mask):
                matrix = qr_matrix(alphanumeric(rng.randint(low, high)), mask=mask)
                assert (matrix.version, matrix.mask) == (version, mask)
                yield matrix


def other_level_symbols(per_version_and_mask: int) -> Iterator[QrMatrix]:
    """The qrcode package at levels L, M and H, random bytes or alphanumeric text."""
    for level in (ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_H):
        for version in VERSIONS:
            for mask in range(8):
                for _ in range(per_version_and_mask):
                    symbol = qrcode.QRCode(
                        version=version, error_correction=level, mask_pattern=mask, border=0
                    )
                    bits = qrcode.util.BIT_LIMIT_TABLE[level][version]
                    if rng.random() < 0.5:
                        count = qrcode.util.length_in_bits(qrcode.util.MODE_8BIT_BYTE, version)
                        room = (bits - 4 - count) // 8
                        data = qrcode.util.QRData(
                            rng.randbytes(rng.randint(1, room)), mode=qrcode.util.MODE_8BIT_BYTE
                        )
                    else:
                        count = qrcode.util.length_in_bits(qrcode.util.MODE_ALPHA_NUM, version)
                        room = (bits - 4 - count) // 11 * 2
                        data = qrcode.util.QRData(
                            alphanumeric(rng.randint(1, room)), mode=qrcode.util.MODE_ALPHA_NUM
                        )
                    symbol.add_data(data)
                    symbol.make(fit=False)
                    modules = np.array(symbol.get_matrix(), dtype=np.bool_)
                    yield QrMatrix(modules, version, mask)


def noise_symbols(count: int) -> Iterator[QrMatrix]:
    """Random modules of every symbol size: every run shape the merging can meet."""
    numbers = np.random.default_rng(20241127)
    for index in range(count):
        version = VERSIONS[index % len(VERSIONS)]
        size = version * 4 + 17
        density = numbers.uniform(0.2, 0.8)
        yield QrMatrix(numbers.random((size, size)) < density, version, 0)


def drawn_pages(symbols: list[QrMatrix]) -> bytes:
    """Each symbol in its own cell of a grid, through ``draw_qr`` as the label writers do."""
    out = io.BytesIO()
    side = CELL * MODULE_PT * GRID
    canvas = Canvas(out, pagesize=(side, side), pageCompression=0)
    for index, matrix in enumerate(symbols):
        slot = index % (GRID * GRID)
        if index and slot == 0:
            canvas.showPage()
        column, row = slot % GRID, slot // GRID
        symbol_side = (matrix.size + 2 * QUIET_ZONE) * MODULE_PT
        x = column * CELL * MODULE_PT + MARGIN * MODULE_PT
        top = side - row * CELL * MODULE_PT - MARGIN * MODULE_PT
        draw_qr(canvas, matrix, x, top - symbol_side, symbol_side)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def rendered_pages(pdf: bytes) -> Iterator[npt.NDArray[np.bool_]]:
    """Dark pixels of each page at 72 dpi, without anti-aliasing (crisp module edges)."""
    document = pdfium.PdfDocument(pdf)
    try:
        for page in document:
            bitmap = page.render(scale=1, grayscale=True, no_smoothpath=True)
            pixels = bitmap.to_numpy()
            yield pixels.reshape(pixels.shape[0], pixels.shape[1], -1)[:, :, 0] < 128
    finally:
        document.close()


def expected_cell(matrix: QrMatrix) -> npt.NDArray[np.bool_]:
    """The cell as it must look: the symbol, its quiet zone and the margin, all in pixels."""
    modules = matrix.with_quiet_zone(BORDER)
    return np.kron(modules, np.ones((PIXELS, PIXELS), dtype=np.bool_)).astype(np.bool_)


def mismatches(symbols: list[QrMatrix]) -> list[str]:
    """Describe every symbol whose drawing differs from its matrix."""
    problems: list[str] = []
    per_page = GRID * GRID
    for page_number, dark in enumerate(rendered_pages(drawn_pages(symbols))):
        assert dark.shape == (CELL * PIXELS * GRID,) * 2
        on_page = symbols[page_number * per_page : (page_number + 1) * per_page]
        expected_dark = 0
        for slot, matrix in enumerate(on_page):
            want = expected_cell(matrix)
            expected_dark += int(want.sum())
            column, row = slot % GRID, slot // GRID
            top, left = row * CELL * PIXELS, column * CELL * PIXELS
            got = dark[top : top + want.shape[0], left : left + want.shape[1]]
            assert got.shape == want.shape
            if not np.array_equal(got, want):
                wrong = np.argwhere(got != want) // PIXELS - BORDER
                problems.append(
                    f"version {matrix.version} mask {matrix.mask}: "
                    f"{len(wrong) // PIXELS**2} modules differ, first at (row, col) "
                    f"{tuple(wrong[0].tolist())}"
                )
        # Nothing dark anywhere else on the page: a stray rectangle cannot hide.
        assert int(dark.sum()) == expected_dark or problems, (
            f"stray dark pixels on page {page_number}"
        )
    return problems


def test_level_q_symbols_drawn_exactly_every_version_and_mask() -> None:
    """Our own writer's symbols, as printed on labels: 1,440 random texts."""
    symbols = list(level_q_symbols(12))
    assert {m.version for m in symbols} == set(VERSIONS)
    assert mismatches(symbols) == []


def test_levels_l_m_h_drawn_exactly_every_version_and_mask() -> None:
    """Other error-correction levels (qrcode package): 720 random payloads."""
    symbols = list(other_level_symbols(2))
    assert mismatches(symbols) == []


def test_random_modules_drawn_exactly() -> None:
    """Module noise: runs of every start and width in every row, first and last included."""
    assert mismatches(list(noise_symbols(600))) == []


def test_last_row_run_next_to_a_wider_first_row_run_regression() -> None:
    """The shape that broke: row n-1 has a run (s, w), row 0 a run (s, w + 1)."""
    modules = np.zeros((21, 21), dtype=np.bool_)
    modules[20, 3:6] = True
    modules[0, 3:7] = True
    assert mismatches([QrMatrix(modules, 1, 0)]) == []
