"""A region nobody tuned for: Kota Kupang (53.71, WITA), planted faults of every kind.

Six TPS of Kelurahan Namosain (kecamatan Alak) get their labels and travel by kit; the
three TPS of kecamatan Maulafa are planned but never printed. Everything goes through the
ingest service with each batch carrying its device's clock, as tepat-scan and the
browser page send it. Planted:

* TPS 001: nothing. It must raise nothing at all.
* TPS 002: its kit leaves the gudang without two mayor ballot bundles (packed short).
* TPS 003: two bundles vanish on the road; the KPPS counts on opening (contents short,
  and after H-1 20.00 the TPS is short by what never got confirmed).
* TPS 004: the KPPS phone is 3 h fast and uploads after the deadline (no lateness); a
  copy of its mayor box label is received at PPK Maulafa, uploaded before the genuine
  box moved (the copy is placed in Maulafa, custody stays on the route).
* TPS 005: the KPPS phone is 7 h slow and the kit really arrives 1 h late (late, once,
  for the kit and everything in it).
* TPS 006: the PPK's dispatch scan is forgotten (dispatch not recorded, not a clone); a
  box reported rusak berat then cancelled (batal); a bundle miscounted then corrected
  (koreksi); the KPPS phone's scans 3-4 arrive after 5 (a gap, closed when they do).
* Maulafa: no label printed (one "not issued yet" line, no shortage).

Every finding is asserted by code, principle and place; nothing else may appear.
"""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.auth import service as auth
from app.custody import codec, ledger, queries, rules
from app.custody.models import CustodyEvent, FindingRow, ItemStateRow
from app.custody.planview import build_plan, to_rules_item
from app.custody.service import Ingestor
from app.extensions import db
from app.items import keys
from app.items.models import Item
from app.items.service import issue_items, label_text
from app.plan import service as plan_service

ELECTION = "pilkada-kupang-2024"
KOTA, ALAK, MAULAFA = "53.71", "53.71.01", "53.71.02"
NAMOSAIN = "53.71.01.1001"
TPS = {n: f"5371011001{n:03d}" for n in range(1, 7)}
MAULAFA_TPS = [f"5371021001{n:03d}" for n in range(1, 4)]
#: The shared region codes beside the repository (as in CI: ``../shared``).
WILAYAH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wilayah.csv"
#: Deadlines (WITA = UTC+8, H = 27 Nov): gudang->PPK H-1 10.00, PPK->PPS 14.00, PPS->KPPS 20.00.
D_KPPS = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)
NOW = datetime(2024, 11, 26, 14, 0, tzinfo=UTC)  # H-1 22.00 WITA: every forward leg is due
DAY = datetime(2024, 11, 25, 0, 0, tzinfo=UTC)  # H-2 08.00 WITA: the kits leave


class Field:
    """Devices that scan and upload batches, each with its own clock."""

    def __init__(self, election: Any, keyring: Any, signer: Any, user: Any) -> None:
        self.election, self.keyring, self.signer, self.user = election, keyring, signer, user
        self.seq: Counter[str] = Counter()
        self.clock = DAY - timedelta(days=1)  # server time of the last upload
        self.ids: dict[str, str] = {}

    def scan(
        self, item: Item, action: str, node: str, at: datetime, name: str = "", **extra: Any
    ) -> dict[str, Any]:
        """One scan made at true time ``at`` (the device adds its own error when sent)."""
        event = {
            "event_id": str(uuid.uuid4()),
            "label": label_text(item, self.signer),
            "action": action,
            "node": node,
            "at": at,
            **extra,
        }
        if name:
            self.ids[name] = event["event_id"]
        return event

    def send(
        self,
        device: str,
        scans: list[dict[str, Any]],
        *,
        upload: datetime | None = None,
        error: timedelta = timedelta(0),
        seqs: list[int] | None = None,
    ) -> list[dict[str, Any]]:
        """Upload scans as ``device`` whose clock is off by ``error``; return the answers."""
        if upload is None:  # a few minutes after the last scan, after the previous upload
            upload = max(max(s["at"] for s in scans) + timedelta(minutes=3), self.clock)
            upload += timedelta(seconds=1)
        assert upload > self.clock, "uploads are played in server order"
        self.clock = upload
        events = []
        for i, scan in enumerate(scans):
            if seqs is None:
                self.seq[device] += 1
            body = {k: v for k, v in scan.items() if k != "at"}
            body["device_seq"] = seqs[i] if seqs else self.seq[device]
            body["device_time"] = (scan["at"] + error).isoformat()
            events.append(body)
        if seqs:
            self.seq[device] = max(self.seq[device], *seqs)
        ticks = [upload]

        def now() -> datetime:
            ticks[0] += timedelta(microseconds=1)
            return ticks[0]

        ingestor = Ingestor(
            db.session,
            user=self.user,
            token=None,
            device_id=device,
            keyring=self.keyring,
            now=now,
            election=self.election,
            sent_at=upload + error,
        )
        answers = [r.to_dict() for r in ingestor.ingest(events)]
        assert all(a["status"] == "accepted" for a in answers), answers
        self.clock = ticks[0]
        return answers


