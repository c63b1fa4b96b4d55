"""Find and read every QR code in a camera frame.

The cheap path is one zxing-cpp pass on the frame as given: it reads most clean frames
in a couple of milliseconds (see docs/BENCHMARKS.md, "## Scanner"). Only when it finds
nothing do the fallbacks run, cheapest and most productive first, stopping at the first
stage that reads something: the other decoders (zbar, OpenCV, WeChat where available),
contrast equalisation (CLAHE), sharpening, adaptive threshold, upscaling, inversion and
rectified crops around regions where a code was detected but not read.

Decoders whose library is missing (pyzbar without libzbar, OpenCV built without the
WeChat module) are reported once with a logging warning and skipped.
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from scanner.errors import InvalidImage

logger = logging.getLogger(__name__)

Image = NDArray[np.uint8]
Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]
Homography = NDArray[np.float64]

ZXING = "zxing-cpp"
ZBAR = "pyzbar"
OPENCV = "opencv"
WECHAT = "wechat"
ALL_DECODERS: tuple[str, ...] = (ZXING, ZBAR, OPENCV, WECHAT)


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


def payload_from_bytes(data: bytes) -> str | bytes:
    """Text when ``data`` is UTF-8, otherwise the bytes unchanged (never raises)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


# --------------------------------------------------------------------------- backends


RawRead = tuple[bytes, Corners]


class Backend(Protocol):
    """One decoding library behind a uniform call."""

    name: str

    def read(self, image: Image) -> list[RawRead]:
        """Decode every QR code in a grayscale or BGR image."""
        ...


def _corners(points: Iterable[Sequence[float]]) -> Corners:
    pts = [(float(p[0]), float(p[1])) for p in points]
    if len(pts) != 4:
        box = cv2.boxPoints(cv2.minAreaRect(np.array(pts, dtype=np.float32)))
        pts = [(float(x), float(y)) for x, y in box]
    return (pts[0], pts[1], pts[2], pts[3])


class ZxingBackend:
    """zxing-cpp, restricted to QR codes; returns raw bytes, never transcoded text."""

    name = ZXING

    def __init__(self) -> None:
        import zxingcpp

        self._zx: Any = zxingcpp
        self._formats = zxingcpp.BarcodeFormat.QRCode
        self._global = zxingcpp.Binarizer.GlobalHistogram

    def read(self, image: Image) -> list[RawRead]:
        return self._read(image, global_binarizer=False)

    def read_global(self, image: Image) -> list[RawRead]:
        """Same, with the global-histogram binarizer (better on smooth gradients)."""
        return self._read(image, global_binarizer=True)

    def _read(self, image: Image, global_binarizer: bool) -> list[RawRead]:
        kwargs: dict[str, Any] = {"formats": self._formats, "try_rotate": False}
        if global_binarizer:
            kwargs["binarizer"] = self._global
        found = self._zx.read_barcodes(image, **kwargs)
        return [(bytes(r.bytes), self._position(r.position)) for r in found if r.valid]

    def failed_regions(self, image: Image) -> list[Corners]:
        """Where zxing saw a code but could not read it (finder patterns, bad checksum)."""
        found = self._zx.read_barcodes(
            image, formats=self._formats, try_rotate=False, return_errors=True
        )
        return [self._position(r.position) for r in found if not r.valid]

    @staticmethod
    def _position(position: Any) -> Corners:
        corners = (
            position.top_left,
            position.top_right,
            position.bottom_right,
            position.bottom_left,
        )
        return _corners((p.x, p.y) for p in corners)


class ZbarBackend:
    """zbar through pyzbar's ctypes binding, in binary mode so bytes are not transcoded.

    pyzbar's own ``decode`` lets zbar guess a text encoding and re-encode the payload
    as UTF-8, which would turn non-UTF-8 labels into different bytes; zbar >= 0.23 has
    ZBAR_CFG_BINARY (config 4) to keep them raw.
    """

    name = ZBAR
    _CFG_ENABLE = 0
    _CFG_BINARY = 4

    def __init__(self) -> None:
        from pyzbar import pyzbar, wrapper  # ImportError when libzbar is missing

        self._pz: Any = pyzbar
        self._w: Any = wrapper
        self._qr = int(wrapper.ZBarSymbol.QRCODE)
        self._fourcc = pyzbar._FOURCC["L800"]

    def read(self, image: Image) -> list[RawRead]:
        gray = np.ascontiguousarray(to_gray(image))
        height, width = gray.shape
        data = gray.tobytes()
        w = self._w
        results: list[RawRead] = []
        with self._pz._image_scanner() as scanner:
            w.zbar_image_scanner_set_config(scanner, 0, self._CFG_ENABLE, 0)
            w.zbar_image_scanner_set_config(scanner, self._qr, self._CFG_ENABLE, 1)
            w.zbar_image_scanner_set_config(scanner, self._qr, self._CFG_BINARY, 1)
            with self._pz._image() as zimage:
                w.zbar_image_set_format(zimage, self._fourcc)
                w.zbar_image_set_size(zimage, width, height)
                w.zbar_image_set_data(
                    zimage, ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p), len(data), None
                )
                if w.zbar_scan_image(scanner, zimage) <= 0:
                    return results
                for symbol in self._pz._symbols_for_image(zimage):
                    raw = ctypes.string_at(
                        w.zbar_symbol_get_data(symbol), w.zbar_symbol_get_data_length(symbol)
                    )
                    points = [
                        (w.zbar_symbol_get_loc_x(symbol, i), w.zbar_symbol_get_loc_y(symbol, i))
                        for i in range(w.zbar_symbol_get_loc_size(symbol))
                    ]
                    results.append((bytes(raw), _corners(points)))
        return results


