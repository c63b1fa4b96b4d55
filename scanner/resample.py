"""Re-read a damaged code from its module grid: finder patterns, grid, erasures.

When a stain covers a finder pattern, or blots cover more modules than error
correction fixes as errors, zxing-cpp, zbar and OpenCV give up. Here:

1. finder patterns are found as nested contours (dark square, light ring, dark stone;
   a ring merged with a stain still counts). Three at the corners of an L place the
   code; two are enough, since the symbol is square (next to each other they give a
   side, and the code lies on one of its two sides; across, a diagonal); one is
   enough inside a patch dense with edges that the caller hints at (its extent gives
   the size);
2. for each such square and each version its size allows, the module grid is placed
   by the three finder corners (affine), then placed again for perspective: on the
   finders' own outer corners (a homography from up to twelve points), and on the
   finder and alignment patterns found near where the first guess puts them; the
   placement whose function patterns agree best is sampled at the module centres;
3. modules inside a uniform 4 x 4 patch (no code has one; a stain, a hole, a torn-off
   corner or tape has) and modules too close to their local threshold are *erased*,
   and :mod:`scanner.symbol` decodes with erasures, which Reed-Solomon corrects at
   half the cost of errors, and refuses rather than guesses.

Costs scale with the finder patterns in the frame (at most :data:`MAX_FINDERS`, and
:data:`MAX_SQUARES` squares from them), and every try checks the caller's clock.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import cv2
import numpy as np

from scanner.backends import Corners, Image, RawRead, corners_of
from scanner.symbol import decode_grid, pattern_agreement, version_of

#: Candidate squares tried per frame at most (each costs 1-5 ms).
MAX_SQUARES = 6
#: Finder patterns considered per frame at most (largest first).
MAX_FINDERS = 10
_BLOT = 4  # a uniform patch this many modules wide is not code


@dataclass(frozen=True)
class Finder:
    """A finder pattern: centre of its stone, in pixels, its outer side, and the four
    corners of its outer square when its contour has four (none when a stain merged)."""

    x: float
    y: float
    side: float
    corners: tuple[tuple[float, float], ...] = ()


def finders(gray: Image) -> list[Finder]:
    """Finder patterns in a gray image, largest first."""
    binary = _binary(gray)
    if _busy(binary):  # sensor noise: tracing its specks would take 100s of ms
        binary = _binary(cast(Image, cv2.medianBlur(gray, 5)))
        if _busy(binary):
            return []
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
        if core < 4 or not 1.5 < ring / core < 5.0:
            continue
        corners: tuple[tuple[float, float], ...] = ()
        if 1.3 < outer / max(ring, 1) < 3.2 and _square_ish(contour, 1.6, 0.0):
            side = math.sqrt(outer)
            quad = cv2.approxPolyDP(contour, 0.08 * cv2.arcLength(contour, True), True)
            if len(quad) == 4:
                corners = tuple((float(x), float(y)) for x, y in quad.reshape(4, 2))
        elif _square_ish(contours[child], 1.3, 0.75):  # the dark ring merged with a stain
            side = math.sqrt(ring) * 7 / 5
        else:
            continue
        moments = cv2.moments(contours[stone])
        if moments["m00"] <= 0:
            continue
        cx, cy = moments["m10"] / moments["m00"], moments["m01"] / moments["m00"]
        finder = Finder(cx, cy, side, corners)
        if all(abs(f.x - cx) + abs(f.y - cy) > f.side / 2 for f in found):
            found.append(finder)
    found.sort(key=lambda f: -f.side)
    return found[:MAX_FINDERS]


def _square_ish(contour: np.ndarray, aspect: float, fill: float) -> bool:
    """A roughly square contour at least 7 px wide, filling ``fill`` of its box."""
    (_, _), (w, h), _ = cv2.minAreaRect(contour)
    return bool(
        min(w, h) >= 7
        and max(w, h) <= aspect * min(w, h)
        and cv2.contourArea(contour) >= fill * w * h
    )


def _binary(gray: Image) -> Image:
    block = max(15, (min(gray.shape[:2]) // 16) | 1)
    return cast(
        Image,
        cv2.adaptiveThreshold(
            gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 7
        ),
    )


def _busy(binary: Image) -> bool:
    """More than 8 % of horizontal neighbours differ: photos of labels measure 1-4 %
    (dim, pushed gain 14 %), noise 40-50 %."""
    return bool((binary[:, 1:] != binary[:, :-1]).mean() > 0.08)


Square = tuple[tuple[float, float], ...]  # four finder-centre positions, clockwise


def squares(found: list[Finder]) -> list[tuple[Square, float, int]]:
    """Candidate symbols from triples and pairs of finders: (corner centres, module px,
    corners that hold a found finder), best supported first."""
    out: list[tuple[Square, float]] = []
    for a in found:  # three finders at the corners of an L: the usual case
        for j, b in enumerate(found):
            for c in found[j + 1 :]:
                if a in (b, c) or max(f.side for f in (a, b, c)) > 2.5 * min(
                    a.side, b.side, c.side
                ):
                    continue
                pa, pb, pc = (np.array([f.x, f.y]) for f in (a, b, c))
                u, v = pb - pa, pc - pa
                cosine = float(u @ v) / max(float(np.hypot(*u) * np.hypot(*v)), 1e-6)
                ratio = float(np.hypot(*u) / max(np.hypot(*v), 1e-6))
                if abs(cosine) < 0.5 and 0.5 < ratio < 2.0:
                    module = (a.side + b.side + c.side) / 21
                    out.append((_clockwise((pa, pb, pb + v, pc)), module))
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
                    out.append((_clockwise((pa, pb, pb + sign * perp, pa + sign * perp)), module))
            if 14 <= span / math.sqrt(2) <= 100:  # opposite corners
                mid, half = (pa + pb) / 2, perp / 2
                out.append((_clockwise((pa, mid + half, pb, mid - half)), module))
    kept: list[tuple[Square, float, int]] = []
    for guess, module in out:
        corners, support = [], 0
        for x, y in guess:  # a corner where a finder was found is that finder's centre
            near = [f for f in found if abs(f.x - x) + abs(f.y - y) < f.side / 2]
            corners.append((near[0].x, near[0].y) if near else (x, y))
            support += bool(near)
        square = tuple(corners)
        if not any(_same_square(square, k[0], module) for k in kept):
            kept.append((square, module, support))
    kept.sort(key=lambda k: -k[2])
    return kept[:MAX_SQUARES]


def _clockwise(points: tuple[np.ndarray, ...]) -> Square:
    """The four points as a square going clockwise on screen (y down), first point kept."""
    p = [(float(q[0]), float(q[1])) for q in points]
    (x0, y0), (x1, y1), _, (x3, y3) = p
    if (x1 - x0) * (y3 - y0) - (y1 - y0) * (x3 - x0) < 0:
        p = [p[0], p[3], p[2], p[1]]
    return tuple(p)


def _same_square(a: Square, b: Square, module: float) -> bool:
    return all(min(abs(x - u) + abs(y - v) for u, v in b) < 2 * module for x, y in a)


Homography = np.ndarray  # 3 x 3: module coordinates to image pixels


def _to_image(square: Square, size: int) -> Homography:
    """Module coordinates to pixels, affine from the three corners that hold finders
    (the first, second and last of ``square``): a fourth point guessed from them would
    bend the grid under perspective; :func:`_refined` then finds the real fourth."""
    src = np.array([[3.5, 3.5], [size - 3.5, 3.5], [3.5, size - 3.5]], np.float32)
    dst = np.array([square[0], square[1], square[3]], np.float32)
    return np.vstack([cv2.getAffineTransform(src, dst), [0.0, 0.0, 1.0]])


def sample(smooth: Image, matrix: Homography, size: int) -> np.ndarray:
    """Brightness at each module centre of a ``size`` x ``size`` grid placed by
    ``matrix`` (module coordinates to pixels) on a lightly blurred image."""
    centres = (np.stack(np.meshgrid(np.arange(size), np.arange(size)), -1) + 0.5).astype(np.float32)
    points = cv2.perspectiveTransform(centres.reshape(-1, 1, 2), matrix).reshape(size, size, 2)
    values = cv2.remap(
        smooth, points[..., 0], points[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return cast(np.ndarray, values.astype(np.float32))


_ZOOM = 6  # pixels per module when looking for a pattern near where it should be


def _pattern(stone: int) -> np.ndarray:
    """A finder (stone=3) or alignment (stone=1) pattern with a light margin, dark -1."""
    cells = np.pad(np.pad(np.pad(np.ones((stone, stone)), 1), 1, constant_values=1), 1)
    return np.kron(1 - 2 * cells, np.ones((_ZOOM, _ZOOM))).astype(np.float32)


_FINDER_T = _pattern(3)
_ALIGNMENT_T = _pattern(1)


def _refined(gray: Image, matrix: Homography, size: int) -> list[Homography]:
    """The grid placed again on the finder and bottom-right alignment patterns found
    near where the first guess puts them (a finder's stone is a few pixels off under
    blur and tape, and under perspective three points misplace the far corner by
    modules): on all four when all are found, on the three finders, on any three."""
    anchors = [(3.5, 3.5, _FINDER_T), (size - 3.5, 3.5, _FINDER_T), (3.5, size - 3.5, _FINDER_T)]
    if size >= 25:
        anchors.append((size - 6.5, size - 6.5, _ALIGNMENT_T))
    src, dst = [], []
    for mx, my, template in anchors:
        # modules searched: +-4 around a finder, +-7 around the alignment pattern (where a
        # guessed fourth corner misplaces it most)
        span = template.shape[0] // _ZOOM + (8 if template is _FINDER_T else 14)
        lo_x, lo_y = mx - span / 2, my - span / 2
        shift = np.array(
            [[_ZOOM, 0, -lo_x * _ZOOM], [0, _ZOOM, -lo_y * _ZOOM], [0, 0, 1]], np.float64
        )
        patch = cv2.warpPerspective(
            gray,
            shift @ np.linalg.inv(matrix),
            (span * _ZOOM, span * _ZOOM),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        score = cv2.matchTemplate(patch.astype(np.float32), template, cv2.TM_CCOEFF_NORMED)
        _, best, _, (px, py) = cv2.minMaxLoc(score)
        if best < (0.45 if template is _FINDER_T else 0.3):  # stained or torn off
            continue
        half = template.shape[0] / 2 / _ZOOM
        at = np.array([[(lo_x + px / _ZOOM + half, lo_y + py / _ZOOM + half)]], np.float32)
        point = cv2.perspectiveTransform(at, matrix).reshape(2)
        src.append((mx, my))
        dst.append((float(point[0]), float(point[1])))
    placed = []
    if len(src) == 4:
        placed.append(
            cast(
                Homography,
                cv2.getPerspectiveTransform(np.array(src, np.float32), np.array(dst, np.float32)),
            )
        )
    finders_only = [(s, d) for s, d in zip(src, dst, strict=True) if s[0] == 3.5 or s[1] == 3.5]
    every = list(zip(src, dst, strict=True))
    for points in (finders_only, every) if every != finders_only else (finders_only,):
        if len(points) == 3:
            a = np.array([s for s, _ in points], np.float32)
            b = np.array([d for _, d in points], np.float32)
            placed.append(np.vstack([cv2.getAffineTransform(a, b), [0.0, 0.0, 1.0]]))
    return placed


def _on_finder_corners(found: Sequence[Finder], matrix: Homography, size: int) -> list[Homography]:
    """The grid placed on the outer corners of the finders at its three finder places
    (a homography from up to twelve points): under strong perspective the finders
    differ in size and three centres cannot place the far side."""
    inverse = np.linalg.inv(matrix)
    module_points: list[tuple[float, float]] = []
    image_points: list[tuple[float, float]] = []
    for ox, oy in ((0.0, 0.0), (size - 7.0, 0.0), (0.0, size - 7.0)):
        centre = matrix @ np.array([ox + 3.5, oy + 3.5, 1.0])
        cx, cy = centre[0] / centre[2], centre[1] / centre[2]
        near = [f for f in found if f.corners and abs(f.x - cx) + abs(f.y - cy) < f.side / 2]
        if not near:
            continue
        targets = [(ox, oy), (ox + 7, oy), (ox + 7, oy + 7), (ox, oy + 7)]
        for x, y in near[0].corners:
            guess = inverse @ np.array([x, y, 1.0])
            gx, gy = guess[0] / guess[2], guess[1] / guess[2]
            module_points.append(min(targets, key=lambda t: abs(t[0] - gx) + abs(t[1] - gy)))
            image_points.append((x, y))
    if len(module_points) < 8 or len(set(module_points)) < len(module_points):
        return []
    placed, _ = cv2.findHomography(
        np.array(module_points, np.float32), np.array(image_points, np.float32), 0
    )
    return [] if placed is None else [cast(Homography, placed)]


def binarise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(dark, erased) modules: a local threshold over 7 modules; erased where a uniform
    4 x 4 patch lies (a blot) or the module is too close to its threshold."""
    size = values.shape[0]
    local = cv2.blur(values, (7, 7), borderType=cv2.BORDER_REFLECT)
    spread = np.sqrt(
        np.maximum(cv2.blur(values**2, (7, 7), borderType=cv2.BORDER_REFLECT) - local**2, 1.0)
    )
    flat_values = values.reshape(-1)
    k5, k95 = int(0.05 * (flat_values.size - 1)), int(0.95 * (flat_values.size - 1))
    ranked = np.partition(flat_values, (k5, k95))
    low, high = float(ranked[k5]), float(ranked[k95])
    # a flat patch (inside a stain) has no contrast of its own: judge it by the code's
    flat = spread < 0.12 * (high - low)
    dark = values < np.where(flat, (low + high) / 2, local)
    unsure = flat | (np.abs(values - local) < 0.25 * spread)
    sums = np.pad(np.cumsum(np.cumsum(dark, 0, dtype=np.int32), 1), ((1, 0), (1, 0)))
    window = (
        sums[_BLOT:, _BLOT:]
        - sums[:-_BLOT, _BLOT:]
        - sums[_BLOT:, :-_BLOT]
        + sums[:-_BLOT, :-_BLOT]
    )
    uniform = ((window == 0) | (window == _BLOT * _BLOT)).astype(np.uint8)
    # every module under a uniform window, then one more module around (the blot's rim)
    covered = np.zeros((size, size), np.uint8)
    covered[: size - _BLOT + 1, : size - _BLOT + 1] = uniform
    blot = cv2.dilate(covered, np.ones((_BLOT + 2, _BLOT + 2), np.uint8), anchor=(_BLOT, _BLOT))
    return dark, blot.astype(bool) | unsure


