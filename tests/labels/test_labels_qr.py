"""The QR matrix equals the qrcode package's, and is drawn as one vector path."""

from __future__ import annotations

import io
import random
import re

import numpy as np
import pytest
import qrcode
import qrcode.util
from qrcode.constants import ERROR_CORRECT_Q
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from labels import LayoutError, MalformedPayload, draw_qr, qr_matrix
from labels.qr import ALPHANUMERIC, QUIET_ZONE, _plan, path_operators

rng = random.Random(20241127)
TEXTS = ["TP1:", "HTTPS://TEPAT.EXAMPLE.ID/L/AEAQ"] + [
    "".join(rng.choice(ALPHANUMERIC) for _ in range(length))
    for length in (1, 2, 25, 80, 149, 153, 175, 186, 230, 300, 420)
]


def reference(text: str, mask: int | None = None) -> qrcode.QRCode:  # type: ignore[type-arg]
    symbol = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=0, mask_pattern=mask)
    symbol.add_data(qrcode.util.QRData(text, mode=qrcode.util.MODE_ALPHA_NUM))
    symbol.make(fit=True)
    return symbol


@pytest.mark.parametrize("text", TEXTS, ids=lambda t: f"{len(t)}chars")
def test_matrix_is_identical_to_the_qrcode_package(text: str) -> None:
    """Same version, same mask choice, same modules as qrcode (level Q, alphanumeric)."""
    symbol = reference(text)
    assert symbol.data_list[0].mode == qrcode.util.MODE_ALPHA_NUM
    matrix = qr_matrix(text)
    assert matrix.version == symbol.version
    assert np.array_equal(matrix.modules, np.array(symbol.get_matrix(), dtype=bool))


@pytest.mark.parametrize("mask", range(8))
def test_every_forced_mask_matches_qrcode(mask: int) -> None:
    text = TEXTS[6]
    expected = np.array(reference(text, mask).get_matrix(), dtype=bool)
    assert np.array_equal(qr_matrix(text, mask=mask).modules, expected)


def test_symbol_declares_alphanumeric_mode() -> None:
    """The first four data bits are the mode indicator 0010 (alphanumeric)."""
    for text in TEXTS:
        matrix = qr_matrix(text)
        plan = _plan(matrix.version)
        data = matrix.modules[plan.rows, plan.cols] ^ plan.mask_bits[matrix.mask]
        assert data[:4].tolist() == [False, False, True, False]


def test_text_outside_the_alphanumeric_set_is_refused() -> None:
    with pytest.raises(MalformedPayload):
        qr_matrix("https://lowercase.example")


def test_matrix_is_read_only_and_quiet_zone_is_four_light_modules() -> None:
    matrix = qr_matrix(TEXTS[5])
    with pytest.raises(ValueError):
        matrix.modules[0, 0] = False
    padded = matrix.with_quiet_zone()
    assert padded.shape[0] == matrix.size + 2 * QUIET_ZONE
    assert not padded[:QUIET_ZONE].any() and not padded[:, -QUIET_ZONE:].any()


def rectangles(operators: str) -> list[tuple[int, int, int, int]]:
    return [
        (int(x), int(y), int(w), int(h))
        for x, y, w, h in re.findall(r"(\d+) (\d+) (\d+) (\d+) re", operators)
    ]


@pytest.mark.parametrize("text", TEXTS[4:8], ids=lambda t: f"{len(t)}chars")
def test_path_covers_exactly_the_dark_modules_without_overlap(text: str) -> None:
    matrix = qr_matrix(text)
    # Painted one module larger all round, so a rectangle reaching out of the symbol
    # shows instead of being clipped by the slice.
    painted = np.zeros((matrix.size + 2, matrix.size + 2), dtype=int)
    rects = rectangles(path_operators(matrix))
    for x, y, w, h in rects:
        painted[1 + y : 1 + y + h, 1 + x : 1 + x + w] += 1
    assert np.array_equal(painted, np.pad(matrix.modules, 1).astype(int))
    # Runs are merged: far fewer rectangles than dark modules.
    assert len(rects) < matrix.modules.sum() / 2


def draw_one(side: float) -> bytes:
    out = io.BytesIO()
    canvas = Canvas(out, pageCompression=0)
    draw_qr(canvas, qr_matrix(TEXTS[6]), 20 * mm, 20 * mm, side)
    canvas.showPage()
    canvas.save()
    return out.getvalue()


def test_qr_is_a_single_filled_vector_path_and_no_image() -> None:
    pdf = draw_one(40 * mm)
    assert b"/Subtype /Image" not in pdf and b"/XObject" not in pdf and b" BI " not in pdf
    assert pdf.count(b" re\n") > 100
    assert pdf.count(b"f Q") == 1  # one fill for the whole symbol


def test_modules_smaller_than_0_4_mm_raise_layout_error() -> None:
    modules = qr_matrix(TEXTS[6]).size + 2 * QUIET_ZONE
    draw_one(modules * 0.4 * mm)  # exactly 0.4 mm is allowed
    with pytest.raises(LayoutError, match="0.4 mm"):
        draw_one(modules * 0.39 * mm)
