"""Single decoders called the plain way, as a baseline for the scanner pipeline.

Each reader returns what it read as (text, centre) pairs. They call the libraries directly
(QR only, otherwise default settings unless the name says "tuned") rather than through
``scanner``, so the comparison is against what a caller would get without our pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Centre = tuple[float, float]
Located = list[tuple[str, Centre]]
LocatedReader = Callable[[Image], Located]
Reader = Callable[[Image], set[str]]


def _zx_centre(position: Any) -> Centre:
    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return (sum(c.x for c in corners) / 4, sum(c.y for c in corners) / 4)


def _quad_centre(quad: Any) -> Centre:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    return (float(points[:, 0].mean()), float(points[:, 1].mean()))


def locate_zxing(image: Image) -> Located:
    """zxing-cpp with default options, QR codes only."""
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    return [(r.text, _zx_centre(r.position)) for r in found]


def locate_zxing_tuned(image: Image) -> Located:
    """zxing-cpp tried with each binarizer in turn until one reads something."""
    for binarizer in (
        zxingcpp.Binarizer.LocalAverage,
        zxingcpp.Binarizer.GlobalHistogram,
        zxingcpp.Binarizer.FixedThreshold,
    ):
        found = zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.QRCode, binarizer=binarizer
        )
        if found:
            return [(r.text, _zx_centre(r.position)) for r in found]
    return []


def locate_zbar(image: Image) -> Located:
    """pyzbar on the grayscale frame (pyzbar would otherwise take only the blue channel)."""
    from pyzbar import pyzbar

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return [(d.data.decode("utf-8", "replace"), _quad_centre(d.polygon)) for d in found]


_detector = cv2.QRCodeDetector()


def locate_opencv(image: Image) -> Located:
    """OpenCV's QRCodeDetector.detectAndDecodeMulti."""
    try:
        ok, infos, points, _ = _detector.detectAndDecodeMulti(image)
    except cv2.error:
        return []
    if not ok or points is None:
        return []
    return [(i, _quad_centre(q)) for i, q in zip(infos, points, strict=False) if i]


_wechat: list[Any] = []


def locate_wechat(image: Image) -> Located:
    """OpenCV contrib's WeChat decoder without its CNN models (traditional detector)."""
    if not _wechat:
        _wechat.append(cv2.wechat_qrcode_WeChatQRCode())
    texts, points = _wechat[0].detectAndDecode(image)
    return [(str(t), _quad_centre(q)) for t, q in zip(texts, points, strict=False) if t]


def _texts(locate: LocatedReader) -> Reader:
    def read(image: Image) -> set[str]:
        return {text for text, _ in locate(image)}

    read.__doc__ = locate.__doc__
    return read


LOCATED: dict[str, LocatedReader] = {
    "pyzbar": locate_zbar,
    "zxing-cpp": locate_zxing,
    "zxing-tuned": locate_zxing_tuned,
    "opencv": locate_opencv,
}
if hasattr(cv2, "wechat_qrcode_WeChatQRCode"):
    LOCATED["wechat"] = locate_wechat

BASELINES: dict[str, Reader] = {name: _texts(locate) for name, locate in LOCATED.items()}
