"""Find and read every QR code in a camera frame, within a time budget.

The cheap path is one zxing-cpp pass on the frame as given; it also says where it saw a
code it could not read. A clean frame with one code ends there, in a couple of
milliseconds (see docs/BENCHMARKS.md, "## Scanner"). The fallbacks run when the frame
may hold more than was read:

1. nothing was read: whole-frame variants (other binarizers, contrast equalisation,
   sharpening, adaptive threshold, upscaling, inversion), cheapest and most productive
   first, until one reads something. Third in line, after the other binarizers and
   crops of what they saw, the module grid is re-read from the finder patterns with
   stains as erasures (``scanner.resample``): what reads a stained, scribbled, holed,
   torn or faded code, where the others give up;
2. a code was seen but not read (zxing's failed detections, OpenCV's candidate
   regions): enlarged crops and rectified warps of that region, zxing on each of them
   and zbar on the two best, then the grid re-read. With nothing read at all and
   WeChat named among the decoders (it is not by default), it gets small crops of the
   patches densest with edges;
3. two or more codes were read (a sheet, a stack of boxes): an upscaled pass for the
   small ones, since a third code is as likely as the second.

Every step checks the budget first (``budget_ms``, default :data:`DEFAULT_BUDGET_MS`);
when it is spent the rest is skipped and the result says so (``ScanResult.exhausted``).

Decoders whose library is missing (pyzbar without libzbar) are reported once with a
logging warning and skipped; OpenCV without the contrib WeChat module (plain
``opencv-python``) only drops the WeChat steps, noted in the debug log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import cast

import cv2
import numpy as np

from scanner import enhance, resample
from scanner.backends import (
    FACTORIES,
    OPENCV,
    WECHAT,
    ZBAR,
    ZXING,
    Backend,
    Corners,
    Image,
    OpenCVBackend,
    Point,
    RawRead,
    ZxingBackend,
    to_gray,
)
from scanner.enhance import Homography
from scanner.errors import InvalidImage

logger = logging.getLogger(__name__)

#: The decoders a default pipeline loads. OpenCV contrib's WeChat decoder is not among
#: them: the grid re-read (``scanner.resample``) reads every damaged code it reads and
#: more (synthetic damage 20 of 20 against its 16, damaged photos 15 of 16 against 9),
#: and its calls on crops that hold no readable code (100-250 ms, no budget can cut one
#: short) cost a damaged photo its read (docs/BENCHMARKS.md, "## Scanner"). Name it
#: explicitly (``Pipeline((*ALL_DECODERS, WECHAT))``) to try it on those crops; it is
#: skipped when the OpenCV build lacks it (plain ``opencv-python``).
ALL_DECODERS: tuple[str, ...] = (ZXING, ZBAR, OPENCV)

#: The default time budget for the fallbacks of one frame. The cheap pass always runs;
#: one step may overrun the budget by its own length (measured: under 60 ms).
DEFAULT_BUDGET_MS = 150.0
#: The decoder name of codes read by re-sampling their module grid (``scanner.resample``).
GRID = "grid"
#: Region crops tried per frame at most (a sheet of stickers has eight).
MAX_REGIONS = 12
#: Long side of the crops WeChat gets: on damaged frames it reads as many at 200 px as
#: at 240 px; it is fast when it reads (under 20 ms) and slowest (100-250 ms measured on
#: 200 px crops of blurred or creased photos) when it cannot.
WECHAT_SIDE = 200

__all__ = [
    "ALL_DECODERS",
    "DEFAULT_BUDGET_MS",
    "Detection",
    "Pipeline",
    "ScanResult",
    "as_image",
    "decode",
    "default_pipeline",
    "payload_from_bytes",
    "to_gray",
]


@dataclass(frozen=True, slots=True)
class Detection:
    """One QR code read from a frame.

    ``payload`` is ``str`` when the code's bytes are valid UTF-8, else the raw ``bytes``.
    ``corners`` are four (x, y) pixel positions in the input image, the code's own
    top-left first where the decoder reports orientation. ``decoder`` names the library
    that read it and ``stage`` the pipeline step ("direct" for the cheap path).
    """

    payload: str | bytes
    corners: Corners
    decoder: str
    stage: str = "direct"

    @property
    def text(self) -> str | None:
        """The payload as text, or None when it is not UTF-8."""
        return self.payload if isinstance(self.payload, str) else None

    @property
    def raw(self) -> bytes:
        """The payload as bytes (UTF-8 encoded when it is text)."""
        return self.payload.encode() if isinstance(self.payload, str) else self.payload

    @property
    def centre(self) -> Point:
        """Mean of the four corners."""
        return (
            sum(p[0] for p in self.corners) / 4.0,
            sum(p[1] for p in self.corners) / 4.0,
        )


class ScanResult(list[Detection]):
    """The detections of one frame (a list), and whether the time budget cut it short.

    ``exhausted`` is True when fallbacks were skipped because the budget was spent, so
    a caller may ask for another picture; ``elapsed_ms`` is the wall time of the call.
    """

    def __init__(
        self, detections: Iterable[Detection] = (), exhausted: bool = False, elapsed_ms: float = 0.0
    ) -> None:
        super().__init__(detections)
        self.exhausted = exhausted
        self.elapsed_ms = elapsed_ms


def payload_from_bytes(data: bytes) -> str | bytes:
    """Text when ``data`` is UTF-8, otherwise the bytes unchanged (never raises)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


