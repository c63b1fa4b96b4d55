"""Real-photo benchmark: the pipeline and each single decoder on a folder of labelled photos.

Layout: ``DIR/<category>/<name>.jpg`` (or .jpeg/.png); photos directly in DIR form one
category. Per photo, either or both sidecars:

- ``<name>.texts``: the expected QR texts, one per line;
- ``<name>.txt``: corner quads, one code per line as 8 numbers "x0 y0 x1 y1 x2 y2 x3 y3"
  (the public BoofCV QR detection set's format; other lines, "#" comments, are skipped).

With texts, a code is read when its text comes back; a text that is not expected is a
wrong text when it lies on an expected code's quad (or no quads are known), else a false
positive. With quads only, a code is read when a decoded position falls inside its quad,
and a read outside every quad is a false positive.
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

from scanner import Pipeline
from scanner.backends import WECHAT
from scanner.decode import ALL_DECODERS
from tests.scanner.baselines import LOCATED, Located

OURS = "pipeline"
WITH_WECHAT = "pipeline + WeChat"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class LabelledPhoto:
    """One photo and what a person sees on it."""

    category: str
    path: Path
    texts: list[str] | None
    quads: list[NDArray[np.float32]]

    @property
    def codes(self) -> int:
        """How many codes the photo holds."""
        return len(self.texts) if self.texts is not None else len(self.quads)


@dataclass
class Score:
    """Counts for one decoder over a set of photos."""

    read: int = 0
    wrong: int = 0
    false_positive: int = 0
    ms: list[float] = field(default_factory=list)


def parse_quads(text: str) -> list[NDArray[np.float32]]:
    """Quads from a BoofCV-style ground-truth file (lines of 8 numbers)."""
    quads = []
    for line in text.splitlines():
        parts = line.replace(",", " ").split()
        if len(parts) != 8 or line.lstrip().startswith("#"):
            continue
        try:
            values = [float(v) for v in parts]
        except ValueError:
            continue
        quads.append(np.array(values, np.float32).reshape(4, 2))
    return quads


def load(root: Path) -> list[LabelledPhoto]:
    """Every labelled photo under ``root``, sorted by category and name."""
    photos = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        texts_file = path.with_suffix(".texts")
        quads_file = path.with_suffix(".txt")
        texts = texts_file.read_text().splitlines() if texts_file.exists() else None
        quads = parse_quads(quads_file.read_text()) if quads_file.exists() else []
        if texts is None and not quads_file.exists():
            continue  # unlabelled
        category = path.parent.name if path.parent != root else root.name
        photos.append(LabelledPhoto(category, path, [t for t in texts or [] if t] or texts, quads))
    return photos


def _inside(quad: NDArray[np.float32], point: tuple[float, float]) -> bool:
    hull = cv2.convexHull(quad.reshape(-1, 1, 2))
    return cv2.pointPolygonTest(hull, (float(point[0]), float(point[1])), False) >= 0


def score(photo: LabelledPhoto, found: Located) -> tuple[int, int, int]:
    """(read, wrong texts, false positives) of one decoder's answer on one photo."""
    if photo.texts is not None:
        expected = set(photo.texts)
        read = len({t for t, _ in found} & expected)
        wrong = false_positive = 0
        for text in {t: c for t, c in found if t not in expected}.items():
            on_code = not photo.quads or any(_inside(q, text[1]) for q in photo.quads)
            wrong += on_code
            false_positive += not on_code
        return read, wrong, false_positive
    hit = [any(_inside(q, c) for _, c in found) for q in photo.quads]
    stray = {t for t, c in found if not any(_inside(q, c) for q in photo.quads)}
    return sum(hit), 0, len(stray)


def _pipeline_reader(pipeline: Pipeline, budget_ms: float | None) -> Callable[..., Located]:
    def read(image: NDArray[np.uint8]) -> Located:
        result = pipeline.decode(image) if budget_ms is None else pipeline.decode(image, budget_ms)
        return [(d.text or d.raw.decode("latin-1"), d.centre) for d in result]

    return read


