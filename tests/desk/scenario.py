"""A small Gunung Mas distribution for the desk and courier tests (a second, not 30).

Two TPS of Kelurahan Tewah (kecamatan Tewah) get a kit and two ballot boxes each:

* TPS 001: the boxes are packed in the kit at the gudang and the kit travels the whole
  route, but reaches PPS Tewah 40 minutes past the PPK -> PPS deadline (one late scan:
  three findings, the kit and the two boxes inside);
* TPS 003: nothing has left the gudang, past the gudang -> PPK deadline (overdue).

The server stands on H-1, 15:00 WIB (``NOW``). The wrong-TPS scan the issue describes is
left to the tests: a box of TPS 003 received at TPS 001 (``Scenario.misdelivered``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth
from app.custody import ledger
from app.custody.planview import build_plan
from app.custody.service import Ingestor
from app.items import keys
from app.items.models import Item
from app.items.service import issue_items, label_text
from app.plan import codes
from app.plan.service import get_election

NOW = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)  # H-1, 15:00 WIB
TPS_A = "6210031005001"  # TPS 001 Kelurahan Tewah
TPS_B = "6210031005003"  # TPS 003 Kelurahan Tewah
ELECTION = "pilkada-2024"


@dataclass
class Scenario:
    """What was issued and played, for the tests to look up."""

    signer: Any
    keyring: Any
    items: dict[str, list[Item]]
    late_event: str  # the scan that brought TPS 001's kit to PPS Tewah too late

    def first(self, tps: str, item_type: str, race: str = "") -> Item:
        """The first item of a type (and race) for a TPS."""
        return next(
            i
            for i in self.items[tps]
            if i.item_type_code == item_type and (not race or i.race_kind == race)
        )

    @property
    def misdelivered(self) -> Item:
        """TPS 003's regent ballot box: the one a courier receives at TPS 001."""
        return self.first(TPS_B, "KOTAK", "BUP")

    def label(self, item: Item) -> str:
        """The QR text printed on an item's label."""
        return label_text(item, self.signer)


def build(session: Session, key_dir: str) -> Scenario:
    """Issue the labels and play the scans (the demo must be loaded)."""
    keys.create_key(key_dir, date(2024, 11, 1))
    signer, keyring = keys.load_signer(key_dir), keys.load_keyring(key_dir)
    election = get_election(session, ELECTION)
    items = {}
    for tps in (TPS_A, TPS_B):
        issue_items(session, ELECTION, tps, ["KIT", "KOTAK"], signer, None)
        items[tps] = list(
            session.scalars(
                select(Item)
                .where(Item.destination == tps)
                .order_by(Item.item_type_code, Item.race_kind)
            )
        )
    scenario = Scenario(signer, keyring, items, late_event="")
    gudang, ppk, pps, tps = codes.route(TPS_A)
    plan = build_plan(session, election, "62.10")
    late = plan.deadline(ppk, pps) + timedelta(minutes=40)  # type: ignore[operator]
    kit = scenario.first(TPS_A, "KIT")
    boxes = [i for i in items[TPS_A] if i.item_type_code == "KOTAK"]
    warehouse = [
        (
            box,
            "kemas",
            gudang,
            datetime(2024, 11, 24, 3, 0, tzinfo=UTC),
            {"container": scenario.label(kit)},
        )
        for box in boxes
    ]
    warehouse.append(
        (kit, "kirim", gudang, datetime(2024, 11, 25, 0, 0, tzinfo=UTC), {"target": ppk})
    )
    journey = [
        (
            kit,
            "terima",
            ppk,
            datetime(2024, 11, 25, 4, 0, tzinfo=UTC),
            {"quantity": 1, "condition": "baik", "counterpart": "Ketua PPK Tewah"},
        ),
        (kit, "kirim", ppk, datetime(2024, 11, 26, 5, 0, tzinfo=UTC), {"target": pps}),
        (kit, "terima", pps, late, {"quantity": 1, "condition": "baik"}),
        (kit, "kirim", pps, late + timedelta(minutes=10), {"target": tps}),
        (
            kit,
            "terima",
            tps,
            late + timedelta(minutes=15),
            {"quantity": 1, "condition": "baik", "counterpart": "Ketua KPPS 001"},
        ),
    ]
    _play(session, keyring, election, "gudang", warehouse)
    ids = _play(session, keyring, election, "kurir.tewah", journey)
    scenario.late_event = ids[2]
    ledger.integrate(session, key_dir, "tepat.test/log")  # so the timeline links proofs
    return scenario


def _play(
    session: Session,
    keyring: Any,
    election: Any,
    username: str,
    scans: list[tuple[Item, str, str, datetime, dict[str, Any]]],
) -> list[str]:
    """Ingest scans as one user's device, each uploaded a minute after it was made."""
    user = auth.find_user(session, username)
    ids = []
    for seq, (item, action, node, at, extra) in enumerate(scans, start=1):
        event = {
            "event_id": str(uuid.uuid4()),
            "device_seq": seq,
            "device_time": at.isoformat(),
            "serial": item.serial,
            "action": action,
            "node": node,
            **extra,
        }
        uploaded = at + timedelta(minutes=1)
        ingestor = Ingestor(
            session,
            user=user,
            token=None,
            device_id=f"hp-{username}",
            keyring=keyring,
            now=lambda moment=uploaded: moment,
            election=election,
        )
        (result,) = ingestor.ingest([event])
        assert result.status == "accepted", result.to_dict()
        ids.append(event["event_id"])
    return ids


def qr_png(text: str) -> bytes:
    """A photo-like PNG of a label's QR code (as a courier's phone would send it)."""
    import io

    import qrcode

    image = qrcode.make(text, box_size=8, border=4)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
