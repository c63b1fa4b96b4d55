"""Decoding: what a courier's camera frame gives back."""

from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from pathlib import Path

import cv2
import numpy as np
import pytest
import qrcode

from scanner import Detection, InvalidImage, Pipeline, ScanError, decode
from scanner.backends import WECHAT
from scanner.decode import ALL_DECODERS, GRID
from tests.scanner import stress
from tests.scanner.baselines import BASELINES, locate_zxing


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
UNHURRIED = 20_000.0


def test_pipeline_reads_at_least_as_much_as_every_single_decoder_per_category() -> None:
    """Small version of tests/bench_scanner.py: same frames, same rule."""
    pipeline = Pipeline()
    read: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    started = time.perf_counter()
    for frame in stress.stress_set(PER_CATEGORY):
        expected = set(frame.expected)
        for name, reader in BASELINES.items():
            read[frame.category][name] += len(reader(frame.image) & expected)
        # a budget no frame here reaches: the rule is about reading, not the clock
        ours = {d.payload for d in pipeline.decode(frame.image, budget_ms=UNHURRIED)}
        read[frame.category]["pipeline"] += len(ours & expected)
    for category, counts in read.items():
        best = max(v for k, v in counts.items() if k != "pipeline")
        assert counts["pipeline"] >= best, (category, dict(counts))
    assert time.perf_counter() - started < 120  # a hang, not a slow box


class FakeWeChat:
    """Stands in for contrib's WeChat detector (plain opencv-python in CI has none).

    It "reads" ``text`` from any image it is given and records the image sizes, so the
    test sees where the pipeline sends WeChat: only small crops, only after the others.
    """

    text = ""
    sizes: list[tuple[int, ...]] = []

    def detectAndDecode(self, image: np.ndarray) -> tuple[list[str], list[np.ndarray]]:  # noqa: N802
        FakeWeChat.sizes.append(image.shape[:2])
        h, w = image.shape[:2]
        quad = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], np.float32)
        return [FakeWeChat.text], [quad]


def test_a_code_with_a_blotted_finder_pattern_is_read_from_its_module_grid() -> None:
    """Regression: a stain over a finder pattern hid the code from zxing, zbar and OpenCV
    (WeChat read it); the other two finders give the grid, the stains are erasures."""
    [frame] = [f for f in stress.stress_set(1) if f.category == "damage"]
    assert not any(read(frame.image) for name, read in BASELINES.items() if name != "wechat")
    found = Pipeline().decode(frame.image, budget_ms=UNHURRIED)
    assert [d.payload for d in found] == list(frame.expected)
    assert found[0].decoder == GRID


