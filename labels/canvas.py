"""Reproducible reportlab canvases and text fitting, shared by the PDF writers."""

from __future__ import annotations

import os
import zlib
from typing import BinaryIO

from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas

from labels.layouts import FontSpec

Output = str | os.PathLike[str] | BinaryIO
ELLIPSIS = "\u2026"


class _Flate:
    """Deflate stream filter at a chosen zlib level (reportlab's uses the default, 6)."""

    pdfname = "FlateDecode"

    def __init__(self, level: int) -> None:
        self.level = level

    def encode(self, text: str | bytes) -> bytes:
        """Compress a stream's content."""
        data = text.encode("utf-8") if isinstance(text, str) else text
        return zlib.compress(data, self.level)

    def decode(self, encoded: bytes) -> bytes:
        """Decompress a stream's content."""
        return zlib.decompress(encoded)


def open_canvas(out: Output, width: float, height: float, compress_level: int) -> Canvas:
    """A canvas writing to a path or binary file, reproducible and Flate-compressed."""
    target = os.fspath(out) if isinstance(out, str | os.PathLike) else out
    # invariant=1: no timestamps or random ids, so equal input gives equal bytes.
    canvas = Canvas(target, pagesize=(width, height), pageCompression=0, invariant=1)
    # With page compression off, page streams take the document's default filters.
    # Setting them on this document (not reportlab's global rl_config.useA85) gives
    # binary Flate streams without ASCII85, which adds a quarter to the size and most
    # of the write time, and leaves other canvases in the process as they were.
    canvas._doc.defaultStreamFilters = [_Flate(compress_level)]
    return canvas


def fit_text(text: str, font: FontSpec, width: float, min_size: float) -> tuple[str, float]:
    """Shrink the font, then cut with an ellipsis, until text fits in width."""
    natural = stringWidth(text, font.name, font.size)
    if natural <= width:
        return text, font.size
    # A hair under the exact ratio so rounding cannot push the text back over.
    size = max(min_size, font.size * width / natural * 0.995)
    if stringWidth(text, font.name, size) <= width:
        return text, size
    while text and stringWidth(text + ELLIPSIS, font.name, size) > width:
        text = text[:-1]
    return text.rstrip() + ELLIPSIS, size
