"""Label printing benchmark: our pipeline against a naive one on the Gunung Mas labels.

Not a pytest module (no test_ prefix). Run from the repository root:

    .venv/bin/python tests/bench_labels.py [--naive-sample 300] [--repeat 2] [--jobs 1]
    .venv/bin/python tests/bench_labels.py --all-layouts   # also decode every layout and form

Synthesises every label of the Gunung Mas demo from the reported DPT (89,540 voters,
219 TPS) with the Pilkada 2024 rules, no database: per TPS 2 ballot boxes, for each of
the two races the ballots (DPT + 2.5 %, rounded up per TPS) in bundles of 20, 4 booths,
2 ink bottles and the kit itself. Then it times, on one core and the same data:

* ours:  sign + encode (TP1 text) + vector QR + A4 sticker sheet PDF (``labels``);
* naive: the same signed texts through qrcode -> PNG -> reportlab ``drawImage`` with the
  same words on the sticker, on a sample (``--naive-sample``) extrapolated to all labels.

Rates use this process's CPU time (``time.process_time``), so other jobs on a shared
machine do not count against either pipeline; wall time is shown beside it. It prints a
Markdown table and checks the targets: at least 2,000 labels/s and 10x the naive rate.

Speed means nothing if a symbol is wrong, so it then reads back every symbol it drew:
each page rendered with pypdfium2 at 200 and 300 dpi, each label's QR square cut out
and decoded with zxing-cpp and with zbar (pyzbar); every reader must return exactly the
text that was printed. ``--all-layouts`` does the same for every layout in
``labels.LAYOUTS``, in the TP1 and the https form. Any wrong or unread symbol makes the
exit status non-zero.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import numpy.typing as npt  # noqa: E402
import pypdfium2 as pdfium  # noqa: E402
import qrcode  # noqa: E402
import zxingcpp  # noqa: E402
from pyzbar import pyzbar  # noqa: E402
from qrcode.constants import ERROR_CORRECT_Q  # noqa: E402
from reportlab.lib.colors import HexColor, black, white  # noqa: E402
from reportlab.lib.units import mm  # noqa: E402
from reportlab.lib.utils import ImageReader  # noqa: E402
from reportlab.pdfgen.canvas import Canvas  # noqa: E402

import labels  # noqa: E402

DPT = 89_540
TPS_COUNT = 219
DESA_COUNT = 127
KECAMATAN = (
    "Kurun", "Tewah", "Kahayan Hulu Utara", "Rungan", "Manuhing", "Sepang",
    "Mihing Raya", "Damang Batu", "Miri Manasa", "Rungan Hulu", "Rungan Barat",
    "Manuhing Raya",
)  # fmt: skip
RACES = ("GUB", "BUP")
BUNDLE = 20
MIN_RATE = 2_000
MIN_SPEEDUP = 10
DPIS = (200, 300)
READERS = tuple(f"{reader}@{dpi}" for reader in ("zxing", "zbar") for dpi in DPIS)
CROP_MARGIN = 3 * mm  # white paper around the QR square that goes into the decoder
BASE_URL = "https://tepat.example.id"


@dataclass(frozen=True, slots=True)
class Planned:
    """One label to print, before it is signed."""

    payload: labels.LabelPayload
    desa: str
    kecamatan: str


def gunung_mas_plan() -> list[Planned]:
    """Every label of the demo, from DPT and the per-TPS rules (split is synthetic)."""
    base, extra = divmod(DPT, TPS_COUNT)
    planned: list[Planned] = []
    for index in range(TPS_COUNT):
        voters = base + (1 if index < extra else 0)
        desa_index = index % DESA_COUNT
        kecamatan = desa_index % len(KECAMATAN)
        tps_number = index // DESA_COUNT + 1
        tps_id = f"6210{kecamatan + 1:02d}2{desa_index + 1:03d}{tps_number:03d}"
        where = {"desa": f"Desa {desa_index + 1:03d}", "kecamatan": KECAMATAN[kecamatan]}
        ballots = math.ceil(voters * 1.025)  # DPT + 2.5 %, rounded up per TPS
        items: list[tuple[str, str | None, int]] = [("KOTAK", race, 1) for race in RACES]
        for race in RACES:
            items += [
                ("SURAT", race, min(BUNDLE, ballots - start)) for start in range(0, ballots, BUNDLE)
            ]
        items += [("BILIK", None, 1)] * 4 + [("TINTA", None, 1)] * 2 + [("KIT", None, 1)]
        for item_type, race, quantity in items:
            payload = labels.LabelPayload(labels.new_serial(), item_type, tps_id, race, quantity)
            planned.append(Planned(payload, **where))
    return planned


def sheet_items(
    planned: list[Planned], signer: labels.Signer, link: bool = False
) -> Iterator[labels.LabelSheetItem]:
    """Sign and encode each label (TP1 text or its https form) and fill in its words."""
    for label in planned:
        signed = labels.sign(label.payload, signer)
        yield labels.LabelSheetItem.from_payload(
            signed.payload,
            signed.to_url(BASE_URL) if link else signed.to_text(),
            desa=label.desa,
            kecamatan=label.kecamatan,
            kabupaten="Gunung Mas",
            provinsi="Kalimantan Tengah",
        )


@dataclass(frozen=True, slots=True, order=True)
class Run:
    """CPU seconds (this process only), wall seconds and PDF size of one run."""

    cpu: float
    wall: float
    size: int
    pdf: bytes = field(default=b"", compare=False, repr=False)


def timed(write: Callable[[io.BytesIO], object]) -> Run:
    """Run a writer into memory and time it."""
    out = io.BytesIO()
    cpu, wall = time.process_time(), time.perf_counter()
    write(out)
    pdf = out.getvalue()
    return Run(time.process_time() - cpu, time.perf_counter() - wall, len(pdf), pdf)


def ours(planned: list[Planned], signer: labels.Signer, level: int) -> Run:
    """The whole run through ``labels``: sign, encode, vector QR, A4 sticker sheet."""
    return timed(
        lambda out: labels.write_labels(
            sheet_items(planned, signer), labels.A4_STICKER, out, compress_level=level
        )
    )


def naive(planned: list[Planned], signer: labels.Signer) -> Run:
    """The first thing one would write: a PNG per QR code, placed with drawImage."""
    return timed(lambda out: naive_sheet(planned, signer, out))


def naive_sheet(planned: list[Planned], signer: labels.Signer, out: io.BytesIO) -> None:
    """Sticker sheet with qrcode -> PNG -> drawImage and plain drawString calls."""
    layout = labels.A4_STICKER
    canvas = Canvas(out, pagesize=(layout.page_width, layout.page_height))
    for index, item in enumerate(sheet_items(planned, signer)):
        if index and index % layout.per_page == 0:
            canvas.showPage()
        x, y = layout.cell_origin(index)
        top = y + layout.cell_height
        pad, side = layout.padding, layout.qr_side
        if item.race_colour:
            canvas.setFillColor(HexColor(item.race_colour))
            canvas.rect(x, top - layout.band_height, layout.cell_width, layout.band_height, 0, 1)
            canvas.setFillColor(white if item.race_colour == "#800000" else black)
            canvas.setFont(layout.band_font.name, layout.band_font.size)
            canvas.drawString(x + pad, top - 14, f"PEMILIHAN {item.race_name or ''}".upper())
            canvas.setFillColor(black)
        image = qrcode.make(item.qr_text, error_correction=ERROR_CORRECT_Q, border=4)
        png = io.BytesIO()
        image.save(png)
        png.seek(0)
        qr_y = top - layout.band_height - pad - side
        canvas.drawImage(ImageReader(png), x + pad, qr_y, side, side)
        canvas.setFont(layout.serial_font.name, layout.serial_font.size)
        canvas.drawCentredString(x + pad + side / 2, qr_y - 9, item.serial)
        cursor = top - layout.band_height - pad
        for text, font in (
            (item.item_type_name, layout.heading_font),
            (f"TPS {item.tps_number}", layout.tps_font),
            (f"Isi: {item.quantity_text}", layout.body_font),
            (f"PPS: {item.desa}", layout.body_font),
            (f"PPK: {item.kecamatan}", layout.body_font),
            (f"Kab/Kota: {item.kabupaten}", layout.body_font),
            (f"Provinsi: {item.provinsi}", layout.body_font),
            (f"Tujuan: {item.destination_code}", layout.body_font),
        ):
            canvas.setFont(font.name, font.size)
            canvas.drawString(x + 2 * pad + side, cursor - font.size, text)
            cursor -= font.leading
    canvas.showPage()
    canvas.save()


@dataclass(frozen=True, slots=True)
class Readback:
    """What the readers made of one PDF: symbols read right per reader, and the misses."""

    labels: int
    right: dict[str, int]
    wrong: list[str]


def qr_crop(
    image: npt.NDArray[np.uint8], layout: labels.LabelLayout, slot: int, scale: float
) -> npt.NDArray[np.uint8]:
    """The QR square of the label in ``slot``, with a margin of paper, from a page image."""
    x, y = layout.cell_origin(slot)
    offset_x, offset_y = layout.qr_offset
    left, bottom = x + offset_x - CROP_MARGIN, y + offset_y - CROP_MARGIN
    side = layout.qr_side + 2 * CROP_MARGIN
    height = image.shape[0]
    rows = slice(max(0, round(height - (bottom + side) * scale)), round(height - bottom * scale))
    return image[rows, max(0, round(left * scale)) : round((left + side) * scale)]


def read_symbol(crop: npt.NDArray[np.uint8], dpi: int) -> dict[str, list[str]]:
    """Texts each reader finds in a crop."""
    return {
        f"zxing@{dpi}": [
            code.text
            for code in zxingcpp.read_barcodes(crop, formats=zxingcpp.BarcodeFormat.QRCode)
        ],
        f"zbar@{dpi}": [
            symbol.data.decode("ascii", "replace")
            for symbol in pyzbar.decode(crop, symbols=[pyzbar.ZBarSymbol.QRCODE])
        ],
    }


def read_pages(pdf: bytes, layout_name: str, texts: Sequence[str], first_page: int) -> Readback:
    """Decode every label's QR on the pages that hold ``texts`` (first page index given)."""
    layout = labels.LAYOUTS[layout_name]
    right = dict.fromkeys(READERS, 0)
    wrong: list[str] = []
    document = pdfium.PdfDocument(pdf)
    try:
        for start in range(0, len(texts), layout.per_page):
            page_number = first_page + start // layout.per_page
            page = document[page_number]
            for dpi in DPIS:
                image = page.render(scale=dpi / 72, grayscale=True).to_numpy()
                image = image.reshape(image.shape[0], image.shape[1])
                for slot, text in enumerate(texts[start : start + layout.per_page]):
                    for reader, read in read_symbol(
                        qr_crop(image, layout, slot, dpi / 72), dpi
                    ).items():
                        if read == [text]:
                            right[reader] += 1
                        else:
                            wrong.append(f"page {page_number + 1} slot {slot} {reader}: {read!r}")
    finally:
        document.close()
    return Readback(len(texts), right, wrong)


