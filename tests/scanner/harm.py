"""Light and wear on a label in a camera frame: glare, shadows, wet smudges, tape,
stains, marker, holes, torn corners, fading.

Shared by the photo set (``photoset.py``) and the synthetic stress frames (``stress.py``,
category "wear": :data:`HARM`). Each function takes the frame (BGR uint8), a seeded
generator and the code's quad (4 x 2 float32, TL TR BR BL) and returns a new frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Quad = NDArray[np.float32]


def _blob(shape: tuple[int, int], centre: NDArray[np.float32], radii: tuple[float, float]) -> Any:
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.exp(-(((xs - centre[0]) / radii[0]) ** 2 + ((ys - centre[1]) / radii[1]) ** 2))


def glare(scene: Image, rng: np.random.Generator, quad: Quad, spots: int, sheen: float) -> Image:
    """A plastic sleeve under a lamp: a washed-out sheen and hot specular spots."""
    out = scene.astype(np.float32)
    side = float(np.ptp(quad[:, 0]))
    centre = quad.mean(axis=0)
    if sheen:
        band = _blob(scene.shape[:2], centre + rng.uniform(-0.3, 0.3, 2) * side, (side, side / 3))
        out = out * (1 - 0.4 * sheen * band[..., None]) + 255 * 0.55 * sheen * band[..., None]
    for _ in range(spots):
        at = centre + rng.uniform(-0.4, 0.4, 2) * side
        r = rng.uniform(0.04, 0.14) * side
        spot = _blob(scene.shape[:2], at.astype(np.float32), (r, r * rng.uniform(0.5, 1.5)))
        out += spot[..., None] * rng.uniform(200, 320)
    return np.clip(out, 0, 255).astype(np.uint8)


def smudge(scene: Image, rng: np.random.Generator, quad: Quad, count: int) -> Image:
    """Wet patches: the paper darkens, ink bleeds (local blur), edges stay sharp-ish."""
    out = scene.copy()
    side = float(np.ptp(quad[:, 0]))
    bled = cv2.GaussianBlur(scene, (0, 0), max(1.0, side / 90))
    for _ in range(count):
        at = quad.mean(axis=0) + rng.uniform(-0.45, 0.45, 2) * side
        mask = np.zeros(scene.shape[:2], np.uint8)
        axes = (int(rng.uniform(0.06, 0.18) * side), int(rng.uniform(0.05, 0.14) * side))
        cv2.ellipse(
            mask, (int(at[0]), int(at[1])), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1
        )
        soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), 3)[..., None]
        wet = bled.astype(np.float32) * rng.uniform(0.6, 0.85)
        out = (out * (1 - soft) + wet * soft).astype(np.uint8)
    return out


def tape(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """A strip of packing tape across part of the code: yellowish, glossy, hard edges."""
    side = float(np.ptp(quad[:, 0]))
    centre = quad.mean(axis=0) + rng.uniform(-0.3, 0.3, 2) * side
    angle = rng.uniform(0, math.pi)
    width = rng.uniform(0.12, 0.25) * side
    d = np.array([math.cos(angle), math.sin(angle)], np.float32) * side * 2
    n = np.array([-math.sin(angle), math.cos(angle)], np.float32) * width / 2
    poly = np.array([centre - d - n, centre + d - n, centre + d + n, centre - d + n], np.int32)
    mask = np.zeros(scene.shape[:2], np.uint8)
    cv2.fillPoly(mask, [poly], 255)
    alpha = (mask.astype(np.float32) / 255)[..., None]
    tint = np.array([150, 205, 225], np.float32) * rng.uniform(0.9, 1.1)
    shine = rng.uniform(0.15, 0.45)
    blurred = cv2.GaussianBlur(scene, (0, 0), 1.2).astype(np.float32)
    taped = blurred * (1 - shine) + tint * shine
    return np.clip(scene * (1 - alpha) + taped * alpha, 0, 255).astype(np.uint8)


def shadow(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """A hand's or a phone's hard shadow across the code."""
    side = float(np.ptp(quad[:, 0]))
    centre = quad.mean(axis=0)
    angle = rng.uniform(0, 2 * math.pi)
    normal = np.array([math.cos(angle), math.sin(angle)])
    offset = rng.uniform(-0.25, 0.25) * side
    h, w = scene.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dist = (xs - centre[0]) * normal[0] + (ys - centre[1]) * normal[1] - offset
    edge = rng.uniform(1.0, 6.0)
    inside = 1 / (1 + np.exp(-dist / edge))
    depth = rng.uniform(0.35, 0.7)
    return np.clip(scene * (1 - depth * inside[..., None]), 0, 255).astype(np.uint8)


def _jagged(rng: np.random.Generator, points: list[NDArray[np.float32]], step: float) -> Any:
    """A torn edge: the polygon's sides broken into short, randomly offset pieces."""
    out = []
    for a, b in zip(points, points[1:] + points[:1], strict=True):
        pieces = max(2, int(np.hypot(*(b - a)) / step))
        for t in np.linspace(0, 1, pieces, endpoint=False):
            out.append(a + (b - a) * t + rng.normal(0, step / 3, 2))
    return np.array(out, np.int32)


