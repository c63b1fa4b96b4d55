"""Read QR codes from a photo a courier uploads when the browser cannot scan by itself.

Decoding runs in a small pool of worker threads, never on the request thread, and each
photo gets a time budget (``scanner.decode(image, budget_ms=...)``): one bad picture
cannot tie the server up. When every worker is busy and the waiting places are taken,
the courier hears so at once (503) instead of waiting in a queue without end.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, TypeVar

import cv2
import numpy as np
from flask import Flask, current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError

from app.errors import BadRequest, Busy

#: A phone photo is 12-50 megapixels; more is not a photo but a memory bomb.
MAX_PIXELS = 60_000_000
#: Decoding runs on a copy no larger than this on its long side: a label photographed
#: to be read keeps 4+ px per module, and the fallbacks stay inside the budget.
DECODE_SIDE = 1600
#: Time for the decoder's fallbacks per photo (the cheap pass always runs).
BUDGET_MS = 150.0
#: Photos decoded at once, and photos that may wait for a worker before we say "busy".
WORKERS = 2
WAITING = 2
#: How long a request waits for its photo's answer (queue + decoding).
WAIT_S = 10.0

T = TypeVar("T")
_lock = threading.Lock()


class PhotoDecoder:
    """A bounded pool of worker threads: at most ``workers`` running, ``waiting`` queued."""

    def __init__(self, workers: int = WORKERS, waiting: int = WAITING) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tepat-foto")
        self._slots = threading.BoundedSemaphore(workers + waiting)

    def submit(self, job: Callable[..., T], *args: Any) -> Future[T]:
        """Queue ``job(*args)``; raise Busy when every running and waiting place is taken."""
        if not self._slots.acquire(blocking=False):
            raise Busy(_("Server sedang membaca foto lain; kirim lagi sebentar lagi."))
        try:
            future = self._pool.submit(job, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _done: self._slots.release())
        return future


def decoder_for(app: Flask) -> PhotoDecoder:
    """The app's photo decoder, made on first use from TEPAT_PHOTO_WORKERS/_WAITING."""
    decoder = app.extensions.get("tepat_photo_decoder")
    if decoder is None:
        with _lock:
            decoder = app.extensions.get("tepat_photo_decoder")
            if decoder is None:
                decoder = PhotoDecoder(
                    int(app.config.get("TEPAT_PHOTO_WORKERS", WORKERS)),
                    int(app.config.get("TEPAT_PHOTO_WAITING", WAITING)),
                )
                app.extensions["tepat_photo_decoder"] = decoder
    assert isinstance(decoder, PhotoDecoder)
    return decoder


def _read_codes(data: bytes, budget_ms: float) -> list[str] | None:
    """Worker side: decode the file and read its codes; None when it is not an image."""
    import scanner  # on first use: the decoders load their libraries at import

    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return None
    side = max(image.shape[:2])
    if side > DECODE_SIDE:
        factor = DECODE_SIDE / side
        image = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)
    try:
        detections = scanner.decode(image, budget_ms=budget_ms)
    except scanner.InvalidImage:
        return None
    texts: list[str] = []
    for detection in detections:
        text = detection.text
        if text and text not in texts:
            texts.append(text)
    return texts


def qr_texts(data: bytes) -> list[str]:
    """Every QR text in an image file (JPEG, PNG, WebP); BadRequest if it is not an image,
    Busy when the server is decoding as many photos as it may."""
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
    config = current_app.config
    budget = float(config.get("TEPAT_PHOTO_BUDGET_MS", BUDGET_MS))
    future = decoder_for(current_app).submit(_read_codes, data, budget)
    try:
        texts = future.result(timeout=float(config.get("TEPAT_PHOTO_WAIT_S", WAIT_S)))
    except FutureTimeout:
        raise Busy(_("Server sedang membaca foto lain; kirim lagi sebentar lagi.")) from None
    if texts is None:
        raise BadRequest(not_an_image)
    return texts