def _ms(samples: list[float]) -> str:
    if not samples:
        return "-"
    p95 = float(np.percentile(samples, 95))
    return f"{statistics.median(samples):.0f} / {p95:.0f} / {max(samples):.0f}"


def run(root: Path, repeat: int = 1, budget_ms: float | None = None) -> int:
    """Benchmark every decoder on the photos under ``root``; print tables; 1 if a rule fails."""
    photos = load(root)
    if not photos:
        print(f"no labelled photos under {root}")
        return 1
    pipeline = Pipeline()
    readers = {**LOCATED, OURS: _pipeline_reader(pipeline, budget_ms)}
    wechat = Pipeline((*ALL_DECODERS, WECHAT))
    if WECHAT in wechat.available:  # what the contrib build would buy, in the same run
        readers[WITH_WECHAT] = _pipeline_reader(wechat, budget_ms)
    scores: dict[str, dict[str, Score]] = defaultdict(lambda: defaultdict(Score))
    present: dict[str, int] = defaultdict(int)
    warm = cv2.imread(str(photos[0].path), cv2.IMREAD_COLOR)
    for read in readers.values():
        read(warm)
    for photo in photos:
        image = cv2.imread(str(photo.path), cv2.IMREAD_COLOR)
        present[photo.category] += photo.codes
        for name, read in readers.items():
            best = float("inf")
            for _ in range(max(1, repeat)):
                started = time.perf_counter()
                found = read(image)
                best = min(best, time.perf_counter() - started)
            got = score(photo, found)
            entry = scores[photo.category][name]
            entry.read += got[0]
            entry.wrong += got[1]
            entry.false_positive += got[2]
            entry.ms.append(best * 1000)

    names = list(readers)
    categories = list(present)
    print(
        f"{len(photos)} photos, {sum(present.values())} codes, {len(categories)} categories "
        f"from {root}; OpenCV {cv2.__version__}; pipeline decoders: "
        f"{', '.join(pipeline.available)}; budget "
        f"{'default' if budget_ms is None else f'{budget_ms:.0f} ms'}; single thread"
    )
    print()
    print("Codes read per category (wrong texts / false positives in brackets when any):")
    print()
    print("| category | codes | " + " | ".join(names) + " |")
    print("|---" * (2 + len(names)) + "|")
    failures = []
    for category in categories:
        cells = []
        for name in names:
            s = scores[category][name]
            extra = f" ({s.wrong}/{s.false_positive})" if s.wrong or s.false_positive else ""
            cells.append(f"{s.read}{extra}")
        print(f"| {category} | {present[category]} | " + " | ".join(cells) + " |")
        best = max(scores[category][n].read for n in LOCATED)
        if scores[category][OURS].read < best:
            failures.append(f"{category}: pipeline read {scores[category][OURS].read} < {best}")
    print()
    print(
        "| decoder | read | rate % | mean of category rates % | wrong | false pos. "
        "| ms median / p95 / max |"
    )
    print("|---|---|---|---|---|---|---|")
    total = sum(present.values())
    for name in names:
        per = [scores[c][name] for c in categories]
        read = sum(s.read for s in per)
        mean = statistics.mean(
            s.read / present[c] for s, c in zip(per, categories, strict=True) if present[c]
        )
        ms = [m for s in per for m in s.ms]
        wrong = sum(s.wrong for s in per)
        false_positive = sum(s.false_positive for s in per)
        print(
            f"| {name} | {read}/{total} | {100 * read / total:.1f} | {100 * mean:.1f} | "
            f"{wrong} | {false_positive} | {_ms(ms)} |"
        )
        if name == OURS and (wrong or false_positive):
            failures.append(f"pipeline: {wrong} wrong texts, {false_positive} false positives")
    print()
    print("Time per photo, ms median / p95 / max:")
    print()
    print("| category | " + " | ".join(names) + " |")
    print("|---" * (1 + len(names)) + "|")
    for category in categories:
        print(f"| {category} | " + " | ".join(_ms(scores[category][n].ms) for n in names) + " |")
    print()
    for failure in failures:
        print("FAIL", failure)
    print(
        "OK: the pipeline reads at least the best single decoder everywhere, nothing wrong"
        if not failures
        else ""
    )
    return 1 if failures else 0
