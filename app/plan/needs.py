"""PURE quantity rules: what each TPS, PPK and warehouse needs (no Flask, no database).

The rules come from KPU practice for Pilkada 2024 (see DOMAIN.md) and are data: the
defaults below seed the ``item_type`` table, where an admin may edit them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal


@dataclass(frozen=True, slots=True)
class QuantityRule:
    """How many of one item type a destination needs."""

    code: str
    name_id: str
    name_en: str
    unit: str = "unit"
    per_race: bool = False
    per_tps: int = 0
    per_voter: bool = False
    reserve_percent: Decimal = Decimal("0")
    spare_per_kecamatan: int = 0
    fixed_reserve_per_race: int = 0
    bundle_size: int = 1
    labelled: bool = True
    sort_order: int = 0


#: Pilkada 2024 defaults. Seals and envelopes per TPS are synthetic but editable.
DEFAULT_RULES: tuple[QuantityRule, ...] = (
    QuantityRule("KIT", "Paket logistik TPS", "TPS kit", per_tps=1, sort_order=0),
    QuantityRule(
        "KOTAK",
        "Kotak suara",
        "Ballot box",
        per_race=True,
        per_tps=1,
        spare_per_kecamatan=2,
        sort_order=1,
    ),
    QuantityRule(
        "SURAT",
        "Surat suara",
        "Ballot paper",
        unit="lembar",
        per_race=True,
        per_voter=True,
        reserve_percent=Decimal("2.5"),
        fixed_reserve_per_race=2000,
        bundle_size=20,
        sort_order=2,
    ),
    QuantityRule("BILIK", "Bilik suara", "Voting booth", per_tps=4, sort_order=3),
    QuantityRule("TINTA", "Tinta", "Ink", unit="botol", per_tps=2, sort_order=4),
    QuantityRule(
        "FORMHSL",
        "Formulir Model C.Hasil-KWK (plano)",
        "Result form C.Hasil-KWK",
        unit="set",
        per_race=True,
        per_tps=1,
        sort_order=5,
    ),
    QuantityRule(
        "FORMSAL",
        "Formulir Model C.Hasil Salinan-KWK",
        "Result copy C.Hasil Salinan",
        unit="set",
        per_race=True,
        per_tps=1,
        sort_order=6,
    ),
    QuantityRule("SAMPUL", "Sampul", "Envelopes", unit="set", per_tps=1, sort_order=7),
    QuantityRule(
        "BRAILLE",
        "Alat bantu tunanetra (template braille)",
        "Braille template",
        per_race=True,
        per_tps=1,
        sort_order=8,
    ),
    QuantityRule(
        "DPT",
        "Salinan DPT dan DPTb",
        "Voter list copies",
        unit="set",
        per_tps=1,
        labelled=False,
        sort_order=9,
    ),
    QuantityRule(
        "POSTER",
        "Poster calon",
        "Candidate poster",
        per_race=True,
        per_tps=1,
        labelled=False,
        sort_order=10,
    ),
    QuantityRule(
        "SEGEL",
        "Segel dan kabel ties",
        "Seals and cable ties",
        unit="set",
        per_tps=1,
        sort_order=11,
    ),
)


@dataclass(frozen=True, slots=True)
class TpsFacts:
    """What the needs of one TPS depend on."""

    tps_id: str
    kecamatan_code: str
    dpt: int
    dptb: int
    races: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class NeedLine:
    """A planned quantity: destination (TPS id, PPK or warehouse code), item, race."""

    destination: str
    item_type: str
    race: str
    quantity: int


def reserve(dpt: int, percent: Decimal) -> int:
    """Return ``percent`` of ``dpt`` rounded up (applied per TPS, never on a total)."""
    return int((Decimal(dpt) * percent / Decimal(100)).to_integral_value(ROUND_CEILING))


def tps_needs(rule: QuantityRule, tps: TpsFacts) -> list[NeedLine]:
    """Return the lines one rule gives one TPS."""
    races: Sequence[str] = tps.races if rule.per_race else ("",)
    lines: list[NeedLine] = []
    for race in races:
        quantity = rule.per_tps
        if rule.per_voter:
            quantity += tps.dpt + tps.dptb + reserve(tps.dpt, rule.reserve_percent)
        if quantity > 0:
            lines.append(NeedLine(tps.tps_id, rule.code, race, quantity))
    return lines


def compute_needs(
    rules: Iterable[QuantityRule], tps_list: Iterable[TpsFacts], warehouse: str
) -> list[NeedLine]:
    """Return every plan line for a kabupaten: per TPS, kecamatan spares, warehouse reserves."""
    tps_all = list(tps_list)
    kecamatans = sorted({t.kecamatan_code for t in tps_all})
    races = sorted({race for t in tps_all for race in t.races})
    lines: list[NeedLine] = []
    for rule in rules:
        for tps in tps_all:
            lines.extend(tps_needs(rule, tps))
        if rule.spare_per_kecamatan:
            lines.extend(
                NeedLine(kec, rule.code, "", rule.spare_per_kecamatan) for kec in kecamatans
            )
        if rule.fixed_reserve_per_race:
            lines.extend(
                NeedLine(warehouse, rule.code, race, rule.fixed_reserve_per_race) for race in races
            )
    return lines


def bundles(quantity: int, bundle_size: int) -> list[int]:
    """Split a quantity into labelled units: full bundles and one partial last bundle."""
    if bundle_size <= 1:
        return [1] * quantity
    full, rest = divmod(quantity, bundle_size)
    return [bundle_size] * full + ([rest] if rest else [])


def totals(lines: Iterable[NeedLine]) -> dict[tuple[str, str], int]:
    """Sum lines by (item type, race)."""
    result: dict[tuple[str, str], int] = defaultdict(int)
    for line in lines:
        result[(line.item_type, line.race)] += line.quantity
    return dict(result)


def allocate_largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (Hamilton's method)."""
    if total < 0 or not weights:
        raise ValueError("total must be >= 0 and weights non-empty")
    weight_sum = sum(weights)
    if weight_sum <= 0:
        raise ValueError("weights must sum to a positive number")
    exact = [total * w / weight_sum for w in weights]
    floors = [math.floor(x) for x in exact]
    left = total - sum(floors)
    order = sorted(range(len(weights)), key=lambda i: (floors[i] - exact[i], i))
    for i in order[:left]:
        floors[i] += 1
    return floors