def as_image(image: object) -> Image:
    """Check and normalise decoder input: 2-D gray, or 3-D BGR/BGRA, uint8, contiguous."""
    if not isinstance(image, np.ndarray):
        raise InvalidImage(f"expected a numpy array, got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise InvalidImage(f"expected dtype uint8, got {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 3)):
        raise InvalidImage(f"expected a gray or BGR image, got shape {image.shape}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise InvalidImage(f"image too small: {image.shape}")
    return np.ascontiguousarray(cast(Image, image))


class _Clock:
    """The budget of one call: ``left()`` is False (and remembered) once it is spent."""

    def __init__(self, started: float, budget_ms: float) -> None:
        self.deadline = started + budget_ms / 1000.0
        self.exhausted = False

    def left(self) -> bool:
        if time.perf_counter() >= self.deadline:
            self.exhausted = True
        return not self.exhausted


@dataclass
class _Frame:
    """Per-call state shared by the steps, so a variant is computed at most once."""

    image: Image
    gray: Image
    clock: _Clock
    seen: list[Corners] = field(default_factory=list)  # detected, maybe not read
    tried: list[Corners] = field(default_factory=list)  # regions already cropped
    cache: dict[str, Image] = field(default_factory=dict)
    grid_done: bool = False

    def variant(self, key: str, make: Callable[[Image], Image]) -> Image:
        if key not in self.cache:
            self.cache[key] = make(self.gray)
        return self.cache[key]


Step = Callable[[_Frame], list[Detection]]


class Pipeline:
    """The decoding pipeline: a cheap pass, then fallbacks while the frame may hold more."""

    def __init__(self, decoders: Sequence[str] = ALL_DECODERS, fallbacks: bool = True) -> None:
        unknown = set(decoders) - set(FACTORIES)
        if unknown:
            raise ValueError(f"unknown decoders: {sorted(unknown)}")
        self._wanted = tuple(decoders)
        self._fallbacks = fallbacks
        self._backends: dict[str, Backend | None] = {}

    def backend(self, name: str) -> Backend | None:
        """The loaded backend, or None when it is unavailable (warned about once)."""
        if name not in self._backends:
            if name not in self._wanted:
                self._backends[name] = None
            else:
                try:
                    self._backends[name] = FACTORIES[name]()
                except (ImportError, OSError, AttributeError) as exc:
                    quiet = name == WECHAT  # optional by design: only note it in debug logs
                    (logger.debug if quiet else logger.warning)(
                        "QR decoder %s unavailable, skipped: %s", name, exc
                    )
                    self._backends[name] = None
        return self._backends[name]

    @property
    def available(self) -> tuple[str, ...]:
        """Names of the decoders that loaded."""
        return tuple(n for n in self._wanted if self.backend(n) is not None)

    def decode(self, image: object, budget_ms: float | None = None) -> ScanResult:
        """Every QR code found in ``image`` (gray, BGR or BGRA uint8 array).

        The fallbacks stop once ``budget_ms`` (default :data:`DEFAULT_BUDGET_MS`) is
        spent; ``0`` runs the cheap pass only.
        """
        started = time.perf_counter()
        img = as_image(image)
        budget = DEFAULT_BUDGET_MS if budget_ms is None else max(0.0, float(budget_ms))
        clock = _Clock(started, budget)
        primary = next((n for n in self._wanted if self.backend(n) is not None), None)
        if primary is None:
            return ScanResult()
        found, seen = self._cheap(primary, img)
        frame = _Frame(img, to_gray(img), clock, seen)
        if self._fallbacks:  # with no budget left, the first check marks it exhausted
            found = self._fallback(primary, frame, found)
        elapsed = (time.perf_counter() - started) * 1000
        return ScanResult(_dedupe(found), clock.exhausted, elapsed)

    def _cheap(self, primary: str, image: Image) -> tuple[list[Detection], list[Corners]]:
        backend = self.backend(primary)
        if isinstance(backend, ZxingBackend):
            reads, failed = backend.scan(image)
            return self._wrap(primary, reads, None, "direct"), failed
        return self._read(primary, image, None, "direct"), []

    def _fallback(self, primary: str, f: _Frame, found: list[Detection]) -> list[Detection]:
        if not found:
            for step in self._whole_frame(primary):
                if not f.clock.left():
                    break
                found = step(f)
                if found:
                    break
        elif len(found) >= 2 and f.clock.left():
            found = _dedupe(found + self._small_codes(primary, f))
        if _unread(f.seen, found) and f.clock.left():
            found = _dedupe(found + self._regions(f, found))
            if _unread(f.seen, found) and f.clock.left():
                found = _dedupe(found + self._grid(f, found))
        return found

    def _grid(self, f: _Frame, found: list[Detection]) -> list[Detection]:
        """Codes re-read from their finder patterns' module grid, stains as erasures
        (``scanner.resample``): what reads a blotted or torn code."""
        if f.grid_done:
            return []
        f.grid_done = True
        hints = enhance.busy_regions(f.gray, limit=2) if not found else []
        reads = resample.read(f.gray, [d.corners for d in found], f.clock.left, hints)
        return self._wrap(GRID, reads, None, "grid")

    def _whole_frame(self, primary: str) -> list[Step]:
        """Steps for a frame where nothing was read, in the order tried.

        Ordered by reads per millisecond measured on the photo and synthetic sets: the
        other zxing binarizers and crops of what they saw first (a few ms), then
        enhanced whole frames with zxing, and zbar (ten times slower) last.
        """
        zx = self.backend(ZXING)

        def binarizer(name: str) -> Step:
            def step(f: _Frame) -> list[Detection]:
                if not isinstance(zx, ZxingBackend):
                    return []
                reads, failed = zx.scan(f.gray, name)
                f.seen += failed
                return self._wrap(ZXING, reads, None, name)

            return step

        def variant(key: str, make: Callable[[Image], Image], names: Sequence[str]) -> Step:
            def step(f: _Frame) -> list[Detection]:
                image = f.variant(key, make)
                if isinstance(zx, ZxingBackend) and ZXING in names:
                    reads, failed = zx.scan(image)
                    f.seen += failed
                    if reads:
                        return self._wrap(ZXING, reads, None, key)
                return self._read_all([n for n in names if n != ZXING], image, None, key)

            return step

        def upscale(f: _Frame) -> list[Detection]:
            if max(f.gray.shape) > 1400:
                return []
            big, back = enhance.upscale(f.gray)
            if isinstance(zx, ZxingBackend):
                reads, failed = zx.scan(big)
                f.seen += [enhance.map_corners(c, back) for c in failed]
                return self._wrap(ZXING, reads, back, "upscale")
            return self._read_all([primary], big, back, "upscale")

        def regions(f: _Frame) -> list[Detection]:
            return self._regions(f, [])

        def grid(f: _Frame) -> list[Detection]:
            return self._grid(f, [])

        def wechat_busy(f: _Frame) -> list[Detection]:
            hits: list[Detection] = []
            if self.backend(WECHAT) is None:
                return hits
            for corners in enhance.busy_regions(f.gray, limit=2):
                if hits or not f.clock.left():
                    break
                hits = self._read(WECHAT, *_wechat_crop(f.gray, corners), "busy+wechat")
            return hits

        def opencv_regions(f: _Frame) -> list[Detection]:
            cv = self.backend(OPENCV)
            if isinstance(cv, OpenCVBackend):
                f.seen += _shrunk_regions(cv, f.variant("denoise", enhance.denoise))
            return self._regions(f, [])

        zxing = (primary,)
        zbar = (ZBAR,)
        return [
            binarizer("global"),
            binarizer("fixed"),
            regions,
            grid,
            variant("sharpen", enhance.sharpen, zxing),
            upscale,
            wechat_busy,
            variant("clahe", enhance.clahe, zxing),
            regions,
            variant("threshold", enhance.threshold, zxing),
            variant("gray", _same, zbar),
            variant("sharpen", enhance.sharpen, zbar),
            variant("clahe", enhance.clahe, zbar),
            variant("denoise", enhance.denoise, (primary, ZBAR)),
            variant("invert", enhance.invert, (primary, ZBAR)),
            variant("threshold", enhance.threshold, zbar),
            opencv_regions,
        ]

    def _small_codes(self, primary: str, f: _Frame) -> list[Detection]:
        """Codes too small for the cheap pass on a frame that holds several."""
        if max(f.gray.shape) > 1400:
            return []
        big, back = enhance.upscale(f.gray)
        backend = self.backend(primary)
        if isinstance(backend, ZxingBackend):
            reads, failed = backend.scan(big)
            f.seen += [enhance.map_corners(c, back) for c in failed]
            return self._wrap(primary, reads, back, "upscale")
        return self._read_all([primary], big, back, "upscale")

    def _regions(self, f: _Frame, found: list[Detection]) -> list[Detection]:
        """Enlarged crops and rectified warps of codes that were seen but not read.

        zxing tries every variant of a region before the slower decoders try the two
        most productive ones (zbar takes ten times as long on a crop).
        """
        attempts = [(ZXING, v) for v in _REGION_VARIANTS] + [
            (ZBAR, v) for v in _REGION_VARIANTS[:2]
        ]
        attempts = [(n, v) for n, v in attempts if self.backend(n) is not None]
        hits: list[Detection] = []
        for corners in _unread(f.seen, found)[:MAX_REGIONS]:
            if any(_near(corners, t) for t in f.tried):
                continue
            f.tried.append(corners)
            variants: dict[str, enhance.Variant] = {}
            for name, (key, make) in attempts:
                if not f.clock.left():
                    return hits
                if key not in variants:
                    variants[key] = make(f.gray, corners)
                image, back = variants[key]
                read = self._read(name, image, back, key)
                if read:
                    hits += read
                    break
        return hits

    def _read(
        self, name: str, image: Image, back: Homography | None, stage: str
    ) -> list[Detection]:
        backend = self.backend(name)
        if backend is None:
            return []
        return self._wrap(name, backend.read(image), back, stage)

    def _read_all(
        self, names: Iterable[str], image: Image, back: Homography | None, stage: str
    ) -> list[Detection]:
        found: list[Detection] = []
        for name in names:
            found += self._read(name, image, back, stage)
            if found:
                break
        return found

    @staticmethod
    def _wrap(
        name: str, reads: list[RawRead], back: Homography | None, stage: str
    ) -> list[Detection]:
        return [
            Detection(payload_from_bytes(raw), enhance.map_corners(corners, back), name, stage)
            for raw, corners in reads
        ]


def _same(gray: Image) -> Image:
    return gray


def _rectified_sharp(gray: Image, corners: Corners) -> enhance.Variant:
    image, back = enhance.rectify(gray, corners)
    return enhance.sharpen(image), back


def _crop_clahe(gray: Image, corners: Corners) -> enhance.Variant:
    image, back = enhance.crop(gray, corners)
    return enhance.clahe(image), back


def _wechat_crop(gray: Image, corners: Corners) -> enhance.Variant:
    return enhance.crop(gray, corners, margin=0.15, side=WECHAT_SIDE)


def _crop_threshold(gray: Image, corners: Corners) -> enhance.Variant:
    image, back = enhance.crop(gray, corners)
    return enhance.threshold(image), back


_REGION_VARIANTS: tuple[tuple[str, Callable[[Image, Corners], enhance.Variant]], ...] = (
    ("crop", enhance.crop),
    ("rectified+sharpen", _rectified_sharp),
    ("crop+clahe", _crop_clahe),
    ("rectified", enhance.rectify),
    ("crop+threshold", _crop_threshold),
)


def _shrunk_regions(cv: OpenCVBackend, gray: Image) -> list[Corners]:
    """OpenCV's candidate regions, found on a copy no larger than 960 px (it can take
    seconds on a noisy full-size frame)."""
    factor = min(1.0, 960 / max(gray.shape[:2]))
    small = gray if factor == 1.0 else cv2.resize(gray, None, fx=factor, fy=factor)
    back = enhance.scale_matrix(factor)
    return [enhance.map_corners(c, back) for c in cv.regions(cast(Image, small))]


def _side(corners: Corners) -> float:
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    return max(max(xs) - min(xs), max(ys) - min(ys), 1.0)


def _centre(corners: Corners) -> Point:
    return (sum(p[0] for p in corners) / 4, sum(p[1] for p in corners) / 4)


def _near(a: Corners, b: Corners) -> bool:
    (ax, ay), (bx, by) = _centre(a), _centre(b)
    return abs(ax - bx) + abs(ay - by) < max(_side(a), _side(b)) / 2


def _unread(seen: list[Corners], found: list[Detection]) -> list[Corners]:
    """Distinct regions seen but not covered by a read code, biggest first."""
    kept: list[Corners] = []
    for corners in sorted(seen, key=_side, reverse=True):
        if _side(corners) < 12:
            continue
        if any(_near(corners, d.corners) for d in found) or any(_near(corners, k) for k in kept):
            continue
        kept.append(corners)
    return kept


def _dedupe(found: list[Detection]) -> list[Detection]:
    """One detection per physical code: same payload and overlapping position."""
    kept: list[Detection] = []
    for det in found:
        cx, cy = det.centre
        duplicate = any(
            k.payload == det.payload
            and abs(k.centre[0] - cx) + abs(k.centre[1] - cy) < _side(k.corners)
            for k in kept
        )
        if not duplicate:
            kept.append(det)
    return kept


_default: Pipeline | None = None


def default_pipeline() -> Pipeline:
    """The process-wide pipeline used by :func:`decode`."""
    global _default
    if _default is None:
        _default = Pipeline()
    return _default


def decode(image: object, budget_ms: float | None = None) -> ScanResult:
    """Every QR code in a numpy image, via the default pipeline, within ``budget_ms``."""
    return default_pipeline().decode(image, budget_ms)
