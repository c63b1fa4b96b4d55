"""Read QR codes from a photo a courier uploads when the browser cannot scan by itself."""

from __future__ import annotations

import io

import cv2
import numpy as np
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from app.errors import BadRequest

#: A phone photo is 12-50 megapixels; more is not a photo but a memory bomb.
MAX_PIXELS = 60_000_000
#: Decoding runs on a copy no larger than this on its long side (labels stay readable).
DECODE_SIDE = 2400


def qr_texts(data: bytes) -> list[str]:
    """Every QR text in an image file (JPEG, PNG, WebP); BadRequest if it is not an image."""
    import scanner  # on first use: the decoders load their libraries at import

    not_an_image = _("Berkas bukan gambar yang dapat dibaca; kirim foto JPEG atau PNG.")
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
    except (UnidentifiedImageError, OSError, ValueError):
        raise BadRequest(not_an_image) from None
    if width * height > MAX_PIXELS:
        raise BadRequest(
            _(
                "Gambar terlalu besar (%(mp)s megapiksel); ambil foto dengan resolusi lebih kecil.",
                mp=round(width * height / 1e6),
            )
        )
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise BadRequest(not_an_image)
    side = max(image.shape[:2])
    if side > DECODE_SIDE:
        factor = DECODE_SIDE / side
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    texts: list[str] = []
    try:
        detections = scanner.decode(image)
    except scanner.InvalidImage:
        raise BadRequest(not_an_image) from None
    for detection in detections:
        text = detection.text
        if text and text not in texts:
            texts.append(text)
    return texts