@pytest.fixture
def kupang(app: Flask) -> dict[str, Any]:
    """Kota Kupang loaded, planned, printed for Namosain, and the whole story played."""
    session = db.session
    source = WILAYAH
    plan_service.load_regions(session, source, [KOTA])
    plan_service.create_election(session, ELECTION, "Pilkada Kota Kupang", date(2024, 11, 27))
    plan_service.add_race(session, ELECTION, "GUB", "53")
    plan_service.add_race(session, ELECTION, "WAL", KOTA)
    rows = [f"{NAMOSAIN},{n},300,2" for n in TPS] + [
        f"53.71.02.1001,{n},280,0" for n in range(1, 4)
    ]
    plan_service.import_tps(
        session,
        ELECTION,
        KOTA,
        "kupang.csv",
        ("kode desa,nomor tps,dpt,dptb\n" + "\n".join(rows)).encode(),
    )
    key_dir = app.config["TEPAT_KEY_DIR"]
    keys.create_key(key_dir, date(2024, 11, 1))
    signer, keyring = keys.load_signer(key_dir), keys.load_keyring(key_dir)
    issue_items(session, ELECTION, ALAK, None, signer, None)  # Alak: its TPS and spares
    user = auth.create_user(session, "kurir.kupang", "rahasia-kupang-1", "kurir", KOTA)
    election = plan_service.get_election(session, ELECTION)
    field = Field(election, keyring, signer, user)
    items = {
        tps: list(
            session.scalars(select(Item).where(Item.destination == tps).order_by(Item.serial))
        )
        for tps in TPS.values()
    }
    spares = list(session.scalars(select(Item).where(Item.destination == ALAK)))
    play(field, items, spares)
    ledger.integrate(session, key_dir, "tepat.test/kupang")
    return {"field": field, "items": items, "election": election}


def kit_of(items: list[Item]) -> Item:
    return next(i for i in items if i.item_type_code == "KIT")


def counts_of(items: list[Item], minus: dict[str, int] | None = None) -> dict[str, int]:
    """What a KPPS counts on opening: everything packed, less ``minus`` per key."""
    counted: Counter[str] = Counter()
    for item in items:
        if item.item_type_code != "KIT":
            counted[f"{item.item_type_code}|{item.race_kind or ''}"] += item.quantity
    counted.subtract(minus or {})
    return dict(counted)


