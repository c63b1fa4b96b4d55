"""The demo's way back: election day at every TPS that got its kit, and the boxes' return.

Played when the demo stands after election day (``flask demo load`` with ``DEMO_NOW`` on
H+1). Each KPPS opens its kit, counts, seals each ballot box and files its closing
record per race; the boxes go back to the PPS on election night and on to the PPK on
H+1. Planted, as reported in 2024: a box that skips the PPS, seals that change on the
way back, a TPS whose sheets do not add up, and a late return from a river district.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import labels
from app.auth import service as auth
from app.closing.service import record_closings
from app.items.models import Item
from app.plan import codes
from app.plan.models import Election, Tps

if TYPE_CHECKING:
    from app.custody.simulation import Simulation


def _wib(day_offset: int, hour: int, minute: int = 0) -> datetime:
    from app.custody.simulation import wib

    return wib(day_offset, hour, minute)


@dataclass(frozen=True)
class Plants:
    """The TPS whose way back goes wrong (None: nobody)."""

    skip: str | None = None  # the box goes from the TPS straight to the PPK
    unbalanced: str | None = None  # the governor sheets are 10 short of adding up
    reseal: str | None = None  # the box arrives at the PPS under another seal
    late: str | None = None  # the river district's box reaches the PPS on H+1

    @classmethod
    def for_demo(cls, delivered: list[str]) -> Plants:
        """The Gunung Mas picks: two in Kurun, one in Tewah, one in Miri Manasa (river)."""
        kurun = [t for t in delivered if t.startswith("621002")]
        tewah = [t for t in delivered if t.startswith("621003")]
        river = [t for t in delivered if t.startswith("621009")]
        return cls(
            skip=kurun[5] if len(kurun) > 5 else None,
            unbalanced=kurun[9] if len(kurun) > 9 else None,
            reseal=tewah[5] if len(tewah) > 5 else None,
            late=river[0] if river else None,
        )


def play_way_back(
    sim: Simulation,
    by_tps: dict[str, list[Item]],
    short_tps: str,
    plants: Plants | None = None,
) -> None:
    """Queue election day and the return scans (and closing records) up to ``sim.until``."""
    delivered = sorted(sim.delivered)
    plants = plants or Plants.for_demo(delivered)
    skip_tps, unbalanced_tps = plants.skip, plants.unbalanced
    reseal_tps, late_tps = plants.reseal, plants.late
    dpt = dict(sim.session.query(Tps.id, Tps.dpt).filter(Tps.id.in_(delivered)).all())
    seal_no = 1000
    until = sim.until

    def scan(item: Item, action: str, node: str, at: datetime, **extra: Any) -> None:
        if at <= until:
            sim.scan(item, action, node, at, **extra)

    for tps in delivered:
        items = by_tps[tps]
        kit = next(i for i in items if i.item_type_code == "KIT")
        gudang, ppk, pps, _ = codes.route(tps)
        scan(kit, "buka", tps, max(_wib(0, 6, 30), sim.delivered[tps]) + sim.minutes(1, 20))
        boxes = sorted((i for i in items if i.item_type_code == "KOTAK"), key=lambda i: i.race_kind)
        for box in boxes:
            race = box.race_kind
            seal_no += 2
            seals = [f"GM24-K{seal_no:05d}", f"GM24-K{seal_no + 1:05d}"]
            count_at = _wib(0, 13) + sim.minutes(0, 15)
            sealed_at = _wib(0, 18) + sim.minutes(0, 90)
            scan(box, "buka", tps, count_at, note="Penghitungan suara")
            scan(box, "segel", tps, sealed_at, seals=seals, note="Penutupan TPS")
            if sealed_at + timedelta(minutes=5) <= until:
                sim.closings.append((tps, sealed_at + timedelta(minutes=5), _sheet(
                    sim, tps, race, box, items, dpt[tps], seals, sealed_at,
                    short=tps == short_tps and race == "GUB",
                    unbalanced=tps == unbalanced_tps and race == "GUB",
                )))  # fmt: skip
            if tps == late_tps:  # the kelotok could not leave before dawn
                sent, got = _wib(1, 6), _wib(1, 9, 30)
            else:
                sent = sealed_at + sim.minutes(30, 120)
                got = sent + sim.minutes(20, 60)
            if tps == skip_tps:
                scan(box, "kembali", tps, sent, target=ppk, seals=seals)
                scan(box, "terima", ppk, got + timedelta(hours=1), seals=seals, condition="baik")
                continue
            scan(box, "kembali", tps, sent, target=pps, seals=seals)
            at_pps = seals if tps != reseal_tps else [seals[0], "GM24-X99001"]
            scan(box, "terima", pps, got, seals=at_pps, condition="baik")
            onward = max(_wib(1, 7), got + timedelta(minutes=30)) + sim.minutes(0, 180)
            scan(box, "kembali", pps, onward, target=ppk, seals=at_pps)
            scan(box, "terima", ppk, onward + sim.minutes(60, 180), seals=at_pps, condition="baik")
    sim.story.lines.append(
        f"Hari H: {len(delivered)} TPS membuka kit, menghitung, menyegel kotak dan mengisi "
        "catatan penutupan (C.Hasil)."
    )
    planted = [
        (skip_tps, "Kotak TPS {} kembali langsung ke PPK tanpa lewat PPS."),
        (reseal_tps, "Segel kotak TPS {} berganti nomor di PPS pada jalur kembali."),
        (unbalanced_tps, "Surat suara gubernur TPS {} tidak seimbang (selisih 10 lembar)."),
        (late_tps, "Kotak TPS {} (lewat sungai) tiba di PPS H+1, lewat tenggat."),
    ]
    sim.story.lines += [line.format(tps) for tps, line in planted if tps]


def _sheet(
    sim: Simulation,
    tps: str,
    race: str,
    box: Item,
    items: list[Item],
    dpt: int,
    seals: list[str],
    at: datetime,
    *,
    short: bool,
    unbalanced: bool,
) -> dict[str, Any]:
    """A C.Hasil that adds up (unless planted otherwise), turnout 70-85 %."""
    received = sum(i.quantity for i in items if i.item_type_code == "SURAT" and i.race_kind == race)
    if short:
        received -= 119  # the packing miscount found on receipt (planted on the way out)
    voters = min(received, int(dpt * sim.random.uniform(0.70, 0.85)))
    spoiled = sim.random.randint(0, 3)
    used = max(0, min(voters, received - spoiled))
    unused = received - used - spoiled
    return {
        "client_id": str(uuid.UUID(int=sim.random.getrandbits(128), version=4)),
        "tps": tps,
        "race": race,
        "received": received,
        "used": used,
        "invalid": int(used * sim.random.uniform(0.01, 0.03)),
        "spoiled": spoiled,
        "unused": unused - (10 if unbalanced else 0),
        "voters_signed": voters,
        "reserve_drawn": spoiled,
        "seals": seals,
        "box": box.serial,
        "device_time": at.isoformat(),
    }


def file_closings(sim: Simulation, election: Election) -> int:
    """File the queued closing records as each kecamatan's committee; return how many."""
    by_actor: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for tps, at, record in sim.closings:
        by_actor[sim.actor_for(tps)].append((at, record))
    accepted = 0
    for actor, records in sorted(by_actor.items()):
        user = auth.find_user(sim.session, actor)
        records.sort(key=lambda r: r[0])
        results = record_closings(
            sim.session,
            user=user,
            election=election,
            device_id=f"sim-{actor}",
            raw_records=[r for _, r in records],
            now=records[-1][0],
            box_serial=labels.parse_serial,
        )
        accepted += sum(r.status == "accepted" for r in results)
    return accepted