def read(
    gray: Image,
    skip: Sequence[Corners] = (),
    left: Callable[[], bool] = lambda: True,
    hints: Sequence[Corners] = (),
) -> list[RawRead]:
    """Every code re-read from the finder patterns in ``gray`` (usually a damaged one
    the other decoders gave up on), except those whose centre lies in a ``skip`` quad;
    stops trying when ``left()`` says the caller's time is spent. ``hints`` are quads
    where a code may be (patches dense with edges): one finder inside is then enough."""
    found = finders(gray)
    reads: list[RawRead] = []
    done = list(skip)
    blurred: dict[int, Image] = {}
    tries: list[tuple[Square, float, int]] = []
    for square, module, _ in squares(found):
        side = math.dist(square[0], square[1]) / module + 7
        tries += [(square, module, size) for size in _sizes(side)]
    for hint in _hinted(found, hints):
        # the patch is looser than the code: down to three versions smaller
        tries += [(_hinted_square(hint, size), hint[3], size) for size in _sizes(hint[4], 3)]
    for square, module, size in tries:
        centre = (sum(x for x, _ in square) / 4, sum(y for _, y in square) / 4)
        if any(_inside(quad, centre) for quad in done):
            continue
        if not left():
            return reads
        k = max(1, int(module * 0.5)) | 1
        if k not in blurred:
            blurred[k] = cast(Image, cv2.blur(gray, (k, k))) if k > 1 else gray
        hit = _read_square(gray, blurred[k], square, size, found)
        if hit is not None:
            reads.append(hit)
            done.append(hit[1])
    return reads