def play(field: Field, items: dict[str, list[Item]], spares: list[Item]) -> None:
    gudang, pps = KOTA, NAMOSAIN
    wal_bundles = {
        tps: [i for i in its if i.item_type_code == "SURAT" and i.race_kind == "WAL"]
        for tps, its in items.items()
    }
    # The gudang packs every kit; TPS 002's kit misses two mayor bundles.
    packing = []
    for tps, its in items.items():
        kit = kit_of(its)
        for item in its:
            if item is kit or (tps == TPS[2] and item in wal_bundles[tps][:2]):
                continue
            packing.append(
                field.scan(
                    item, "kemas", gudang, DAY - timedelta(hours=20), container=label(field, kit)
                )
            )
    field.send("hp-gudang", packing)
    # A copy of TPS 004's mayor box label turns up at PPK Maulafa, uploaded first.
    box4 = next(i for i in items[TPS[4]] if i.item_type_code == "KOTAK" and i.race_kind == "WAL")
    field.send(
        "hp-maulafa", [field.scan(box4, "terima", MAULAFA, DAY - timedelta(hours=2), name="copy")]
    )
    # Dispatch: every kit and the PPK's spare boxes leave at H-2 08.00.
    leave = [
        field.scan(kit_of(its), "kirim", gudang, DAY, target=ALAK) for its in items.values()
    ] + [field.scan(s, "kirim", gudang, DAY, target=ALAK) for s in spares]
    field.send("hp-gudang", leave)
    arrive = [
        field.scan(kit_of(its), "terima", ALAK, DAY + timedelta(hours=2), condition="baik")
        for its in items.values()
    ] + [field.scan(s, "terima", ALAK, DAY + timedelta(hours=2), quantity=1) for s in spares]
    field.send("hp-ppk-alak", arrive)
    # PPK -> PPS; TPS 006's kirim is never scanned.
    field.send(
        "hp-ppk-alak",
        [
            field.scan(kit_of(its), "kirim", ALAK, DAY + timedelta(hours=4), target=pps)
            for tps, its in items.items()
            if tps != TPS[6]
        ],
    )
    field.send(
        "hp-pps",
        [
            field.scan(kit_of(its), "terima", pps, DAY + timedelta(hours=6), name=f"pps-{tps}")
            for tps, its in items.items()
        ],
    )
    # At PPS Namosain a box of TPS 006 is reported rusak berat, then the report is cancelled.
    box6 = next(i for i in items[TPS[6]] if i.item_type_code == "KOTAK")
    field.send(
        "hp-pps",
        [
            field.scan(
                box6,
                "rusak",
                pps,
                DAY + timedelta(hours=6, minutes=10),
                condition="rusak_berat",
                name="rusak",
            )
        ],
    )
    field.send(
        "hp-pps",
        [
            field.scan(
                box6,
                "batal",
                pps,
                DAY + timedelta(hours=6, minutes=20),
                ref_event_id=field.ids["rusak"],
            )
        ],
    )
    field.send(
        "hp-pps",
        [
            field.scan(kit_of(its), "kirim", pps, DAY + timedelta(hours=8), target=tps)
            for tps, its in items.items()
            if tps not in (TPS[4], TPS[5])
        ],
    )
    # TPS 001, 002, 003, 006 receive and open their kits on H-2, counting what is inside.
    for n in (1, 2, 3, 6):
        tps, its = TPS[n], items[TPS[n]]
        at = DAY + timedelta(hours=10)
        minus = {"SURAT|WAL": 40} if n == 3 else {}
        if n == 2:
            minus = {"SURAT|WAL": sum(b.quantity for b in wal_bundles[tps][:2])}
        scans = [
            field.scan(kit_of(its), "terima", tps, at, condition="baik"),
            field.scan(
                kit_of(its), "buka", tps, at + timedelta(minutes=5), counts=counts_of(its, minus)
            ),
        ]
        if n != 6:
            field.send(f"hp-kpps-{n}", scans)
            continue
        field.send("hp-kpps-6", scans, seqs=[1, 2])
        # Scan 5 arrives first: a bundle counted 15 of 20; scans 3 and 4 come later.
        b1, b2, b3 = wal_bundles[tps][:3]
        field.send(
            "hp-kpps-6",
            [
                field.scan(
                    b1, "terima", tps, at + timedelta(minutes=30), quantity=15, name="miscount"
                )
            ],
            seqs=[5],
        )
        field.send(
            "hp-kpps-6",
            [
                field.scan(b2, "terima", tps, at + timedelta(minutes=10), quantity=b2.quantity),
                field.scan(b3, "terima", tps, at + timedelta(minutes=20), quantity=b3.quantity),
            ],
            seqs=[3, 4],
            upload=field.clock + timedelta(minutes=30),
        )
        field.send(
            "hp-kpps-6",
            [
                field.scan(
                    b1,
                    "koreksi",
                    tps,
                    at + timedelta(minutes=40),
                    quantity=b1.quantity,
                    ref_event_id=field.ids["miscount"],
                )
            ],
            seqs=[6],
            upload=field.clock + timedelta(minutes=30),
        )
    # TPS 004 and 005 leave the PPS on H-1.
    field.send(
        "hp-pps",
        [
            field.scan(
                kit_of(items[TPS[n]]), "kirim", pps, D_KPPS - timedelta(hours=4), target=TPS[n]
            )
            for n in (4, 5)
        ],
    )
    # TPS 004: received 2 h before the deadline on a phone 3 h fast, uploaded late.
    its = items[TPS[4]]
    field.send(
        "hp-kpps-4",
        [
            field.scan(kit_of(its), "terima", TPS[4], D_KPPS - timedelta(hours=2)),
            field.scan(
                kit_of(its),
                "buka",
                TPS[4],
                D_KPPS - timedelta(hours=2) + timedelta(minutes=5),
                counts=counts_of(its),
            ),
        ],
        upload=D_KPPS + timedelta(minutes=30),
        error=timedelta(hours=3),
    )
    # TPS 005: received 1 h after the deadline on a phone 7 h slow.
    its = items[TPS[5]]
    field.send(
        "hp-kpps-5",
        [
            field.scan(kit_of(its), "terima", TPS[5], D_KPPS + timedelta(hours=1), name="late"),
            field.scan(
                kit_of(its),
                "buka",
                TPS[5],
                D_KPPS + timedelta(hours=1, minutes=5),
                counts=counts_of(its),
            ),
        ],
        upload=D_KPPS + timedelta(hours=1, minutes=20),
        error=-timedelta(hours=7),
    )


