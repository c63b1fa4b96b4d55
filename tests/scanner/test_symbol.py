"""Decoding a module grid with erasures: what reads a stained code, and never a wrong one."""

from __future__ import annotations

import numpy as np
import pytest
import qrcode
from qrcode.constants import ERROR_CORRECT_H, ERROR_CORRECT_L, ERROR_CORRECT_M, ERROR_CORRECT_Q

from scanner.resample import binarise
from scanner.symbol import decode_grid, pattern_agreement


def _grid(text: str | bytes, level: int) -> np.ndarray:
    code = qrcode.QRCode(error_correction=level, border=0)
    code.add_data(text)
    code.make(fit=True)
    return np.array(code.get_matrix(), np.bool_)


def _disk(size: int, cx: float, cy: float, radius: float) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return np.asarray((xs - cx) ** 2 + (ys - cy) ** 2 < radius**2)


CASES = [
    ("TP1:7Q4 KOTAK 6210052011 GUB 0042", ERROR_CORRECT_Q),  # alphanumeric, as labels
    ("https://logistik.tepat.kpu.go.id/kalteng/l/ABC?x=1", ERROR_CORRECT_M),  # byte
    ("6210052011007" * 9, ERROR_CORRECT_H),  # numeric
    ("Kotak suara TPS 007 — Tumbang Posu", ERROR_CORRECT_L),  # UTF-8 bytes
]


@pytest.mark.parametrize(("text", "level"), CASES)
def test_a_clean_grid_decodes_in_every_mode_and_level(text: str, level: int) -> None:
    grid = _grid(text, level)
    clear = np.zeros_like(grid)
    assert pattern_agreement(grid, clear) == 1.0
    assert decode_grid(grid, clear) == text.encode()


def test_a_blot_decodes_as_erasures_but_not_as_errors() -> None:
    """A stain over 13 % of a level-Q code: as wrong modules it is past Reed-Solomon, as
    erased modules (the caller saw the stain) it is within it."""
    text, level = CASES[0]
    grid = _grid(text, level)
    blot = _disk(grid.shape[0], grid.shape[0] * 0.6, grid.shape[0] * 0.55, grid.shape[0] * 0.2)
    stained = grid | blot
    assert decode_grid(stained, np.zeros_like(grid)) is None
    assert decode_grid(stained, blot) == text.encode()


def test_binarise_erases_a_blot_and_keeps_the_code_around_it() -> None:
    text, level = CASES[0]
    grid = _grid(text, level)
    size = grid.shape[0]
    blot = _disk(size, size * 0.35, size * 0.6, size * 0.18)
    values = np.where(grid, 30.0, 220.0).astype(np.float32)
    values[blot] = 40.0  # a dark stain, a little lighter than the ink
    dark, erased = binarise(values)
    assert erased[blot].mean() > 0.95
    assert erased[~blot].mean() < 0.15
    assert decode_grid(dark, erased) == text.encode()


def test_random_damage_never_gives_a_wrong_text() -> None:
    """3,000 grids with random stains and flipped modules: each decodes to its own text
    or to nothing (stains are sometimes marked as erasures, sometimes not)."""
    rng = np.random.default_rng(14)
    wrong = read = 0
    texts = [CASES[0][0][:-4] + f"{i:04d}" for i in range(30)]
    for i in range(3000):
        text = texts[i % len(texts)]
        grid = _grid(text, ERROR_CORRECT_Q) if i < 30 else _GRIDS[i % len(texts)]
        if i < 30:
            _GRIDS.append(grid)
        size = grid.shape[0]
        damaged = grid.copy()
        erased = np.zeros_like(grid)
        for _ in range(int(rng.integers(1, 5))):
            blot = _disk(size, *rng.uniform(0, size, 2), rng.uniform(2, size * 0.25))
            damaged[blot] = bool(rng.integers(0, 2))
            if rng.random() < 0.7:
                erased |= blot
        damaged ^= rng.random(grid.shape) < rng.uniform(0, 0.08)
        found = decode_grid(damaged, erased)
        if found is not None:
            read += 1
            wrong += found != text.encode()
    assert wrong == 0
    assert 300 < read < 2900  # the test reaches both sides of the limit


_GRIDS: list[np.ndarray] = []