def read_back(pdf: bytes, layout: labels.LabelLayout, texts: list[str], jobs: int) -> Readback:
    """Decode every symbol of a label PDF, split by pages over ``jobs`` processes."""
    pages = -(-len(texts) // layout.per_page)
    chunk_pages = -(-pages // (jobs * 4)) if jobs > 1 else pages
    chunk = chunk_pages * layout.per_page
    starts = range(0, len(texts), chunk)
    parts = [
        (pdf, layout.name, texts[start : start + chunk], start // layout.per_page)
        for start in starts
    ]
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            results = list(pool.map(read_pages, *zip(*parts, strict=True)))
    else:
        results = [read_pages(*part) for part in parts]
    right = {reader: sum(r.right[reader] for r in results) for reader in READERS}
    return Readback(len(texts), right, [line for r in results for line in r.wrong])


def readback_rows(
    planned: list[Planned], signer: labels.Signer, default_pdf: bytes, every_layout: bool, jobs: int
) -> list[tuple[str, str, Readback]]:
    """Read back the timed run's PDF, and with ``every_layout`` every layout in both forms."""
    texts = [item.qr_text for item in sheet_items(planned, signer)]
    rows = [
        ("a4-sticker (timed run)", "TP1", read_back(default_pdf, labels.A4_STICKER, texts, jobs))
    ]
    if every_layout:
        for link in (False, True):
            items = list(sheet_items(planned, signer, link))
            for layout in labels.LAYOUTS.values():
                if layout is labels.A4_STICKER and not link:
                    continue  # the timed run's PDF, read above
                out = io.BytesIO()
                labels.write_labels(items, layout, out)
                readback = read_back(out.getvalue(), layout, [i.qr_text for i in items], jobs)
                rows.append((layout.name, "https" if link else "TP1", readback))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    parser.add_argument(
        "--all-layouts",
        action="store_true",
        help="also decode every demo label in every layout, TP1 and https form",
    )
    parser.add_argument("--jobs", type=int, default=1, help="processes for the read-back")
    parser.add_argument("--limit", type=int, help="only the first N labels (a quick check)")
    args = parser.parse_args()

    key = labels.SigningKey.generate("gm-2024a")
    keyring = labels.Keyring()
    keyring.add(key.key_id, key)
    signer = keyring.signer(key)
    planned = gunung_mas_plan()[: args.limit]
    total = len(planned)
    counts: dict[str, int] = {}
    for label in planned:
        counts[label.payload.item_type] = counts.get(label.payload.item_type, 0) + 1
    ours(planned[:200], signer, 1)  # warm up imports and per-version QR tables

    rows: list[tuple[str, float, float, float, float, str]] = []
    rates: dict[str, float] = {}
    default_pdf = b""
    for level, name in ((1, "ours (zlib 1, default)"), (4, "ours (zlib 4)"), (6, "ours (zlib 6)")):
        run = min(ours(planned, signer, level) for _ in range(args.repeat))
        rates[name] = total / run.cpu
        default_pdf = default_pdf or run.pdf
        rows.append((name, run.cpu, total / run.cpu, run.wall, run.size / total, "all labels"))
    sample = planned[: args.naive_sample]
    run = min(naive(sample, signer) for _ in range(args.repeat))
    naive_rate = len(sample) / run.cpu
    scale = total / len(sample)
    rows.append(
        (
            "naive (qrcode -> PNG -> drawImage)",
            run.cpu * scale,
            naive_rate,
            run.wall * scale,
            run.size / len(sample),
            f"{len(sample)} labels, extrapolated",
        )
    )

    print(f"Gunung Mas labels: {total:,} ({', '.join(f'{k} {v:,}' for k, v in counts.items())})")
    print(
        f"{date.today().isoformat()}, Python {platform.python_version()}, {platform.machine()}, "
        f"{os.cpu_count()} cores, one process, best of {args.repeat}; "
        f"load average {os.getloadavg()[0]:.1f} at the end"
    )
    print()
    print("| pipeline | CPU s | labels/s (CPU) | wall s | PDF bytes/label | measured on |")
    print("|---|---:|---:|---:|---:|---|")
    for name, cpu, rate, wall, per_label, note in rows:
        print(f"| {name} | {cpu:.2f} | {rate:,.0f} | {wall:.2f} | {per_label:,.0f} | {note} |")
    default = rates["ours (zlib 1, default)"]
    speedup = default / naive_rate
    print()
    print(f"speedup of ours (default) over naive: {speedup:.1f}x")
    ok = default >= MIN_RATE and speedup >= MIN_SPEEDUP
    print(
        f"targets: >= {MIN_RATE:,} labels/s and >= {MIN_SPEEDUP}x naive: "
        + ("met" if ok else "NOT met")
    )

    started = time.perf_counter()
    readbacks = readback_rows(planned, signer, default_pdf, args.all_layouts, args.jobs)
    print()
    print("| layout | QR text | labels | " + " | ".join(READERS) + " | wrong or unread |")
    print("|---|---|---:|" + "---:|" * len(READERS) + "---:|")
    wrong = 0
    for layout_name, form, readback in readbacks:
        counts = " | ".join(f"{readback.right[reader]:,}" for reader in READERS)
        print(
            f"| {layout_name} | {form} | {readback.labels:,} | {counts} | {len(readback.wrong)} |"
        )
        wrong += len(readback.wrong)
        for line in readback.wrong[:20]:
            print(f"  WRONG {layout_name} {form}: {line}", file=sys.stderr)
    print()
    print(
        f"read back in {time.perf_counter() - started:.0f} s wall: "
        + ("every symbol read right by every reader" if not wrong else f"{wrong} WRONG readings")
    )
    return 0 if ok and not wrong else 1


if __name__ == "__main__":
    sys.exit(main())