Hint = tuple[np.ndarray, np.ndarray, np.ndarray, float, float]


def _hinted(found: list[Finder], hints: Sequence[Corners]) -> list[Hint]:
    """Finders near a corner of a hinted quad (the other two stained or torn off): the
    finder's centre, the quad's two edge directions from that corner, the module size
    and the quad's side in modules."""
    out: list[Hint] = []
    for quad in hints:
        points = np.array(quad, np.float64)
        edges = [math.dist(quad[i], quad[(i + 1) % 4]) for i in range(4)]
        if max(edges) > 1.4 * min(edges):
            continue
        for f in found:
            module = f.side / 7
            gaps = np.hypot(points[:, 0] - f.x, points[:, 1] - f.y)
            corner = int(np.argmin(gaps))
            if gaps[corner] > 12 * module or not _inside(quad, (f.x, f.y)):
                continue
            here = points[corner]
            u, v = points[(corner + 1) % 4] - here, points[(corner - 1) % 4] - here
            u, v = u / np.hypot(*u), v / np.hypot(*v)
            out.append((np.array([f.x, f.y]), u, v, module, sum(edges) / 4 / module))
            break
    return out


def _hinted_square(hint: Hint, size: int) -> Square:
    """The square of finder centres of a ``size``-module code held at the hint's finder."""
    anchor, u, v, module, _ = hint
    length = (size - 7) * module
    return _clockwise((anchor, anchor + u * length, anchor + (u + v) * length, anchor + v * length))


