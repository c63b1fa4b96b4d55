"""The Gunung Mas (62.10) Pilkada 2024 demo region: a deterministic synthetic TPS split.

Real: kecamatan and desa names and codes, DPT per kecamatan (89,540), 219 TPS, the two
races, election day and dispatch days. Synthetic: how the 219 TPS and the DPT are split
over desa and TPS (the real 2024 split is not public).
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass
from datetime import date
from importlib import resources

from app.plan.needs import allocate_largest_remainder

KABKOTA = "62.10"
PROVINCE = "62"
ELECTION_CODE = "pilkada-2024"
ELECTION_NAME = "Pemilihan Serentak 2024 (Pilkada)"
ELECTION_DAY = date(2024, 11, 27)
TPS_TOTAL = 219
MAX_VOTERS = 600
RACES = (
    ("GUB", PROVINCE, "Pemilihan Gubernur dan Wakil Gubernur Kalimantan Tengah"),
    ("BUP", KABKOTA, "Pemilihan Bupati dan Wakil Bupati Gunung Mas"),
)
#: Fictional candidate pairs, by race: the demo must not name real people.
CANDIDATES = {
    "GUB": ("Paslon 01 Andau - Rinjani", "Paslon 02 Bungai - Lestari"),
    "BUP": ("Paslon 01 Tambun - Sari", "Paslon 02 Kahayan - Dewi", "Paslon 03 Rungan - Putri"),
}


@dataclass(frozen=True, slots=True)
class Kecamatan:
    """One row of the bundled kecamatan file."""

    code: str
    name: str
    dpt: int
    desa: int
    dispatch_day: int


def data_text(name: str) -> str:
    """Return a bundled data file as text."""
    return resources.files("app").joinpath("data", name).read_text(encoding="utf-8")


def kecamatan_rows() -> list[Kecamatan]:
    """Return Gunung Mas' kecamatan with real DPT and dispatch days."""
    return [
        Kecamatan(
            r["kode"],
            r["kecamatan"],
            int(r["dpt_2024"]),
            int(r["desa"]),
            int(r["dispatch_day"].removeprefix("H")),
        )
        for r in csv.DictReader(io.StringIO(data_text("gunung-mas-2024-kecamatan.csv")))
    ]


def desa_codes() -> dict[str, list[str]]:
    """Return kecamatan code -> sorted desa codes from the bundled wilayah subset."""
    result: dict[str, list[str]] = {}
    for r in csv.DictReader(io.StringIO(data_text("gunung-mas-wilayah.csv"))):
        code = r["kode"]
        if code.count(".") == 3:
            result.setdefault(code.rsplit(".", 1)[0], []).append(code)
    return {k: sorted(v) for k, v in result.items()}


def _weight(key: str, low: float, high: float) -> float:
    """A deterministic pseudo-random weight in [low, high) derived from ``key``."""
    digest = hashlib.sha256(key.encode()).digest()
    return low + (high - low) * int.from_bytes(digest[:4], "big") / 2**32


def allocate_tps(
    kecamatans: list[Kecamatan], desa: dict[str, list[str]], total: int = TPS_TOTAL
) -> list[tuple[str, int, int]]:
    """Split ``total`` TPS and each kecamatan's DPT over desa: (desa code, number, dpt)."""
    minimum = [max(len(desa[k.code]), math.ceil(k.dpt / MAX_VOTERS)) for k in kecamatans]
    extra = allocate_largest_remainder(total - sum(minimum), [k.dpt for k in kecamatans])
    rows: list[tuple[str, int, int]] = []
    for kec, low, more in zip(kecamatans, minimum, extra, strict=True):
        villages = desa[kec.code]
        # Kelurahan (codes .1xxx) are the towns: they get more voters.
        weights = [
            _weight(d, 0.6, 1.4) * (2.0 if d.rsplit(".", 1)[1].startswith("1") else 1.0)
            for d in villages
        ]
        per_desa = [1 + n for n in allocate_largest_remainder(low + more - len(villages), weights)]
        tps_keys = [
            (d, n) for d, count in zip(villages, per_desa, strict=True) for n in range(1, count + 1)
        ]
        tps_weights = [
            w * _weight(f"{d}/{n}", 0.85, 1.15)
            for (d, n) in tps_keys
            for w in [weights[villages.index(d)] / per_desa[villages.index(d)]]
        ]
        voters = allocate_largest_remainder(kec.dpt, tps_weights)
        # Keep every TPS under the legal maximum by moving voters to the emptiest TPS.
        while max(voters) > MAX_VOTERS:
            i, j = voters.index(max(voters)), voters.index(min(voters))
            moved = min(voters[i] - MAX_VOTERS, MAX_VOTERS - voters[j])
            voters[i] -= moved
            voters[j] += moved
        rows.extend((d, n, v) for (d, n), v in zip(tps_keys, voters, strict=True))
    return rows


def tps_csv() -> bytes:
    """Return the synthetic Gunung Mas TPS list in the plan import format."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kode desa", "nomor tps", "dpt", "dptb"])
    for desa, number, dpt in allocate_tps(kecamatan_rows(), desa_codes()):
        writer.writerow([desa, number, dpt, 0])
    return out.getvalue().encode()