def test_a_code_with_a_blotted_finder_pattern_goes_to_wechat_on_small_crops_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where even the grid fails (every finder pattern under a stain), WeChat (when named
    and the build has it) gets 200 px crops of the busiest patches, never the frame."""
    text = "TP1:TIGA NODA"
    image = np.full((720, 1280), 150, np.uint8)
    code = _code_image(text)
    image[200 : 200 + code.shape[0], 500 : 500 + code.shape[1]] = code
    quiet, side = 4 * 6, code.shape[0] - 8 * 6
    for x, y in ((0, 0), (side - 42, 0), (0, side - 42)):  # the three 7-module finders
        cv2.circle(image, (500 + quiet + x + 21, 200 + quiet + y + 21), 30, 40, -1)
    assert Pipeline().decode(image, budget_ms=UNHURRIED) == []
    FakeWeChat.text, FakeWeChat.sizes = text, []
    monkeypatch.setattr(cv2, "wechat_qrcode_WeChatQRCode", FakeWeChat, raising=False)
    found = Pipeline((*ALL_DECODERS, WECHAT)).decode(image, budget_ms=UNHURRIED)
    assert [d.payload for d in found] == [text]
    assert found[0].decoder == WECHAT and found[0].stage == "busy+wechat"
    assert FakeWeChat.sizes and all(max(size) <= 256 for size in FakeWeChat.sizes)


def test_without_the_contrib_build_the_wechat_steps_are_skipped_quietly(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delattr(cv2, "wechat_qrcode_WeChatQRCode", raising=False)
    pipeline = Pipeline((*ALL_DECODERS, WECHAT))
    with caplog.at_level(logging.WARNING, logger="scanner.decode"):
        assert pipeline.decode(np.full((300, 300), 90, np.uint8)) == []
        frame, _ = _frame_with(["TP1:POLOS"])
        assert [d.payload for d in pipeline.decode(frame)] == ["TP1:POLOS"]
    assert WECHAT not in pipeline.available and not caplog.records


# --------------------------------------------------------------------------- photos

PHOTOS = Path(__file__).parent / "photos"


def _photo(name: str) -> tuple[np.ndarray, set[str]]:
    path = PHOTOS / name
    return cv2.imread(str(path), cv2.IMREAD_COLOR), set(
        path.with_suffix(".texts").read_text().splitlines()
    )


def test_a_sheet_of_labels_is_read_past_the_codes_the_cheap_pass_finds() -> None:
    """Regression: the pipeline stopped at the first stage that read anything."""
    image, expected = _photo("lots/04.jpg")
    plain = {text for text, _ in locate_zxing(image)} & expected
    assert 0 < len(plain) < len(expected)
    found = decode(image, budget_ms=UNHURRIED)
    assert {d.payload for d in found} == expected
    assert {d.stage for d in found} > {"direct"}


@pytest.mark.parametrize("name", ["damaged/09.jpg", "damaged/10.jpg"])
def test_a_label_with_a_torn_off_corner_and_faded_ink_is_read(name: str) -> None:
    """A finder pattern torn off with the corner, the rest faded: no single decoder
    reads it; the two finders left, the alignment pattern and erasures do."""
    image, expected = _photo(name)
    assert not any(read(image) for label, read in BASELINES.items() if label != "wechat")
    found = decode(image, budget_ms=UNHURRIED)
    assert {d.payload for d in found} == expected and found[0].decoder == GRID


@pytest.mark.parametrize("angle", [90, 180, 270, 33, 146])
def test_codes_are_read_at_any_rotation(angle: int) -> None:
    frame = np.full((900, 900), 140, np.uint8)
    code = _code_image("TP1:PUTAR")
    at = (900 - code.shape[0]) // 2
    frame[at : at + code.shape[0], at : at + code.shape[1]] = code
    matrix = cv2.getRotationMatrix2D((450.0, 450.0), angle, 1.0)
    turned = cv2.warpAffine(frame, matrix, (900, 900), borderValue=140)
    assert [d.payload for d in decode(turned)] == ["TP1:PUTAR"]


def test_a_photographed_label_upside_down_is_read() -> None:
    image, expected = _photo("rotations/00.jpg")
    for turn in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE):
        assert {d.payload for d in decode(cv2.rotate(image, turn))} == expected


def test_a_zero_budget_runs_the_cheap_pass_only_and_says_so() -> None:
    image, expected = _photo("blurred/05.jpg")  # read only by a fallback
    quick = decode(image, budget_ms=0)
    assert quick == [] and quick.exhausted
    patient = decode(image, budget_ms=UNHURRIED)
    assert {d.payload for d in patient} == expected and not patient.exhausted


def test_a_clean_frame_is_not_marked_as_cut_short() -> None:
    frame, _ = _frame_with(["TP1:BERSIH"])
    result = decode(frame, budget_ms=0)
    assert [d.payload for d in result] == ["TP1:BERSIH"] and not result.exhausted


@pytest.mark.parametrize("budget_ms", [30.0, 120.0])
def test_the_budget_bounds_the_time_on_a_hopeless_frame(budget_ms: float) -> None:
    noise = np.random.default_rng(7).integers(0, 256, (768, 1024), dtype=np.uint8)
    result = decode(noise, budget_ms=budget_ms)
    assert result == [] and result.exhausted
    # one step may finish after the deadline; none takes anywhere near 250 ms here
    assert result.elapsed_ms < budget_ms + 250


def _code_free_images() -> list[np.ndarray]:
    rng = np.random.default_rng(14)
    text = np.full((600, 900), 235, np.uint8)
    for row in range(12):
        cv2.putText(
            text,
            "PPS: Tumbang Posu  TPS 007  Isi: 420 lembar",
            (10, 40 + 45 * row),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.9,
            20,
            2,
        )
    board = np.kron((np.indices((24, 32)).sum(axis=0) % 2) * 255, np.ones((20, 20))).astype(
        np.uint8
    )
    blocks = np.kron(rng.integers(0, 2, (60, 80)) * 255, np.ones((8, 8))).astype(np.uint8)
    return [
        rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8),
        text,
        board,
        blocks,
        cv2.GaussianBlur(blocks, (0, 0), 3),
        np.full((480, 640), 255, np.uint8),
    ]


@pytest.mark.parametrize("decoders", [ALL_DECODERS, (*ALL_DECODERS, WECHAT)])
def test_images_without_a_code_give_nothing_even_with_every_fallback(
    decoders: tuple[str, ...],
) -> None:
    """With WeChat, busy patches (text, a checkerboard, random blocks) go to it: still nothing."""
    pipeline = Pipeline(decoders)
    for image in _code_free_images():
        assert pipeline.decode(image, budget_ms=UNHURRIED) == []


def test_photos_give_only_the_texts_printed_on_them() -> None:
    """No wrong text, no false positive: one photo of each category of the committed set."""
    for folder in sorted(p for p in PHOTOS.iterdir() if p.is_dir()):
        image, expected = _photo(f"{folder.name}/01.jpg")
        found = {d.payload for d in decode(image)}
        assert found <= expected, folder.name
