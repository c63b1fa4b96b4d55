"""Decoding: what a courier's camera frame gives back."""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict

import cv2
import numpy as np
import pytest
import qrcode

from scanner import Detection, InvalidImage, Pipeline, ScanError, decode
from tests.scanner import stress
from tests.scanner.baselines import BASELINES


def _code_image(data: str | bytes, module: int = 6, border: int = 4) -> np.ndarray:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=border)
    code.add_data(data)
    code.make(fit=True)
    matrix = np.where(np.array(code.get_matrix()), 0, 255).astype(np.uint8)
    return cv2.resize(matrix, None, fx=module, fy=module, interpolation=cv2.INTER_NEAREST)


def _frame_with(texts: list[str]) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    frame = np.full((720, 1280, 3), 140, np.uint8)
    placed = []
    for i, text in enumerate(texts):
        code = cv2.cvtColor(_code_image(text), cv2.COLOR_GRAY2BGR)
        x, y = 40 + i * 420, 100
        frame[y : y + code.shape[0], x : x + code.shape[1]] = code
        placed.append((x, y, code.shape[0]))
    return frame, placed


def test_clean_frame_returns_text_corners_and_decoder() -> None:
    frame, [(x, y, side)] = _frame_with(["TP1:HELLO"])
    [found] = decode(frame)
    assert found.payload == "TP1:HELLO" and found.text == "TP1:HELLO"
    assert found.decoder == "zxing-cpp" and found.stage == "direct"
    quiet = 4 * 6  # the corners are the code's, inside the quiet zone
    xs = sorted(p[0] for p in found.corners)
    ys = sorted(p[1] for p in found.corners)
    assert abs(xs[0] - (x + quiet)) < 3 and abs(xs[-1] - (x + side - quiet)) < 3
    assert abs(ys[0] - (y + quiet)) < 3 and abs(ys[-1] - (y + side - quiet)) < 3


def test_several_codes_in_one_frame_are_all_returned() -> None:
    texts = ["TP1:ONE", "TP1:TWO", "TP1:THREE"]
    frame, _ = _frame_with(texts)
    assert sorted(d.payload for d in decode(frame)) == sorted(texts)


def test_gray_and_bgra_input_are_accepted() -> None:
    frame, _ = _frame_with(["TP1:GRAY"])
    assert [d.payload for d in decode(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY))] == ["TP1:GRAY"]
    assert [d.payload for d in decode(cv2.cvtColor(frame, cv2.COLOR_BGR2BGRA))] == ["TP1:GRAY"]


def test_empty_frame_returns_nothing() -> None:
    assert decode(np.full((480, 640), 200, np.uint8)) == []


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((10, 10), np.float32),
        np.zeros((4, 4), np.uint8),
        np.zeros((20, 20, 2), np.uint8),
        [[0, 1]],
    ],
)
def test_invalid_input_raises_a_scan_error(bad: object) -> None:
    with pytest.raises(InvalidImage) as caught:
        decode(bad)
    assert isinstance(caught.value, ScanError)


NOT_UTF8 = b"\xff\xfeTP1:\x80\x81 binary"


@pytest.mark.parametrize("decoders", [("zxing-cpp",), ("pyzbar",), None])
def test_payload_that_is_not_utf8_comes_back_as_bytes(decoders: tuple[str, ...] | None) -> None:
    image = _code_image(NOT_UTF8)
    pipeline = Pipeline() if decoders is None else Pipeline(decoders)
    [found] = pipeline.decode(image)
    assert found.payload == NOT_UTF8
    assert found.text is None and found.raw == NOT_UTF8


def test_missing_decoder_library_is_skipped_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # What a machine without libzbar looks like: importing pyzbar raises ImportError.
    for module in ("pyzbar", "pyzbar.pyzbar", "pyzbar.wrapper"):
        monkeypatch.setitem(sys.modules, module, None)
    pipeline = Pipeline(("pyzbar", "zxing-cpp", "opencv"))
    frame, _ = _frame_with(["TP1:NOZBAR"])
    with caplog.at_level(logging.WARNING, logger="scanner.decode"):
        for _ in range(3):
            assert [d.payload for d in pipeline.decode(frame)] == ["TP1:NOZBAR"]
        assert pipeline.decode(np.full((300, 300), 90, np.uint8)) == []  # runs the fallbacks
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "pyzbar" in warnings[0].getMessage()
    assert pipeline.available == ("zxing-cpp", "opencv")


def test_fallback_reads_a_low_contrast_code_the_cheap_pass_misses() -> None:
    image = _code_image("TP1:FAINT", module=5).astype(np.float32)
    faint = (image * (14 / 255) + 120).astype(np.uint8)
    blurred = cv2.GaussianBlur(faint, (0, 0), 1.2)
    found = Pipeline().decode(blurred)
    assert [d.payload for d in found] == ["TP1:FAINT"]
    assert isinstance(found[0], Detection)


PER_CATEGORY = 5


def test_pipeline_reads_at_least_as_much_as_every_single_decoder_per_category() -> None:
    """Small version of tests/bench_scanner.py: same frames, same rule."""
    pipeline = Pipeline()
    read: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    started = time.perf_counter()
    for frame in stress.stress_set(PER_CATEGORY):
        expected = set(frame.expected)
        for name, reader in BASELINES.items():
            read[frame.category][name] += len(reader(frame.image) & expected)
        ours = {d.payload for d in pipeline.decode(frame.image)}
        read[frame.category]["pipeline"] += len(ours & expected)
    for category, counts in read.items():
        best = max(v for k, v in counts.items() if k != "pipeline")
        assert counts["pipeline"] >= best, (category, dict(counts))
    assert time.perf_counter() - started < 60
