"""The decoding libraries behind one call each: zxing-cpp, zbar, OpenCV and WeChat.

Every backend returns raw bytes and the code's four corners; the pipeline in
``scanner.decode`` decides which to call on which image.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, cast

import cv2
import numpy as np
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Point = tuple[float, float]
Corners = tuple[Point, Point, Point, Point]

ZXING = "zxing-cpp"
ZBAR = "pyzbar"
OPENCV = "opencv"
WECHAT = "wechat"


def to_gray(image: Image) -> Image:
    """Grayscale view of a gray or BGR image."""
    if image.ndim == 2:
        return image
    return cast(Image, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY))


RawRead = tuple[bytes, Corners]


class Backend(Protocol):
    """One decoding library behind a uniform call."""

    name: str

    def read(self, image: Image) -> list[RawRead]:
        """Decode every QR code in a grayscale or BGR image."""
        ...


def corners_of(points: Iterable[Sequence[float]]) -> Corners:
    pts = [(float(p[0]), float(p[1])) for p in points]
    if len(pts) != 4:
        box = cv2.boxPoints(cv2.minAreaRect(np.array(pts, dtype=np.float32)))
        pts = [(float(x), float(y)) for x, y in box]
    return (pts[0], pts[1], pts[2], pts[3])


class ZxingBackend:
    """zxing-cpp, restricted to QR codes; returns raw bytes, never transcoded text.

    Rotation and downscaling stay on (the library's defaults): measured, they cost
    nothing on QR codes and a downscaled pass finds big, blurred codes.
    """

    name = ZXING

    def __init__(self) -> None:
        import zxingcpp

        self._zx: Any = zxingcpp
        self._formats = zxingcpp.BarcodeFormat.QRCode
        self._binarizers = {
            "local": zxingcpp.Binarizer.LocalAverage,
            "global": zxingcpp.Binarizer.GlobalHistogram,
            "fixed": zxingcpp.Binarizer.FixedThreshold,
        }

    def read(self, image: Image) -> list[RawRead]:
        return self.scan(image)[0]

    def read_with(self, image: Image, binarizer: str) -> list[RawRead]:
        """Same, with another binarizer ("global" suits smooth gradients, "fixed" dim light)."""
        return self.scan(image, binarizer)[0]

    def scan(self, image: Image, binarizer: str = "local") -> tuple[list[RawRead], list[Corners]]:
        """The codes read, and where a code was seen but not read (bad checksum, no format)."""
        found = self._zx.read_barcodes(
            image, formats=self._formats, binarizer=self._binarizers[binarizer], return_errors=True
        )
        reads = [(bytes(r.bytes), self._position(r.position)) for r in found if r.valid]
        failed = [self._position(r.position) for r in found if not r.valid]
        return reads, failed

    @staticmethod
    def _position(position: Any) -> Corners:
        corners = (
            position.top_left,
            position.top_right,
            position.bottom_right,
            position.bottom_left,
        )
        return corners_of((p.x, p.y) for p in corners)


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
                    results.append((bytes(raw), corners_of(points)))
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
            (bytes(info), corners_of(quad))
            for info, quad in zip(infos, points, strict=False)
            if info
        ]

    def regions(self, image: Image) -> list[Corners]:
        """Quadrangles that look like QR codes, decoded or not."""
        try:
            ok, points = self._detector.detectMulti(image)
        except cv2.error:
            return []
        if not ok or points is None:
            return []
        return [corners_of(quad) for quad in points]


class WeChatBackend:
    """OpenCV contrib's WeChat detector, used only when the runtime build has it."""

    name = WECHAT

    def __init__(self) -> None:
        make = getattr(cv2, "wechat_qrcode_WeChatQRCode", None)
        if make is None:  # plain opencv-python: no contrib modules
            raise ImportError("cv2.wechat_qrcode_WeChatQRCode is not in this OpenCV build")
        self._detector: Any = make()

    def read(self, image: Image) -> list[RawRead]:
        texts, points = self._detector.detectAndDecode(image)
        return [
            (str(text).encode(), corners_of(quad))
            for text, quad in zip(texts, points, strict=False)
            if text
        ]


FACTORIES: dict[str, Callable[[], Backend]] = {
    ZXING: ZxingBackend,
    ZBAR: ZbarBackend,
    OPENCV: OpenCVBackend,
    WECHAT: WeChatBackend,
}
