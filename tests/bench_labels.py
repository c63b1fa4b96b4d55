"""Label printing benchmark: our pipeline against a naive one on the Gunung Mas labels.

Not a pytest module (no test_ prefix). Run from the repository root:

    .venv/bin/python tests/bench_labels.py [--naive-sample 300] [--repeat 2]

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
"""

from __future__ import annotations

import argparse
import io
import math
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode  # noqa: E402
from qrcode.constants import ERROR_CORRECT_Q  # noqa: E402
from reportlab.lib.colors import HexColor, black, white  # noqa: E402
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


def sheet_items(planned: list[Planned], signer: labels.Signer) -> Iterator[labels.LabelSheetItem]:
    """Sign and encode each label and fill in the words printed on it."""
    for label in planned:
        signed = labels.sign(label.payload, signer)
        yield labels.LabelSheetItem.from_payload(
            signed.payload,
            signed.to_text(),
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


def timed(write: Callable[[io.BytesIO], object]) -> Run:
    """Run a writer into memory and time it."""
    out = io.BytesIO()
    cpu, wall = time.process_time(), time.perf_counter()
    write(out)
    return Run(time.process_time() - cpu, time.perf_counter() - wall, len(out.getvalue()))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--naive-sample", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=2, help="best of this many runs")
    args = parser.parse_args()

    key = labels.SigningKey.generate("gm-2024a")
    keyring = labels.Keyring()
    keyring.add(key.key_id, key)
    signer = keyring.signer(key)
    planned = gunung_mas_plan()
    total = len(planned)
    counts: dict[str, int] = {}
    for label in planned:
        counts[label.payload.item_type] = counts.get(label.payload.item_type, 0) + 1
    ours(planned[:200], signer, 1)  # warm up imports and per-version QR tables

    rows: list[tuple[str, float, float, float, float, str]] = []
    rates: dict[str, float] = {}
    for level, name in ((1, "ours (zlib 1, default)"), (4, "ours (zlib 4)"), (6, "ours (zlib 6)")):
        run = min(ours(planned, signer, level) for _ in range(args.repeat))
        rates[name] = total / run.cpu
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
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
