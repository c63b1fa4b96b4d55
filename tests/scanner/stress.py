"""Deterministic stress set of camera frames holding label QR codes.

Independent of ``scanner``: the benchmark and the tests compare our pipeline against
single decoders on the same frames, so the frames must not come from the code under test.
Every frame is a function of (category, index, payload), seeded, so a run is reproducible.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import qrcode
from numpy.typing import NDArray

Image = NDArray[np.uint8]

FRAME_W, FRAME_H = 1280, 720
BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"

CATEGORIES: tuple[str, ...] = (
    "clean",
    "blur",
    "perspective",
    "rotation",
    "noise",
    "low_contrast",
    "small",
    "glare",
    "jpeg",
    "damage",
    "wear",
    "inverted",
    "multi",
)


@dataclass(frozen=True)
class StressFrame:
    """One synthetic camera frame and the label texts printed on it."""

    category: str
    index: int
    image: Image
    expected: tuple[str, ...]


def synthetic_label_text(rng: np.random.Generator) -> str:
    """Text shaped like a signed label: 'TP1:' and ~165 Base45 characters."""
    return "TP1:" + "".join(BASE45[i] for i in rng.integers(0, len(BASE45), 165))


def qr_matrix(text: str) -> NDArray[np.bool_]:
    """QR modules at ECC Q (the labels' level), quiet zone of 4 included; True is dark."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=4)
    code.add_data(text)
    code.make(fit=True)
    return np.array(code.get_matrix(), dtype=bool)


def _seed(category: str, index: int) -> int:
    return zlib.crc32(f"{category}:{index}".encode())


def _background(rng: np.random.Generator) -> Image:
    """A warehouse-ish backdrop: tinted gradient, coarse texture and a few boxes."""
    ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    gradient = (np.cos(angle) * xs + np.sin(angle) * ys) / FRAME_W
    base = rng.uniform(70, 170) + 40 * gradient
    texture = cv2.GaussianBlur(rng.normal(0, 18, (FRAME_H, FRAME_W)).astype(np.float32), (0, 0), 3)
    gray = base + texture
    tint = rng.uniform(0.8, 1.15, 3).astype(np.float32)
    image = np.clip(gray[..., None] * tint, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(2, 6))):
        x, y = int(rng.integers(0, FRAME_W)), int(rng.integers(0, FRAME_H))
        w, h = int(rng.integers(60, 400)), int(rng.integers(40, 300))
        color = tuple(int(c) for c in rng.integers(40, 220, 3))
        cv2.rectangle(image, (x, y), (x + w, y + h), color, -1)
    return image