def stain(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """Coffee or mud: an irregular, translucent brown patch with a darker dried rim."""
    side = float(np.ptp(quad[:, 0]))
    centre = quad.mean(axis=0) + rng.uniform(-0.35, 0.35, 2) * side
    radius = rng.uniform(0.1, 0.2) * side
    angles = np.sort(rng.uniform(0, 2 * math.pi, 14))
    radii = radius * rng.uniform(0.6, 1.3, 14)
    points = [
        centre + r * np.array([math.cos(a), math.sin(a)])
        for a, r in zip(angles, radii, strict=True)
    ]
    mask = np.zeros(scene.shape[:2], np.uint8)
    cv2.fillPoly(mask, [_jagged(rng, points, radius / 4)], 255)
    soft = cv2.GaussianBlur(mask.astype(np.float32) / 255, (0, 0), radius / 10)
    rim = np.clip(soft * (1 - soft) * 4, 0, 1)
    colour = np.array([40, 70, 110], np.float32) * rng.uniform(0.6, 1.2)
    strength = rng.uniform(0.55, 0.85)
    alpha = (soft * strength + rim * 0.3)[..., None]
    return np.clip(scene * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def scribble(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """A marker pen across the code: a few thick strokes, blue or black."""
    side = float(np.ptp(quad[:, 0]))
    at = quad.mean(axis=0) + rng.uniform(-0.3, 0.3, 2) * side
    heading = rng.uniform(0, 2 * math.pi)
    points = [at]
    for _ in range(int(rng.integers(3, 7))):
        heading += rng.normal(0, 1.2)
        at = at + rng.uniform(0.1, 0.25) * side * np.array([math.cos(heading), math.sin(heading)])
        points.append(at)
    colour = ((120, 40, 20), (30, 30, 30), (40, 40, 150))[int(rng.integers(0, 3))]
    out = scene.copy()
    width = max(2, int(rng.uniform(0.02, 0.04) * side))
    cv2.polylines(out, [np.array(points, np.int32)], False, colour, width, cv2.LINE_AA)
    return out


def hole(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """Holes punched through the label (a staple pulled out, a nail): the box shows."""
    side = float(np.ptp(quad[:, 0]))
    out = scene.copy()
    for _ in range(int(rng.integers(1, 4))):
        at = quad.mean(axis=0) + rng.uniform(-0.4, 0.4, 2) * side
        radius = int(rng.uniform(0.03, 0.07) * side)
        shade = tuple(int(c) for c in rng.integers(20, 90, 3))
        cv2.circle(out, (int(at[0]), int(at[1])), radius, shade, -1, cv2.LINE_AA)
    return out


def torn_corner(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """A corner of the label torn off, finder pattern and all: the box shows through."""
    corner = int(rng.integers(0, 4))
    a, b, c = quad[corner], quad[(corner + 1) % 4], quad[(corner - 1) % 4]
    depth = rng.uniform(0.12, 0.24)
    points = [a + (a - quad.mean(axis=0)) * 0.3, a + (b - a) * depth * 1.3, a + (c - a) * depth]
    mask = np.zeros(scene.shape[:2], np.uint8)
    cv2.fillPoly(mask, [_jagged(rng, points, float(np.ptp(quad[:, 0])) / 40)], 255)
    card = np.array(rng.integers(60, 170, 3), np.float32)  # cardboard underneath
    alpha = (cv2.GaussianBlur(mask, (3, 3), 0).astype(np.float32) / 255)[..., None]
    return np.clip(scene * (1 - alpha) + card * alpha, 0, 255).astype(np.uint8)


def faded(scene: Image, rng: np.random.Generator, quad: Quad) -> Image:
    """A thermal label left in the sun: the ink fades towards one side."""
    side = float(np.ptp(quad[:, 0]))
    h, w = scene.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    angle = rng.uniform(0, 2 * math.pi)
    centre = quad.mean(axis=0)
    along = ((xs - centre[0]) * math.cos(angle) + (ys - centre[1]) * math.sin(angle)) / side
    fade = np.clip(0.5 + along, 0, 1) * rng.uniform(0.5, 0.75)
    paper = np.float32(rng.uniform(215, 240))
    return np.clip(scene + (paper - scene) * fade[..., None], 0, 255).astype(np.uint8)


HARM: tuple[Callable[[Image, np.random.Generator, Quad], Image], ...] = (
    stain,
    scribble,
    hole,
    torn_corner,
    faded,
)
