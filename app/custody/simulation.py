"""A seeded, deterministic distribution of Gunung Mas, played through the scan service.

It stands on the afternoon of H-1 (26 November 2024, 15:00 WIB): the remote districts
(dispatched H-2) have delivered, the districts near the capital (H-1) are on their last
leg, and the failures reported in 2024 are planted so the desk has findings to chase:

* a carton of Kabupaten Katingan's ballots received at the Gunung Mas warehouse (tertukar);
* a TPS short of 119 ballots after a packing miscount (as in Kota Malang);
* a ballot box soaked on a river leg (basah);
* a box whose seal numbers changed between warehouse and TPS;
* a late leg to a remote desa, and a desa whose kits have not arrived past the deadline;
* a cloned box label scanned in two places at once.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app.auth import service as auth
from app.auth.models import Role, User
from app.custody.service import Ingestor
from app.items.models import Item
from app.items.service import issue_items, label_text
from app.plan import codes, demo, service
from app.plan.models import Election, Tps

#: The instant the demo stands on: H-1, 15:00 WIB.
DEMO_NOW = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)
SEED = 2024
WIB = timedelta(hours=7)


def wib(day_offset: int, hour: int, minute: int = 0) -> datetime:
    """An instant on H±n at a WIB wall-clock time."""
    local = datetime(2024, 11, 27, hour, minute) + timedelta(days=day_offset)
    return (local - WIB).replace(tzinfo=UTC)


@dataclass
class Scan:
    """One scan to send, by whom, when."""

    actor: str
    at: datetime
    body: dict[str, Any]


@dataclass
class Story:
    """What the simulation planted, for the terminal and the tests."""

    lines: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))


def _story_order(item: Item) -> tuple[str, str, str, int, str]:
    """Destination, type, race, then the larger bundle first; the serial only breaks ties."""
    return (
        item.destination,
        item.item_type_code,
        item.race_kind or "",
        -item.quantity,
        item.serial,
    )


def _counted(contents: list[Item]) -> dict[str, int]:
    """What a KPPS counts on opening a kit, per item type and race (the labels' quantities;
    the 119-short TPS finds its empty bundles when it counts the sheets, bundle by bundle)."""
    counted: dict[str, int] = defaultdict(int)
    for item in contents:
        counted[f"{item.item_type_code}|{item.race_kind or ''}"] += item.quantity
    return dict(sorted(counted.items()))


class Simulation:
    """Builds and plays the scans of the demo distribution."""

    def __init__(
        self,
        session: Session,
        signer: labels.Signer,
        keyring: labels.Keyring,
        until: datetime = DEMO_NOW,
    ) -> None:
        self.session = session
        self.until = until
        # TPS -> when its kit arrived; the way back starts from there.
        self.delivered: dict[str, datetime] = {}
        self.closings: list[tuple[str, datetime, dict[str, Any]]] = []
        self.signer = signer
        self.keyring = keyring
        self.random = random.Random(SEED)
        self.scans: list[Scan] = []
        self.story = Story()
        self.seq: dict[str, int] = defaultdict(int)
        self.labels: dict[str, str] = {}

    # -- helpers --------------------------------------------------------------------------

    def actor_for(self, node: str) -> str:
        """Who scans at a node: the warehouse, or the committee of that kecamatan."""
        if codes.node_kind(node).value == "gudang":
            return "sim.gudang." + node
        return "sim.petugas." + ".".join(codes.node_region(node).split(".")[:3])

    def label(self, item: Item) -> str:
        """The QR text of an item (cached)."""
        text = self.labels.get(item.serial)
        if text is None:
            text = self.labels[item.serial] = label_text(item, self.signer)
        return text

    def scan(self, item: Item, action: str, node: str, at: datetime, **extra: Any) -> None:
        """Queue a scan of one item."""
        actor = self.actor_for(node)
        body = {
            "event_id": str(uuid.UUID(int=self.random.getrandbits(128), version=4)),
            "device_time": at.isoformat(),
            "label": self.label(item),
            "action": action,
            "node": node,
            **extra,
        }
        self.scans.append(Scan(actor, at, body))

    def minutes(self, low: int, high: int) -> timedelta:
        """A random duration."""
        return timedelta(minutes=self.random.randint(low, high))

    # -- the story ------------------------------------------------------------------------

    def build(self, election: Election) -> None:
        """Queue every scan of the distribution up to DEMO_NOW."""
        session = self.session
        items = list(
            session.scalars(
                select(Item)
                .where(Item.kabkota_code == demo.KABKOTA)
                .order_by(Item.destination, Item.serial)
            )
        )
        by_tps: dict[str, list[Item]] = defaultdict(list)
        spares: dict[str, list[Item]] = defaultdict(list)  # the 2 spare boxes of each PPK
        # Serials are random on every load; the story must not be: items of a TPS are taken
        # by type, race and size (full bundles first), which the plan fixes, not by serial.
        items.sort(key=_story_order)
        for item in items:
            if codes.TPS_ID.match(item.destination):
                by_tps[item.destination].append(item)
            elif codes.node_kind(item.destination).value == "ppk":
                spares[item.destination].append(item)
        dispatch = {k.code: k.dispatch_day for k in demo.kecamatan_rows()}
        tps_ids = sorted(by_tps)
        kurun = [t for t in tps_ids if t.startswith("621002")]
        tewah = [t for t in tps_ids if t.startswith("621003")]
        miri = sorted({codes.desa_of_tps(t) for t in tps_ids if t.startswith("621009")})
        damang = sorted({codes.desa_of_tps(t) for t in tps_ids if t.startswith("621008")})
        late_desa, overdue_desa = miri[-1], damang[-1]
        short_tps, seal_tps, clone_tps = kurun[3], kurun[7], kurun[11]
        wet_tps = next(t for t in tewah if codes.desa_of_tps(t) != codes.desa_of_tps(tewah[0]))
        self._foreign_carton(election, by_tps[short_tps])

        for tps in tps_ids:
            kit = next(i for i in by_tps[tps] if i.item_type_code == "KIT")
            contents = [i for i in by_tps[tps] if i.item_type_code != "KIT"]
            gudang, ppk, pps, _ = codes.route(tps)
            packed_at = wib(-4, 8) + self.minutes(0, 8 * 60)
            for item in contents:
                if item.item_type_code == "KOTAK" and tps == seal_tps:
                    self.scan(item, "segel", gudang, packed_at, seals=["GM24-0102", "GM24-0103"])
                self.scan(item, "kemas", gudang, packed_at, container=self.label(kit))
            day = dispatch[ppk]
            leave = (
                wib(day, 6) + self.minutes(0, 60) if day <= -2 else wib(-1, 6) + self.minutes(0, 45)
            )
            self.scan(kit, "kirim", gudang, leave, target=ppk, counterpart="Kurir KPU + Polri")
            at_ppk = leave + self.minutes(150, 420 if day <= -2 else 150)
            self.scan(
                kit, "terima", ppk, at_ppk, quantity=1, condition="baik", counterpart="Ketua PPK"
            )
            for spare in spares.pop(ppk, []):  # the PPK's spare boxes ride with its first kit
                self.scan(spare, "kirim", gudang, leave, target=ppk)
                self.scan(spare, "terima", ppk, at_ppk, quantity=1, condition="baik")
            leave_ppk = at_ppk + (self.minutes(30, 120) if day <= -2 else self.minutes(20, 45))
            self.scan(kit, "kirim", ppk, leave_ppk, target=pps)
            if pps == overdue_desa:
                self.story.counts["overdue"] += 1
                continue  # stuck on the river: never arrives before the deadline
            at_pps = leave_ppk + (self.minutes(60, 180) if day <= -2 else self.minutes(45, 90))
            if pps == late_desa:
                at_pps = wib(-1, 14, 40)
            if at_pps > self.until:
                continue
            wet = tps == wet_tps
            self.scan(
                kit,
                "terima",
                pps,
                at_pps,
                quantity=1,
                condition="basah" if wet else "baik",
                counterpart="Ketua PPS",
            )
            if wet:
                box = next(i for i in contents if i.item_type_code == "KOTAK")
                self.scan(
                    box,
                    "rusak",
                    pps,
                    at_pps + timedelta(minutes=5),
                    condition="basah",
                    note="Kotak basah setelah kelotok terkena hujan di Sungai Kahayan",
                )
            leave_pps = at_pps + self.minutes(20, 90)
            if leave_pps > self.until:
                continue
            self.scan(kit, "kirim", pps, leave_pps, target=tps)
            at_kpps = leave_pps + self.minutes(30, 150)
            if at_kpps > self.until:
                continue
            self.scan(
                kit, "terima", tps, at_kpps, quantity=1, condition="baik", counterpart="Ketua KPPS"
            )
            self.delivered[tps] = at_kpps
            # The KPPS opens the kit and counts what is inside (the receipt that confirms it).
            self.scan(
                kit,
                "buka",
                tps,
                at_kpps + timedelta(minutes=5),
                counts=_counted(contents),
            )
            if tps == short_tps:
                self._miscount(contents, tps, at_kpps)
            if tps == seal_tps:
                box = next(i for i in contents if i.item_type_code == "KOTAK")
                self.scan(
                    box,
                    "terima",
                    tps,
                    at_kpps + timedelta(minutes=10),
                    quantity=1,
                    seals=["GM24-0102", "GM24-9917"],
                    condition="baik",
                )
                self.story.lines.append(f"Segel kotak di TPS {tps} berubah nomor.")
        self._clone(by_tps[clone_tps], tewah[0])
        self.story.lines += [
            f"Kotak basah di kaki sungai menuju TPS {wet_tps}.",
            f"PPS {late_desa} menerima melewati tenggat; PPS {overdue_desa} belum menerima.",
        ]
        if self.until >= wib(0, 18):
            from app.closing.simulation import play_way_back

            play_way_back(self, by_tps, short_tps)

    def _foreign_carton(self, election: Election, kit_contents: list[Item]) -> None:
        """Kab. Katingan's ballots arrive at the Gunung Mas warehouse (tertukar)."""
        session = self.session
        foreign = "6206012001001"
        if session.get(Tps, foreign) is None:
            data = b"tps id,dpt,dptb\n6206012001001,380,0\n"
            service.import_tps(session, election.code, "62.06", "katingan.csv", data)
        carton = issue_items(session, election.code, foreign, ["SURAT"], self.signer, None).items
        for bundle in carton[:5]:
            self.scan(
                bundle,
                "terima",
                "62.10",
                wib(-6, 10),
                quantity=bundle.quantity,
                condition="baik",
                counterpart="Ekspedisi percetakan",
            )
        self.story.lines.append(
            "5 ikat surat suara Kab. Katingan (100 lembar) diterima di gudang Gunung Mas."
        )

    def _miscount(self, contents: list[Item], tps: str, at: datetime) -> None:
        """The KPPS counts the governor ballots on receipt: 119 short (Kota Malang, 2024)."""
        # Six full bundles of 20: five found empty, one holding a single ballot = 119 short.
        bundles = [
            i
            for i in contents
            if i.item_type_code == "SURAT" and i.race_kind == "GUB" and i.quantity == 20
        ][:6]
        assert len(bundles) == 6, f"TPS {tps} has fewer than six full governor bundles"
        short = [0, 0, 0, 0, 0, 1]
        for bundle, counted in zip(bundles, short, strict=False):
            self.scan(
                bundle,
                "terima",
                tps,
                at + timedelta(minutes=20),
                quantity=counted,
                condition="baik",
                note="Hitung ulang saat penerimaan",
            )
        self.story.lines.append(f"TPS {tps}: surat suara gubernur kurang 119 lembar.")

    def _clone(self, victim: list[Item], elsewhere_tps: str) -> None:
        """A copy of a box label turns up in another kecamatan while the box is elsewhere."""
        box = next(i for i in victim if i.item_type_code == "KOTAK")
        pps = codes.desa_of_tps(elsewhere_tps)
        self.scan(box, "terima", pps, wib(-1, 13, 30), quantity=1, condition="baik")
        self.story.lines.append(
            f"Label kotak {labels.format_serial(box.serial)} dipindai ganda di {pps}."
        )

    def costs(self, election: Election) -> None:
        """Budgets and costs of the warehouse -> PPK legs; Miri Manasa's boat hire overran."""
        for kecamatan in demo.kecamatan_rows():
            remote = kecamatan.dispatch_day <= -2
            budget = 6_000_000 if remote else 2_500_000
            service.set_budget(self.session, election.code, demo.KABKOTA, kecamatan.code, budget)
            spent = int(budget * self.random.uniform(0.8, 0.98)) // 1000 * 1000
            note = "sewa truk dan pengawalan"
            if kecamatan.code == "62.10.09":
                spent, note = 9_400_000, "sewa kelotok; harga BBM di hulu naik"
            elif remote:
                note = "sewa kelotok / 4WD dan pengawalan"
            service.record_cost(
                self.session, election.code, demo.KABKOTA, kecamatan.code, spent, note
            )
        self.story.lines.append(
            "Biaya angkut ke PPK Miri Manasa Rp9.400.000, anggaran Rp6.000.000."
        )

    # -- playing --------------------------------------------------------------------------

    def users(self) -> dict[str, User]:
        """The simulation's scanning accounts (random passwords: nobody logs in as them)."""
        result = {}
        for actor in sorted({s.actor for s in self.scans}):
            scope = actor.split(".", 2)[2]
            try:
                user = auth.find_user(self.session, actor)
            except Exception:
                user = auth.create_user(
                    self.session,
                    actor,
                    labels.new_serial() + "x",
                    Role.GUDANG.value if "gudang" in actor else Role.KURIR.value,
                    scope,
                    f"Simulasi {scope}",
                )
            result[actor] = user
        return result

    def play(self, election: Election, batch: int = 500) -> Iterator[tuple[int, int]]:
        """Send the queued scans in time order, per actor batches; yield (sent, accepted)."""
        users = self.users()
        # Each actor uploads what it scanned within the hour in one batch; the warehouse
        # goes first in an hour, so a dispatch is always recorded before its receipt.
        self.scans.sort(
            key=lambda s: (
                s.at.replace(minute=0, second=0, microsecond=0),
                s.actor,
                s.at,
                s.body["event_id"],
            )
        )
        clock = [self.scans[0].at if self.scans else DEMO_NOW]
        sent = accepted = 0
        i = 0
        while i < len(self.scans):
            actor = self.scans[i].actor
            chunk = []
            while i < len(self.scans) and self.scans[i].actor == actor and len(chunk) < batch:
                chunk.append(self.scans[i])
                i += 1
            device = f"sim-{actor}"
            for scan in chunk:
                self.seq[device] += 1
                scan.body["device_seq"] = self.seq[device]
            # Couriers upload within minutes of scanning; the server clock follows.
            clock[0] = max(clock[0], chunk[-1].at + timedelta(minutes=2))
            tick = _Ticker(clock)
            ingestor = Ingestor(
                self.session,
                user=users[actor],
                token=None,
                device_id=device,
                keyring=self.keyring,
                now=tick,
                election=election,
                sent_at=clock[0],  # the device's clock, right in the simulation
            )
            results = ingestor.ingest([s.body for s in chunk])
            sent += len(results)
            accepted += sum(r.status == "accepted" for r in results)
            yield sent, accepted