def _inside(quad: Corners, point: tuple[float, float]) -> bool:
    contour = np.array(quad, np.float32).reshape(-1, 1, 2)
    return cv2.pointPolygonTest(contour, point, False) >= 0


def _sizes(side: float, smaller: int = 1) -> list[int]:
    """Symbol sizes near ``side`` modules: the nearest, then down to ``smaller`` versions
    less, then one more."""
    nearest = round((side - 17) / 4)
    versions = [nearest, *(nearest - i for i in range(1, smaller + 1)), nearest + 1]
    return [17 + 4 * v for v in versions if version_of(17 + 4 * v) is not None]


def _read_square(
    gray: Image, smooth: Image, square: Square, size: int, found: Sequence[Finder] = ()
) -> RawRead | None:
    first = binarise(sample(smooth, _to_image(square, size), size))
    # sampled from the square's i-th corner on, the grid is the first one turned i times;
    # with finders stained or torn off, turns can look alike: try the likeliest three,
    # and all four when no turn looks right (strong perspective bends the first grid)
    scores = [_finder_score(np.rot90(first[0], i)) for i in range(4)]
    turns = sorted(range(4), key=lambda i: -scores[i])
    poor = scores[turns[0]] < 1.5
    for turn in turns if poor else turns[:3]:
        if not poor and scores[turn] < scores[turns[0]] - 0.7:
            break
        upright = square[turn:] + square[:turn]
        hit = _read_turn(gray, smooth, upright, size, first, turn, found)
        if hit is not None:
            return hit
    return None


