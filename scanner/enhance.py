"""Image variants the fallbacks try: contrast, sharpness, binarisation, scale, crops.

Each returns a new uint8 image; the geometric ones also return the homography that maps
points in the variant back to the original image.
"""

from __future__ import annotations

from typing import cast

import cv2
import numpy as np
from numpy.typing import NDArray

from scanner.backends import Corners, Image, corners_of

Homography = NDArray[np.float64]
Variant = tuple[Image, Homography | None]


def clahe(gray: Image) -> Image:
    """Local contrast equalisation: shadows, glare and dim corners."""
    return cast(Image, cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray))


def sharpen(gray: Image) -> Image:
    """Unsharp mask against defocus."""
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cast(Image, cv2.addWeighted(gray, 2.2, blurred, -1.2, 0))


def threshold(gray: Image) -> Image:
    """Adaptive mean threshold with a block about a module or two wide."""
    block = max(15, (min(gray.shape[:2]) // 24) | 1)
    return cast(
        Image,
        cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5),
    )


def invert(gray: Image) -> Image:
    """Light modules on a dark ground (screens, negative prints)."""
    return cast(Image, cv2.bitwise_not(gray))


def denoise(gray: Image) -> Image:
    """Median 3x3 against sensor noise."""
    return cast(Image, cv2.medianBlur(gray, 3))


def scale_matrix(factor: float) -> Homography:
    """Homography from an image scaled by ``factor`` back to the original."""
    return np.diag([1.0 / factor, 1.0 / factor, 1.0])


def upscale(gray: Image, factor: float = 2.0) -> Variant:
    """Enlarged copy (cubic): codes of one or two pixels per module."""
    big = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return cast(Image, big), scale_matrix(factor)


def rectify(gray: Image, corners: Corners, side: int = 480, margin: float = 0.25) -> Variant:
    """Warp the quadrangle to an upright ``side`` px square with a quiet-zone margin."""
    inner = side / (1 + 2 * margin)
    offset = (side - inner) / 2
    dst = np.array(
        [
            [offset, offset],
            [offset + inner, offset],
            [offset + inner, offset + inner],
            [offset, offset + inner],
        ],
        dtype=np.float32,
    )
    src = np.array(corners, dtype=np.float32)
    forward = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(
        gray, forward, (side, side), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE
    )
    return cast(Image, warped), cast(Homography, np.linalg.inv(forward))


def crop(gray: Image, corners: Corners, margin: float = 0.6, side: int = 480) -> Variant:
    """An axis-aligned window around the quadrangle, scaled so its long side is ``side``.

    Unlike :func:`rectify` it keeps the code's own geometry, so a wrong corner guess
    (a failed detection often has one) cannot cut the code off.
    """
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    span = max(max(xs) - min(xs), max(ys) - min(ys), 8.0)
    height, width = gray.shape[:2]
    x0 = int(max(0, min(xs) - margin * span))
    y0 = int(max(0, min(ys) - margin * span))
    x1 = int(min(width, max(xs) + margin * span))
    y1 = int(min(height, max(ys) + margin * span))
    window = gray[y0:y1, x0:x1]
    factor = min(4.0, side / max(window.shape[:2]))
    resized = cv2.resize(window, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    back = np.array([[1 / factor, 0, x0], [0, 1 / factor, y0], [0, 0, 1]], dtype=np.float64)
    return cast(Image, resized), back


def busy_regions(gray: Image, limit: int = 3, work: int = 320) -> list[Corners]:
    """Square-ish patches dense with edges, biggest first: where a code may be when no
    decoder found its finder patterns (a blot over one of them, a torn corner).

    Found on a copy at most ``work`` px wide; under 10 ms on a 720p frame.
    """
    factor = min(1.0, work / max(gray.shape[:2]))
    small = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    square = np.ones((3, 3), np.uint8)
    edges = cv2.morphologyEx(small, cv2.MORPH_GRADIENT, square)
    _, mask = cv2.threshold(edges, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, square)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    found: list[tuple[float, Corners]] = []
    for contour in contours:
        rect = cv2.minAreaRect(contour)
        width, height = rect[1]
        if min(width, height) < 12 or max(width, height) > 2.2 * min(width, height):
            continue
        if cv2.contourArea(contour) < 0.5 * width * height:  # a blob, not a scatter of edges
            continue
        box = cv2.boxPoints(rect) / factor
        found.append((width * height, corners_of(box.tolist())))
    found.sort(key=lambda item: -item[0])
    return [corners for _, corners in found[:limit]]


def map_corners(corners: Corners, to_original: Homography | None) -> Corners:
    """Corners found in a variant, in the original image's pixels."""
    if to_original is None:
        return corners
    pts = np.array(corners, dtype=np.float64).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(pts, to_original).reshape(-1, 2)
    return corners_of(mapped.tolist())