def label(field: Field, item: Item) -> str:
    return label_text(item, field.signer)


def open_findings(election: Any) -> list[tuple[str, str, str, str]]:
    """(code, principle, severity, place) of every open finding: stored and live as of NOW."""
    session = db.session
    found = [
        (f.code, f.principle, f.severity, f.node or f.tps or f.region_code)
        for f in session.scalars(select(FindingRow).where(FindingRow.status == "open"))
    ]
    book = recomputed(election)
    live = rules.check_all_quantities(book.plan, book.tallies, NOW) + rules.check_deadlines(
        book.plan, book.items, book.states, NOW
    )
    found += [(str(f.code), str(f.principle), str(f.severity), f.node or f.tps or "") for f in live]
    return sorted(found)


class Recomputed:
    def __init__(self, plan: rules.Plan, items: dict[str, rules.Item], result: Any) -> None:
        self.plan, self.items = plan, items
        self.states, self.tallies, self.findings = result.states, result.tallies, result.findings


def recomputed(election: Any) -> Recomputed:
    """Fold the whole stored log from scratch."""
    session = db.session
    plan = build_plan(session, election, KOTA)
    items = {
        i.serial: to_rules_item(i)
        for i in session.scalars(select(Item).where(Item.kabkota_code == KOTA))
    }
    events = [ledger.rules_event(e) for e in session.scalars(select(CustodyEvent))]
    return Recomputed(plan, items, rules.recompute(plan, items.values(), events, NOW))


def test_every_planted_fault_is_found_with_its_principle_and_place(kupang: dict[str, Any]) -> None:
    findings = open_findings(kupang["election"])
    two_bundles_overdue = [("overdue", "waktu", "critical", ALAK)] * 2
    expected = sorted(
        [
            # TPS 002: the kit left short; the two bundles never left the gudang.
            ("packed_short", "jumlah", "critical", KOTA),
            *two_bundles_overdue,
            # TPS 003: counted short on opening, and after H-1 20.00 short at the TPS.
            ("contents_short", "jumlah", "critical", TPS[3]),
            ("shortage", "jumlah", "critical", TPS[3]),
            # TPS 004: the copy of a label, placed where the copy was seen.
            ("cloned_label", "akuntabilitas", "critical", MAULAFA),
            ("off_route", "sasaran", "warning", MAULAFA),
            ("clock_skew", "waktu", "info", TPS[4]),
            # TPS 005: late, once, for the kit and all inside it.
            ("late", "waktu", "critical", TPS[5]),
            ("clock_skew", "waktu", "info", TPS[5]),
            # TPS 006: a forgotten dispatch; the batal and koreksi leave their trace only.
            ("dispatch_not_recorded", "akuntabilitas", "warning", NAMOSAIN),
            ("scan_voided", "akuntabilitas", "info", NAMOSAIN),
            ("scan_corrected", "akuntabilitas", "info", TPS[6]),
            # Maulafa: nothing printed yet, said once; nor the KPU's re-voting (PSU) reserve.
            ("not_issued", "jumlah", "info", MAULAFA),
            ("not_issued", "jumlah", "info", KOTA),
        ]
    )
    assert findings == expected, "\n".join(map(str, findings))