def _read_turn(
    gray: Image,
    smooth: Image,
    upright: Square,
    size: int,
    first: tuple[np.ndarray, np.ndarray],
    turn: int,
    found: Sequence[Finder] = (),
) -> RawRead | None:
    matrix = _to_image(upright, size)
    dark, erased = (np.ascontiguousarray(np.rot90(g, turn)) for g in first)
    tries = [((dark, erased), matrix)]
    for placed in _on_finder_corners(found, matrix, size):
        tries.append((binarise(sample(smooth, placed, size)), placed))
    if not any(_plausible(*grid) for grid, _ in tries):
        return None
    for placed in _refined(gray, matrix, size):
        tries.append((binarise(sample(smooth, placed, size)), placed))
    # best placed first: the patterns it finds where they belong (a false match of the
    # alignment pattern in the data makes a worse grid than the guess)
    tries.sort(key=lambda t: -pattern_agreement(*t[0]))
    for grid, placed in tries[:2]:
        payload = decode_grid(*grid)
        if payload is not None:
            return payload, _outer_corners(placed, size)
    return None


def _plausible(dark: np.ndarray, erased: np.ndarray) -> bool:
    """Worth placing again: most modules seen, most function patterns where they belong."""
    return bool(erased.mean() <= 0.5 and pattern_agreement(dark, erased) >= 0.6)


_FINDER = np.ones((7, 7), bool)
_FINDER[1:6, 1:6] = False
_FINDER[2:5, 2:5] = True


def _finder_score(dark: np.ndarray) -> float:
    """Finder likeness of the top-left, top-right and bottom-left corners, minus the
    bottom-right one's (which holds data, not a finder)."""

    def like(patch: np.ndarray) -> float:
        return float((patch == _FINDER).mean())

    return like(dark[:7, :7]) + like(dark[:7, -7:]) + like(dark[-7:, :7]) - like(dark[-7:, -7:])


def _outer_corners(matrix: Homography, size: int) -> Corners:
    outer = np.array([[0, 0], [size, 0], [size, size], [0, size]], np.float32).reshape(-1, 1, 2)
    return corners_of(cv2.perspectiveTransform(outer, matrix).reshape(-1, 2).tolist())
