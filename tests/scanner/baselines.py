"""Single decoders called the plain way, as a baseline for the scanner pipeline.

Each returns the set of texts it read. They call the libraries directly (QR only,
otherwise default settings) rather than through ``scanner``, so the comparison is
against what a caller would get without our pipeline.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import zxingcpp
from numpy.typing import NDArray

Image = NDArray[np.uint8]
Reader = Callable[[Image], set[str]]


def read_zxing(image: Image) -> set[str]:
    """zxing-cpp with default options, QR codes only."""
    return {r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)}


def read_zbar(image: Image) -> set[str]:
    """pyzbar on the grayscale frame (pyzbar would otherwise take only the blue channel)."""
    from pyzbar import pyzbar

    gray = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = pyzbar.decode(gray, symbols=[pyzbar.ZBarSymbol.QRCODE])
    return {d.data.decode("utf-8", "replace") for d in found}


_detector = cv2.QRCodeDetector()


def read_opencv(image: Image) -> set[str]:
    """OpenCV's QRCodeDetector.detectAndDecodeMulti."""
    try:
        ok, infos, _, _ = _detector.detectAndDecodeMulti(image)
    except cv2.error:
        return set()
    return {i for i in infos if i} if ok else set()


BASELINES: dict[str, Reader] = {
    "pyzbar": read_zbar,
    "zxing-cpp": read_zxing,
    "opencv": read_opencv,
}