def test_resolved_findings_name_the_event_that_resolved_them(kupang: dict[str, Any]) -> None:
    field: Field = kupang["field"]
    resolved = {
        f.code: f
        for f in db.session.scalars(select(FindingRow).where(FindingRow.status == "resolved"))
    }
    assert set(resolved) == {"damaged", "count_mismatch", "device_seq_gap"}
    assert resolved["damaged"].severity == "critical"
    batal = db.session.scalar(select(CustodyEvent.event_id).where(CustodyEvent.action == "batal"))
    assert resolved["damaged"].resolved_by == str(batal)
    koreksi = db.session.scalar(
        select(CustodyEvent.event_id).where(CustodyEvent.action == "koreksi")
    )
    assert resolved["count_mismatch"].resolved_by == str(koreksi)
    assert resolved["device_seq_gap"].detail["missing_from"] == 3
    assert field.ids["miscount"] in resolved["count_mismatch"].event_ids


def test_the_late_kit_is_late_in_corrected_time_and_the_fast_phone_is_not(
    kupang: dict[str, Any],
) -> None:
    field: Field = kupang["field"]
    late = db.session.scalars(select(FindingRow).where(FindingRow.code == "late")).all()
    assert len(late) == 1 and late[0].event_ids == [field.ids["late"]]
    assert late[0].detail["late_minutes"] == 60
    assert "26-11-2024 21.00 WITA" in late[0].message  # the true time, not the phone's 14.00


def test_clone_uploaded_first_leaves_custody_on_the_route(kupang: dict[str, Any]) -> None:
    items = kupang["items"][TPS[4]]
    box = next(i for i in items if i.item_type_code == "KOTAK" and i.race_kind == "WAL")
    state = codec.state_from_dict(db.session.get(ItemStateRow, box.serial).state)
    assert state.holder == TPS[4] and state.confirmed_at is not None
    clone = db.session.scalar(select(FindingRow).where(FindingRow.code == "cloned_label"))
    assert clone.region_code == MAULAFA and clone.detail["seen_at"] == MAULAFA


def test_statuses_per_area_separate_not_issued_confirmed_and_missing(
    kupang: dict[str, Any],
) -> None:
    counts = queries.status_counts(db.session, kupang["election"], KOTA, NOW)
    # Maulafa's three TPS, its PPK's spare boxes and the gudang's re-voting reserve.
    assert counts["not_issued"] == 5
    assert counts["at_gudang"] == 2  # TPS 002's unpacked bundles
    assert counts["missing"] == 2  # TPS 003's vanished bundles
    assert counts["in_transit"] == 0 and counts["delivered_unconfirmed"] == 0
    total = sum(len(v) for v in kupang["items"].values()) + 2  # + the PPK's two spares
    assert counts["confirmed"] == total - 4
    tps3 = queries.status_counts(db.session, kupang["election"], TPS[3], NOW)
    assert tps3["missing"] == 2 and tps3["not_issued"] == 0


def test_incremental_state_equals_a_recomputation_of_the_log(kupang: dict[str, Any]) -> None:
    book = recomputed(kupang["election"])
    stored = {
        r.serial: codec.state_from_dict(r.state) for r in db.session.scalars(select(ItemStateRow))
    }
    assert {s: st for s, st in stored.items()} == {s: book.states[s] for s in stored}
