"""Where frames come from: camera, video file, image files or folders, or typed lines.

All behind one small Protocol. A USB barcode gun types the code like a keyboard and
presses Enter, so a line source yields text directly instead of an image.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO, cast

import cv2
import numpy as np
from numpy.typing import NDArray

from scanner.errors import SourceError

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"})


@dataclass(frozen=True, slots=True)
class Frame:
    """One unit of input: an image to decode, or a text already read by a scanner gun."""

    origin: str
    image: NDArray[np.uint8] | None = None
    text: str | None = None


class FrameSource(Protocol):
    """Anything that yields frames until it runs out (or forever, for a camera)."""

    def frames(self) -> Iterator[Frame]:
        """Yield frames in order."""
        ...

    def close(self) -> None:
        """Release the device or file."""
        ...


class _CaptureSource:
    """cv2.VideoCapture behind the Protocol (camera index or video path)."""

    def __init__(self, target: int | str, label: str, max_failures: int) -> None:
        self._label = label
        self._max_failures = max_failures
        self._capture = cv2.VideoCapture(target)
        if not self._capture.isOpened():
            self._capture.release()
            raise SourceError(f"tidak dapat membuka {label}", label)

    def frames(self) -> Iterator[Frame]:
        failures = 0
        index = 0
        while True:
            ok, image = self._capture.read()
            if not ok or image is None:
                failures += 1
                if failures >= self._max_failures:
                    return
                continue
            failures = 0
            index += 1
            yield Frame(f"{self._label}#{index}", image=cast(NDArray[np.uint8], image))

    def close(self) -> None:
        self._capture.release()


class CameraSource(_CaptureSource):
    """A camera by OpenCV device index; stops after 30 failed reads in a row."""

    def __init__(self, index: int = 0) -> None:
        super().__init__(index, f"camera:{index}", max_failures=30)


class VideoSource(_CaptureSource):
    """A video file, frame by frame, to its end."""

    def __init__(self, path: str | Path) -> None:
        if not Path(path).is_file():
            raise SourceError(f"berkas video tidak ada: {path}", str(path))
        super().__init__(str(path), f"video:{path}", max_failures=1)


class ImageSource:
    """Image files, given one by one or as folders (sorted by name, not recursive)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self._files: list[Path] = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                self._files += sorted(
                    p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
                )
            elif path.is_file():
                self._files.append(path)
            else:
                raise SourceError(f"berkas atau folder gambar tidak ada: {path}", str(path))

    def frames(self) -> Iterator[Frame]:
        for path in self._files:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                logger.warning("gambar tidak terbaca, dilewati: %s", path)
                continue
            yield Frame(str(path), image=cast(NDArray[np.uint8], image))

    def close(self) -> None:
        pass


class LineSource:
    """Lines of text (stdin by default), as typed by a keyboard-wedge barcode gun."""

    def __init__(self, stream: TextIO | None = None, label: str = "stdin") -> None:
        self._stream = stream if stream is not None else sys.stdin
        self._label = label

    def frames(self) -> Iterator[Frame]:
        for number, line in enumerate(self._stream, start=1):
            text = line.rstrip("\r\n")
            if text.strip():
                yield Frame(f"{self._label}:{number}", text=text)

    def close(self) -> None:
        pass


def open_source(spec: str) -> FrameSource:
    """Open ``camera:N``, ``video:PATH``, ``images:PATH[,PATH...]`` or ``stdin``."""
    kind, _, argument = spec.partition(":")
    if kind == "camera":
        try:
            index = int(argument or "0")
        except ValueError:
            raise SourceError(f"indeks kamera harus angka: {spec!r}", spec) from None
        return CameraSource(index)
    if kind == "video" and argument:
        return VideoSource(argument)
    if kind == "images" and argument:
        return ImageSource(argument.split(","))
    if spec == "stdin":
        return LineSource()
    raise SourceError(
        f"sumber tidak dikenal {spec!r}: pakai camera:0, video:PATH, images:PATH atau stdin",
        spec,
    )
