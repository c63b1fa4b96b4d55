"""Re-read a damaged code from its module grid: finder patterns, grid, erasures.

When a stain covers a finder pattern, or blots cover more modules than error
correction fixes as errors, zxing-cpp, zbar and OpenCV give up. Here:

1. finder patterns are found as nested contours (dark square, light ring, dark stone);
   two of them are enough, since the symbol is square: next to each other they give
   a side (the code lies on one of its two sides), across, a diagonal;
2. for each such square and each version its size allows, the module grid is sampled
   at the module centres (a homography from the finder centres);
3. modules inside a uniform 4 x 4 patch (no code has one; a blot, a torn-off strip
   or tape has) and modules too close to their local threshold are *erased*, and
   :mod:`scanner.symbol` decodes with erasures, which Reed-Solomon corrects at half
   the cost of errors.

Costs scale with the finder patterns in the frame (at most :data:`MAX_SQUARES`
candidate squares), not with the frame's contents otherwise.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from scanner.backends import Corners, Image, RawRead, corners_of
from scanner.symbol import decode_grid, pattern_agreement, version_of

#: Candidate squares tried per frame at most (each costs 1-5 ms).
MAX_SQUARES = 8
#: Finder patterns considered per frame at most (largest first).
MAX_FINDERS = 10
_BLOT = 4  # a uniform patch this many modules wide is not code


@dataclass(frozen=True)
class Finder:
    """A finder pattern: centre of its stone, in pixels, and its outer side."""

    x: float
    y: float
    side: float


def finders(gray: Image) -> list[Finder]:
    """Finder patterns in a gray image, largest first."""
    block = max(15, (min(gray.shape[:2]) // 16) | 1)
    binary = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 7
    )
    contours, hierarchy = cv2.findContours(binary, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return []
    tree = hierarchy[0]
    found: list[Finder] = []
    for index, contour in enumerate(contours):
        child = int(tree[index][2])
        if child < 0:
            continue
        stone = int(tree[child][2])
        if stone < 0:
            continue
        outer, ring, core = (cv2.contourArea(contours[i]) for i in (index, child, stone))
        if core < 4 or not (1.3 < outer / max(ring, 1) < 3.2 and 1.5 < ring / core < 5.0):
            continue
        (_, _), (w, h), _ = cv2.minAreaRect(contour)
        if min(w, h) < 7 or max(w, h) > 1.6 * min(w, h):
            continue
        moments = cv2.moments(contours[stone])
        if moments["m00"] <= 0:
            continue
        cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
        finder = Finder(cx, cy, math.sqrt(outer))
        if all(abs(f.x - cx) + abs(f.y - cy) > f.side / 2 for f in found):
            found.append(finder)
    found.sort(key=lambda f: -f.side)
    return found[:MAX_FINDERS]


Square = tuple[tuple[float, float], ...]  # four finder-centre positions, clockwise


def squares(found: list[Finder]) -> list[tuple[Square, float, int]]:
    """Candidate symbols from pairs of finders: (corner centres, module px, support)."""
    out: list[tuple[Square, float, int]] = []
    for i, a in enumerate(found):
        for b in found[i + 1 :]:
            if max(a.side, b.side) > 1.6 * min(a.side, b.side):
                continue
            module = (a.side + b.side) / 14
            pa, pb = np.array([a.x, a.y]), np.array([b.x, b.y])
            d = pb - pa
            perp = np.array([-d[1], d[0]])
            span = float(np.hypot(*d)) / module
            if 14 <= span <= 100:  # neighbours: the code lies on either side
                for sign in (1, -1):
                    out.append(_square((pa, pb, pb + sign * perp, pa + sign * perp), module))
            if 14 <= span / math.sqrt(2) <= 100:  # opposite corners
                mid, half = (pa + pb) / 2, perp / 2
                out.append(_square((pa, mid + half, pb, mid - half), module))
    kept: list[tuple[Square, float, int]] = []
    for square, module, _ in out:
        support = sum(
            any(abs(f.x - x) + abs(f.y - y) < f.side / 2 for f in found) for x, y in square
        )
        if support >= 3 or support == 2:
            if not any(_same_square(square, k[0], module) for k in kept):
                kept.append((square, module, support))
    kept.sort(key=lambda k: -k[2])
    return kept[:MAX_SQUARES]


def _square(points: tuple[np.ndarray, ...], module: float) -> tuple[Square, float, int]:
    p = [(float(q[0]), float(q[1])) for q in points]
    (x0, y0), (x1, y1), _, (x3, y3) = p
    if (x1 - x0) * (y3 - y0) - (y1 - y0) * (x3 - x0) < 0:  # make it clockwise on screen
        p = [p[0], p[3], p[2], p[1]]
    return tuple(p), module, 0


def _same_square(a: Square, b: Square, module: float) -> bool:
    return all(min(abs(x - u) + abs(y - v) for u, v in b) < 2 * module for x, y in a)


def sample(gray: Image, square: Square, size: int, module: float) -> np.ndarray:
    """Mean brightness at each module centre of a ``size`` x ``size`` grid whose finder
    centres are at ``square``."""
    src = np.array(
        [[3.5, 3.5], [size - 3.5, 3.5], [size - 3.5, size - 3.5], [3.5, size - 3.5]], np.float32
    )
    matrix = cv2.getPerspectiveTransform(src, np.array(square, np.float32))
    centres = (np.stack(np.meshgrid(np.arange(size), np.arange(size)), -1) + 0.5).astype(np.float32)
    points = cv2.perspectiveTransform(centres.reshape(-1, 1, 2), matrix).reshape(size, size, 2)
    k = max(1, int(module * 0.5)) | 1
    smooth = cv2.blur(gray, (k, k)) if k > 1 else gray
    values = cv2.remap(
        smooth, points[..., 0], points[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return cast(np.ndarray, values.astype(np.float32))


def binarise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dark, erased) modules: a local threshold over 7 modules; erased where a uniform
    4 x 4 patch lies (a blot) or the module is too close to its threshold."""
    size = values.shape[0]
    local = cv2.blur(values, (7, 7), borderType=cv2.BORDER_REFLECT)
    spread = np.sqrt(
        np.maximum(cv2.blur(values**2, (7, 7), borderType=cv2.BORDER_REFLECT) - local**2, 1.0)
    )
    low, high = np.percentile(values, (5, 95))
    # a flat patch (inside a stain) has no contrast of its own: judge it by the code's
    flat = spread < 0.25 * float(high - low)
    dark = values < np.where(flat, (low + high) / 2, local)
    unsure = flat | (np.abs(values - local) < 0.25 * spread)
    windows = sliding_window_view(dark, (_BLOT, _BLOT))
    uniform = windows.all(axis=(2, 3)) | (~windows).all(axis=(2, 3))
    blot = np.zeros_like(dark)
    span = size - _BLOT + 1
    for dy in range(_BLOT):
        for dx in range(_BLOT):
            blot[dy : dy + span, dx : dx + span] |= uniform
    blot = cv2.dilate(blot.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return dark, blot | unsure


def read(gray: Image, skip: Sequence[Corners] = ()) -> list[RawRead]:
    """Every code re-read from the finder patterns in ``gray`` (usually a damaged one
    the other decoders gave up on), except those whose centre lies in a ``skip`` quad."""
    found = finders(gray)
    reads: list[RawRead] = []
    done = list(skip)
    for square, module, _ in squares(found):
        centre = (sum(x for x, _ in square) / 4, sum(y for _, y in square) / 4)
        if any(_inside(quad, centre) for quad in done):
            continue
        side = math.dist(square[0], square[1]) / module + 7
        for size in _sizes(side):
            hit = _read_square(gray, square, size, module)
            if hit is not None:
                reads.append(hit)
                done.append(hit[1])
                break
    return reads


def _inside(quad: Corners, point: tuple[float, float]) -> bool:
    contour = np.array(quad, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, point, False) >= 0


def _sizes(side: float) -> list[int]:
    nearest = round((side - 17) / 4)
    out = [17 + 4 * v for v in (nearest, nearest - 1, nearest + 1)]
    return [n for n in out if version_of(n) is not None]


def _read_square(gray: Image, square: Square, size: int, module: float) -> RawRead | None:
    values = sample(gray, square, size, module)
    dark, erased = binarise(values)
    best = max(range(4), key=lambda r: _finder_score(np.rot90(dark, r)))
    for turn in (best,):
        upright, lost = np.rot90(dark, turn), np.rot90(erased, turn)
        if pattern_agreement(upright, lost) < 0.8:
            return None
        payload = decode_grid(np.ascontiguousarray(upright), np.ascontiguousarray(lost))
        if payload is not None:
            return payload, _outer_corners(square, size)
    return None


_FINDER = np.ones((7, 7), bool)
_FINDER[1:6, 1:6] = False
_FINDER[2:5, 2:5] = True


def _finder_score(dark: np.ndarray) -> float:
    """Finder likeness of the top-left, top-right and bottom-left corners, minus the
    bottom-right one's (which holds data, not a finder)."""

    def like(patch: np.ndarray) -> float:
        return float((patch == _FINDER).mean())

    return like(dark[:7, :7]) + like(dark[:7, -7:]) + like(dark[-7:, :7]) - like(dark[-7:, -7:])


def _outer_corners(square: Square, size: int) -> Corners:
    src = np.array(
        [[3.5, 3.5], [size - 3.5, 3.5], [size - 3.5, size - 3.5], [3.5, size - 3.5]], np.float32
    )
    matrix = cv2.getPerspectiveTransform(src, np.array(square, np.float32))
    outer = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32).reshape(-1, 1, 2)
    return corners_of(cv2.perspectiveTransform(outer, matrix).reshape(-1, 2).tolist())