class OpenCVBackend:
    """OpenCV's QRCodeDetector (detectAndDecodeBytesMulti)."""

    name = OPENCV

    def __init__(self) -> None:
        self._detector = cv2.QRCodeDetector()

    def read(self, image: Image) -> list[RawRead]:
        try:
            ok, infos, points, _ = self._detector.detectAndDecodeBytesMulti(image)
        except cv2.error:  # OpenCV asserts on some degenerate candidate sets
            return []
        if not ok or points is None:
            return []
        return [
            (bytes(info), _corners(quad)) for info, quad in zip(infos, points, strict=False) if info
        ]

    def regions(self, image: Image) -> list[Corners]:
        """Quadrangles that look like QR codes, decoded or not."""
        try:
            ok, points = self._detector.detectMulti(image)
        except cv2.error:
            return []
        if not ok or points is None:
            return []
        return [_corners(quad) for quad in points]


class WeChatBackend:
    """OpenCV contrib's WeChat detector, used only when the runtime build has it."""

    name = WECHAT

    def __init__(self) -> None:
        module = getattr(cv2, "wechat_qrcode", None)
        if module is None:
            raise ImportError("cv2.wechat_qrcode is not in this OpenCV build")
        self._detector: Any = module.WeChatQRCode()

    def read(self, image: Image) -> list[RawRead]:
        texts, points = self._detector.detectAndDecode(image)
        return [
            (str(text).encode(), _corners(quad))
            for text, quad in zip(texts, points, strict=False)
            if text
        ]


_FACTORIES: dict[str, Callable[[], Backend]] = {
    ZXING: ZxingBackend,
    ZBAR: ZbarBackend,
    OPENCV: OpenCVBackend,
    WECHAT: WeChatBackend,
}


# --------------------------------------------------------------------------- image helpers


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