def _label_card(matrix: NDArray[np.bool_], module_px: int, invert: bool = False) -> Image:
    """The printed label: the code plus a strip of fake text under it."""
    code = np.where(matrix, 0, 255).astype(np.uint8)
    if invert:
        code = 255 - code
    code = cv2.resize(code, None, fx=module_px, fy=module_px, interpolation=cv2.INTER_NEAREST)
    side = code.shape[0]
    strip = np.full((max(side // 4, 12), side), 255 if not invert else 0, np.uint8)
    ink = 0 if not invert else 255
    for row in range(2):
        y = 4 + row * max(strip.shape[0] // 2, 6)
        cv2.putText(strip, "TPS 001 GUB", (6, y + 8), cv2.FONT_HERSHEY_SIMPLEX, 0.35, ink, 1)
    return cv2.cvtColor(np.vstack([code, strip]), cv2.COLOR_GRAY2BGR)


def _paste(frame: Image, card: Image, corners: NDArray[np.float32]) -> None:
    """Warp ``card`` onto ``frame`` so its corners land on ``corners`` (TL, TR, BR, BL)."""
    h, w = card.shape[:2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(src, corners)
    warped = cv2.warpPerspective(card, matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR)
    mask = cv2.warpPerspective(
        np.full((h, w), 255, np.uint8), matrix, (FRAME_W, FRAME_H), flags=cv2.INTER_LINEAR
    )
    alpha = (mask.astype(np.float32) / 255.0)[..., None]
    frame[:] = (warped * alpha + frame * (1 - alpha)).astype(np.uint8)


def _place(
    rng: np.random.Generator,
    card: Image,
    angle_deg: float = 0.0,
    skew: float = 0.0,
    centre: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    h, w = card.shape[:2]
    if centre is None:
        margin = math.hypot(w, h) / 2 + 4
        cx = rng.uniform(margin, max(margin + 1, FRAME_W - margin))
        cy = rng.uniform(margin, max(margin + 1, FRAME_H - margin))
    else:
        cx, cy = centre
    corners = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    if skew:
        corners = corners + rng.uniform(-skew, skew, corners.shape) * max(w, h)
    a = math.radians(angle_deg)
    rotation = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    return (corners @ rotation.T + [cx, cy]).astype(np.float32)


def render_frame(category: str, index: int, texts: Sequence[str]) -> Image:
    """Render one frame of ``category`` showing ``texts`` (several only for 'multi')."""
    rng = np.random.default_rng(_seed(category, index))
    frame = _background(rng)
    matrices = [qr_matrix(t) for t in texts]
    small_angle = float(rng.uniform(-4, 4))
    if category == "multi":
        slots = [(240.0, 260.0), (640.0, 460.0), (1040.0, 260.0)]
        for matrix, centre in zip(matrices, slots, strict=False):
            card = _label_card(matrix, int(rng.integers(4, 6)))
            _place_card(frame, rng, card, float(rng.uniform(-20, 20)), 0.03, centre)
        return frame
    matrix = matrices[0]
    module = int(rng.integers(5, 8))
    if category == "small":
        # printed ~3 cm away at 720p: about 1.3-2.5 px per module after resampling
        card = _label_card(matrix, 8)
        scale = float(rng.uniform(1.3, 2.5)) / 8
        card = cv2.resize(card, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        _place_card(frame, rng, card, small_angle)
        return frame
    card = _label_card(matrix, module, invert=category == "inverted")
    if category == "rotation":
        corners = _place_card(frame, rng, card, float(rng.uniform(0, 360)))
    elif category == "perspective":
        skew = float(rng.uniform(0.12, 0.24))
        corners = _place_card(frame, rng, card, float(rng.uniform(-15, 15)), skew)
    else:
        corners = _place_card(frame, rng, card, small_angle)
    return degrade(category, frame, rng, corners)


def _place_card(
    frame: Image,
    rng: np.random.Generator,
    card: Image,
    angle: float,
    skew: float = 0.0,
    centre: tuple[float, float] | None = None,
) -> NDArray[np.float32]:
    corners = _place(rng, card, angle, skew, centre)
    _paste(frame, card, corners)
    return corners


def degrade(
    category: str, frame: Image, rng: np.random.Generator, corners: NDArray[np.float32]
) -> Image:
    """Apply the photometric degradation named by ``category`` to the card at ``corners``."""
    if category == "blur":
        if rng.random() < 0.5:
            sigma = float(rng.uniform(1.6, 3.2))
            return cv2.GaussianBlur(frame, (0, 0), sigma)
        length = int(rng.integers(7, 17))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        centre = (length / 2 - 0.5, length / 2 - 0.5)
        rotation = cv2.getRotationMatrix2D(centre, float(rng.uniform(0, 180)), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        kernel /= max(float(kernel.sum()), 1e-6)
        return cv2.filter2D(frame, -1, kernel)
    if category == "noise":
        sigma = float(rng.uniform(30, 70))
        noisy = frame.astype(np.float32) + rng.normal(0, sigma, frame.shape)
        return np.clip(noisy, 0, 255).astype(np.uint8)
    if category == "low_contrast":
        span = float(rng.uniform(10, 30))
        offset = float(rng.uniform(30, 200))
        squeezed = frame.astype(np.float32) * (span / 255.0) + offset
        squeezed += rng.normal(0, 1.5, frame.shape)
        return np.clip(squeezed, 0, 255).astype(np.uint8)
    if category == "glare":
        ys, xs = np.mgrid[0:FRAME_H, 0:FRAME_W].astype(np.float32)
        out = frame.astype(np.float32)
        side = float(np.ptp(corners[:, 0]))
        for _ in range(int(rng.integers(1, 3))):
            # a lamp's reflection on the laminated label, somewhere over the code
            cx, cy = corners.mean(axis=0) + rng.uniform(-0.35, 0.35, 2) * side
            rx, ry = rng.uniform(0.1, 0.3) * side, rng.uniform(0.08, 0.25) * side
            spot = np.exp(-(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2))
            out += spot[..., None] * rng.uniform(140, 260)
        return np.clip(out, 0, 255).astype(np.uint8)
    if category == "jpeg":
        factor = float(rng.uniform(0.45, 0.7))
        small = cv2.resize(frame, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
        quality = int(rng.integers(3, 9))
        ok, buffer = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
        assert ok
        decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR)
        return cv2.resize(decoded, (FRAME_W, FRAME_H), interpolation=cv2.INTER_LINEAR)
    if category == "damage":
        return _damage(frame, rng)
    if category == "wear":
        return _wear(frame, rng, corners)
    return frame


def _damage(frame: Image, rng: np.random.Generator) -> Image:
    """Scuffs and stains over the code: dark/light blots and a torn-off strip."""
    out = frame.copy()
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    _, light = cv2.threshold(gray, 200, 255, cv2.THRESH_BINARY)
    points = cv2.findNonZero(light)
    if points is None:
        return out
    x, y, w, h = cv2.boundingRect(points)
    for _ in range(int(rng.integers(3, 7))):
        bx = int(x + rng.uniform(0, w))
        by = int(y + rng.uniform(0, h))
        radius = int(rng.uniform(0.04, 0.09) * max(w, h))
        color = tuple(
            int(c)
            for c in (rng.integers(0, 60, 3) if rng.random() < 0.5 else rng.integers(200, 256, 3))
        )
        cv2.circle(out, (bx, by), radius, color, -1)
    if rng.random() < 0.5:
        cut = int(rng.uniform(0.08, 0.16) * w)
        side = int(rng.integers(0, 2))
        if side == 0:
            out[y : y + h, x + w - cut : x + w] = out[y : y + h, x + w - cut : x + w] // 3 + 150
        else:
            out[y + h - cut : y + h, x : x + w] = out[y + h - cut : y + h, x : x + w] // 3 + 150
    return out


def _wear(frame: Image, rng: np.random.Generator, corners: NDArray[np.float32]) -> Image:
    """Two of the harms a label meets in the field (``harm.py``: a stain, a marker
    scribble, punched holes, a torn-off corner, faded ink) on the code's square."""
    from tests.scanner.harm import HARM

    side = corners[1] - corners[0]
    down = np.array([-side[1], side[0]], np.float32)
    code = np.array(
        [corners[0], corners[1], corners[1] + down, corners[0] + down], np.float32
    )  # the card is the code with a strip of text under it: its top square
    for harm in rng.permutation(len(HARM))[:2]:
        frame = HARM[int(harm)](frame, rng, code)
    return frame


def real_label_text() -> Callable[[np.random.Generator], str]:
    """Signed labels from ``labels`` under a fixed test key, or synthetic text without it."""
    from tests.scanner import labelkit

    if not labelkit.available():
        return synthetic_label_text
    return labelkit.LabelKit.create("stress-1", seed=bytes(range(32))).random_label


def stress_set(
    per_category: int,
    categories: Sequence[str] = CATEGORIES,
    label_text: Callable[[np.random.Generator], str] | None = None,
) -> Iterator[StressFrame]:
    """Yield ``per_category`` frames for each category, reproducibly (real labels when
    ``labels`` is importable, else synthetic ones of the same shape)."""
    if label_text is None:
        label_text = real_label_text()
    for category in categories:
        for index in range(per_category):
            rng = np.random.default_rng(_seed("payload:" + category, index))
            count = 3 if category == "multi" else 1
            texts = tuple(label_text(rng) for _ in range(count))
            yield StressFrame(category, index, render_frame(category, index, texts), texts)
