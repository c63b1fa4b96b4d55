"""Would WeChat in a worker process with a hard timeout earn a place? A measurement.

Not a pytest module. Needs OpenCV's contrib build (``opencv-contrib-python-headless``) on
the path; exits 2 without it. Run from the repository root:

    PYTHONPATH=<contrib wheel dir> .venv/bin/python tests/bench_wechat_worker.py

For every frame the default pipeline leaves without a read (synthetic stress categories
perspective, blur, damage and wear, 20 frames each, and the committed damaged photos),
WeChat gets 200 px crops of the two patches densest with edges, as the opt-in pipeline
step does, but in a worker process that is killed when a call takes longer than the
timeout (and started again). It prints, per timeout, the codes read that the pipeline
missed, wrong texts, and the extra milliseconds per frame (median / max), against the
in-process call (no timeout) in the same run.
"""

from __future__ import annotations

import multiprocessing as mp
import statistics
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from scanner import Pipeline, enhance  # noqa: E402
from scanner.decode import WECHAT_SIDE  # noqa: E402
from tests.scanner import stress  # noqa: E402

PHOTOS = Path(__file__).resolve().parent / "scanner" / "photos" / "damaged"


def _serve(conn: Connection) -> None:
    cv2.setNumThreads(1)
    detector = cv2.wechat_qrcode_WeChatQRCode()
    while True:
        image = conn.recv()
        texts, _ = detector.detectAndDecode(image)
        conn.send([str(t) for t in texts if t])


class Worker:
    """One WeChat process; a call past ``timeout_s`` kills it and starts another."""

    def __init__(self) -> None:
        self._start()

    def _start(self) -> None:
        self.conn, child = mp.Pipe()
        self.process = mp.get_context("fork").Process(target=_serve, args=(child,), daemon=True)
        self.process.start()

    def read(self, image: np.ndarray, timeout_s: float | None) -> list[str]:
        self.conn.send(image)
        if self.conn.poll(timeout_s):
            texts: list[str] = self.conn.recv()
            return texts
        self.process.kill()
        self.process.join()
        self._start()
        return []


def _frames() -> list[tuple[str, np.ndarray, set[str]]]:
    frames = [
        (f.category, f.image, set(f.expected))
        for f in stress.stress_set(20, ["perspective", "blur", "damage", "wear"])
    ]
    for path in sorted(PHOTOS.glob("*.jpg")):
        texts = set(path.with_suffix(".texts").read_text().splitlines()) - {""}
        frames.append(("photo damaged", cv2.imread(str(path)), texts))
    return frames


def main() -> int:
    if not hasattr(cv2, "wechat_qrcode_WeChatQRCode"):
        print("no WeChat in this OpenCV build (plain opencv-python): nothing to measure")
        return 2
    cv2.setNumThreads(1)
    pipeline = Pipeline()
    missed = []
    for category, image, expected in _frames():
        if not {d.payload for d in pipeline.decode(image)} & expected:
            missed.append((category, image, expected))
    print(f"{len(missed)} frames the default pipeline reads nothing on")
    print()
    print("| WeChat call | codes read | wrong | extra ms per frame median / max |")
    print("|---|---|---|---|")
    detector = cv2.wechat_qrcode_WeChatQRCode()
    worker = Worker()
    failures = 0
    for label, timeout in (("in process", None), *((f"worker, {t} ms", t) for t in (30, 60))):
        read = wrong = 0
        extra: list[float] = []
        for _, image, expected in missed:
            gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            started = time.perf_counter()
            texts: list[str] = []
            for corners in enhance.busy_regions(gray, limit=2):
                crop, _ = enhance.crop(gray, corners, margin=0.15, side=WECHAT_SIDE)
                if timeout is None:
                    texts = [str(t) for t in detector.detectAndDecode(crop)[0] if t]
                else:
                    texts = worker.read(crop, timeout / 1000)
                if texts:
                    break
            extra.append((time.perf_counter() - started) * 1000)
            read += len(set(texts) & expected)
            wrong += len(set(texts) - expected)
        failures += wrong
        ms = f"{statistics.median(extra):.0f} / {max(extra):.0f}" if extra else "-"
        print(f"| {label} | {read}/{len(missed)} | {wrong} | {ms} |")
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