def to_gray(image: Image) -> Image:
    """Grayscale view of a gray or BGR image."""
    if image.ndim == 2:
        return image
    return cast(Image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


def _scale_matrix(factor: float) -> Homography:
    """Homography from an image scaled by ``factor`` back to the original."""
    return np.diag([1.0 / factor, 1.0 / factor, 1.0])


def _map_corners(corners: Corners, to_original: Homography | None) -> Corners:
    if to_original is None:
        return corners
    pts = np.array(corners, dtype=np.float64).reshape(-1, 1, 2)
    mapped = cv2.perspectiveTransform(pts, to_original).reshape(-1, 2)
    return _corners(mapped.tolist())


# --------------------------------------------------------------------------- fallback stages

Variant = tuple[Image, Homography | None]


def _clahe(gray: Image) -> Image:
    return cast(Image, cv2.createCLAHE(clipLimit=3.0, tileGridSize=(8, 8)).apply(gray))


def _sharpen(gray: Image) -> Image:
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return cast(Image, cv2.addWeighted(gray, 2.2, blurred, -1.2, 0))


def _threshold(gray: Image) -> Image:
    block = max(15, (min(gray.shape[:2]) // 24) | 1)
    return cast(
        Image,
        cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block, 5),
    )


def _invert(gray: Image) -> Image:
    return cast(Image, cv2.bitwise_not(gray))


def _denoise(gray: Image) -> Image:
    return cast(Image, cv2.medianBlur(gray, 3))


def _upscale(gray: Image, factor: float = 2.0) -> Variant:
    big = cv2.resize(gray, None, fx=factor, fy=factor, interpolation=cv2.INTER_CUBIC)
    return cast(Image, big), _scale_matrix(factor)


def _rectify(gray: Image, corners: Corners, side: int = 480, margin: float = 0.25) -> Variant:
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


@dataclass
class _Frame:
    """Per-call state shared by the stages, so a variant is computed at most once."""

    image: Image
    gray: Image
    cache: dict[str, Image] = field(default_factory=dict)

    def variant(self, key: str, make: Callable[[Image], Image]) -> Image:
        if key not in self.cache:
            self.cache[key] = make(self.gray)
        return self.cache[key]


# --------------------------------------------------------------------------- pipeline


class Pipeline:
    """The decoding pipeline: a cheap pass, then fallbacks only when it reads nothing."""

    def __init__(self, decoders: Sequence[str] = ALL_DECODERS, fallbacks: bool = True) -> None:
        unknown = set(decoders) - set(_FACTORIES)
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
                    self._backends[name] = _FACTORIES[name]()
                except (ImportError, OSError) as exc:
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

    def decode(self, image: object) -> list[Detection]:
        """Every QR code found in ``image`` (gray, BGR or BGRA uint8 array)."""
        img = as_image(image)
        primary = next((n for n in self._wanted if self.backend(n) is not None), None)
        if primary is None:
            return []
        found = self._read(primary, img, None, "direct")
        if found or not self._fallbacks:
            return found
        frame = _Frame(img, to_gray(img))
        for stage in self._stages(primary):
            found = stage(frame)
            if found:
                return _dedupe(found)
        return []

    # Each stage returns detections in original-image coordinates, or [] to go on.
    def _stages(self, primary: str) -> list[Callable[[_Frame], list[Detection]]]:
        others = [n for n in (ZBAR, OPENCV) if n != primary]

        def other_decoders(f: _Frame) -> list[Detection]:
            return self._read_all(others[:1], f.gray, None, "gray")

        def enhanced(
            key: str, make: Callable[[Image], Image]
        ) -> Callable[[_Frame], list[Detection]]:
            def stage(f: _Frame) -> list[Detection]:
                return self._read_all([primary, ZBAR], f.variant(key, make), None, key)

            return stage

        def global_binarizer(f: _Frame) -> list[Detection]:
            zx = self.backend(ZXING)
            if not isinstance(zx, ZxingBackend):
                return []
            return self._wrap(ZXING, zx.read_global(f.gray), None, "global")

        def upscale(f: _Frame) -> list[Detection]:
            if max(f.gray.shape) > 2000:
                return []
            big, back = _upscale(f.gray)
            return self._read_all([primary], big, back, "upscale")

        def invert(f: _Frame) -> list[Detection]:
            return self._read_all([ZBAR, OPENCV], f.variant("invert", _invert), None, "invert")

        def opencv(f: _Frame) -> list[Detection]:
            # Median first: on sensor noise OpenCV's detector can spend seconds on
            # spurious finder-pattern candidates (measured: 15 s on one noisy 720p frame).
            names = [n for n in others if n == OPENCV]
            return self._read_all(names, f.variant("denoise", _denoise), None, "denoise")

        def regions(f: _Frame) -> list[Detection]:
            return self._regions(primary, f)

        def wechat(f: _Frame) -> list[Detection]:
            return self._read_all([WECHAT], f.image, None, "wechat")

        return [
            other_decoders,
            enhanced("clahe", _clahe),
            global_binarizer,
            enhanced("sharpen", _sharpen),
            upscale,
            enhanced("threshold", _threshold),
            enhanced("denoise", _denoise),
            invert,
            opencv,
            regions,
            wechat,
        ]

    def _regions(self, primary: str, f: _Frame) -> list[Detection]:
        """Rectified, enlarged crops around codes that were seen but not read."""
        candidates: list[Corners] = []
        zx = self.backend(ZXING)
        if isinstance(zx, ZxingBackend):
            for key in ("", "clahe", "sharpen"):
                source = f.gray if not key else f.cache.get(key, f.gray)
                candidates += zx.failed_regions(source)
        cv = self.backend(OPENCV)
        if isinstance(cv, OpenCVBackend):
            candidates += cv.regions(f.variant("denoise", _denoise))
        found: list[Detection] = []
        for corners in _distinct_regions(candidates)[:6]:
            crop, back = _rectify(f.gray, corners)
            for key, make in (
                ("crop", None),
                ("crop+clahe", _clahe),
                ("crop+sharpen", _sharpen),
                ("crop+threshold", _threshold),
            ):
                variant = crop if make is None else make(crop)
                hits = self._read_all([primary, ZBAR], variant, back, key)
                if hits:
                    found += hits
                    break
        return found

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
        return found

    @staticmethod
    def _wrap(
        name: str, reads: list[RawRead], back: Homography | None, stage: str
    ) -> list[Detection]:
        return [
            Detection(payload_from_bytes(raw), _map_corners(corners, back), name, stage)
            for raw, corners in reads
        ]


def _side(corners: Corners) -> float:
    xs = [p[0] for p in corners]
    ys = [p[1] for p in corners]
    return max(max(xs) - min(xs), max(ys) - min(ys), 1.0)


def _distinct_regions(regions: list[Corners]) -> list[Corners]:
    kept: list[Corners] = []
    for corners in regions:
        cx = sum(p[0] for p in corners) / 4
        cy = sum(p[1] for p in corners) / 4
        if _side(corners) < 12:
            continue
        if all(
            abs(cx - sum(p[0] for p in k) / 4) + abs(cy - sum(p[1] for p in k) / 4) > _side(k) / 2
            for k in kept
        ):
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


def decode(image: object) -> list[Detection]:
    """Every QR code in a numpy image, via the default pipeline."""
    return default_pipeline().decode(image)