class _Ticker:
    """A server clock that starts at the given instant and moves on by microseconds."""

    def __init__(self, clock: list[datetime]) -> None:
        self.clock = clock

    def __call__(self) -> datetime:
        self.clock[0] += timedelta(microseconds=1)
        return self.clock[0]


def run(
    session: Session,
    signer: labels.Signer,
    keyring: labels.Keyring,
    election_code: str = demo.ELECTION_CODE,
    until: datetime = DEMO_NOW,
) -> Story:
    """Issue the demo's labels and play its distribution up to ``until``; idempotent.

    Past election day the way back is played too (closing, return to PPS and PPK).
    """
    from app.custody.models import CustodyEvent

    election = service.get_election(session, election_code)
    if session.scalar(select(CustodyEvent.event_id).limit(1)) is not None:
        story = Story()
        story.lines.append("Distribusi demo sudah dimainkan sebelumnya.")
        return story
    issue_items(session, election_code, demo.KABKOTA, None, signer, None)
    simulation = Simulation(session, signer, keyring, until)
    simulation.build(election)
    total = accepted = 0
    for progress in simulation.play(election):
        total, accepted = progress
    simulation.story.counts["scans"] = total
    simulation.story.counts["accepted"] = accepted
    if simulation.closings:
        from app.closing.simulation import file_closings

        simulation.story.counts["closings"] = file_closings(simulation, election)
    simulation.costs(election)
    return simulation.story
