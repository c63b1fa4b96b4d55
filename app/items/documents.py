"""Map database rows to what the ``labels`` writers print: label sheets, kit manifests, BAST.

The writers know nothing of the database; this module looks up the words people read
(region names, item type names, race names and marker colours, the plan of a leg) and
fills the library's frozen dataclasses.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody.models import CustodyEvent
from app.errors import NotFound
from app.items.models import Item
from app.items.service import label_text
from app.plan import codes
from app.plan.models import (
    CustodyNode,
    Election,
    ItemType,
    NodeKind,
    PlanLine,
    Region,
    RouteLeg,
    Tps,
)
from app.plan.service import region_names
from app.timeutil import ZONE_LABELS, h_label, zone_for_region
from labels.documents import Zone

#: How each counting unit is written after a quantity ("20 lembar", "1 buah").
UNIT_WORDS = {"unit": "buah", "lembar": "lembar", "botol": "botol", "set": "set"}
KIT = "KIT"
#: Conditions as a BAST writes them.
CONDITION_WORDS = {
    "baik": "Baik",
    "rusak_ringan": "Rusak Ringan",
    "rusak_berat": "Rusak Berat",
    "basah": "Basah",
}
#: What travels back up the chain after counting: sealed boxes and the result forms.
RETURN_TYPES = ("KOTAK", "FORMHSL", "FORMSAL")


def thousands(number: int) -> str:
    """Write a number the Indonesian way: 91.882."""
    return f"{number:,}".replace(",", ".")


class Catalogue:
    """Names of regions, item types and races, loaded once per kabupaten and reused."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.types = {t.code: t for t in session.scalars(select(ItemType))}
        self._names: dict[str, str] = {}
        self._loaded: set[str] = set()

    def region(self, code: str) -> str:
        """The name of a region code (kabupaten names as stored: 'Kabupaten Gunung Mas')."""
        kab = ".".join(code.split(".")[:2])
        if kab not in self._loaded:
            self._loaded.add(kab)
            self._names.update(region_names(self.session, kab))
            province = self.session.get(Region, kab[:2])
            if province is not None:
                self._names[province.code] = province.name
        return self._names.get(code, "")

    def type_name(self, code: str) -> str:
        """The Indonesian name of an item type ('Surat suara')."""
        item_type = self.types.get(code)
        return item_type.name_id if item_type is not None else code.title()

    def unit_word(self, code: str) -> str:
        """The word a quantity of this item type is counted in."""
        if code == KIT:
            return "paket"
        item_type = self.types.get(code)
        return UNIT_WORDS.get(item_type.unit.value if item_type else "unit", "buah")

    def quantity_text(self, code: str, quantity: int) -> str:
        """'20 lembar', '1 buah', '9.588 lembar'."""
        return f"{thousands(quantity)} {self.unit_word(code)}"

    def shows_quantity(self, item: Item) -> bool:
        """Bundles and multi-unit items print their content; a single box does not need it."""
        item_type = self.types.get(item.item_type_code)
        return item.quantity != 1 or (item_type is not None and item_type.bundle_size > 1)

    def place(self, destination: str) -> dict[str, str | None]:
        """The route names printed on a label: TPS number, desa, kecamatan, kab/kota, provinsi."""
        region = codes.node_region(destination)
        parts = region.split(".")
        names: dict[str, str | None] = {
            "tps_number": destination[-3:] if codes.TPS_ID.match(destination) else None,
            "desa": "",
            "kecamatan": "",
            "kabupaten": "",
            "provinsi": self.region(parts[0]),
        }
        self.region(region)  # loads the kabupaten's names
        for depth, key in ((2, "kabupaten"), (3, "kecamatan"), (4, "desa")):
            if len(parts) >= depth:
                names[key] = self.region(".".join(parts[:depth]))
        return names


def race_name(race: str) -> str | None:
    """The short race name printed on labels and forms ('Gubernur'), or None."""
    marker = labels.RACE_MARKERS.get(race) if race else None
    return marker.name if marker else (race or None)


def sheet_item(
    catalogue: Catalogue, item: Item, signer: labels.Signer, base_url: str | None = None
) -> labels.LabelSheetItem:
    """One label: the signed QR text and everything the KPU box sticker carries."""
    marker = labels.RACE_MARKERS.get(item.race_kind) if item.race_kind else None
    place = catalogue.place(item.destination)
    kabupaten = place["kabupaten"] or ""
    if kabupaten.startswith("Kabupaten "):  # as KPU stickers write it: "Kab. Gunung Mas"
        kabupaten = "Kab. " + kabupaten.removeprefix("Kabupaten ")
    return labels.LabelSheetItem(
        qr_text=label_text(item, signer, base_url),
        serial=labels.format_serial(item.serial),
        item_type_name=catalogue.type_name(item.item_type_code),
        destination_code=item.destination,
        quantity_text=(
            catalogue.quantity_text(item.item_type_code, item.quantity)
            if catalogue.shows_quantity(item)
            else ""
        ),
        race_name=marker.name if marker else None,
        race_colour=marker.colour if marker else None,
        tps_number=place["tps_number"],
        desa=place["desa"] or "",
        kecamatan=place["kecamatan"] or "",
        kabupaten=kabupaten,
        provinsi=place["provinsi"] or "",
    )


def sheet_items(
    session: Session, items: Iterable[Item], signer: labels.Signer, base_url: str | None = None
) -> Iterator[labels.LabelSheetItem]:
    """Labels for items, one at a time (a kabupaten is thousands: never all in memory twice)."""
    catalogue = Catalogue(session)
    for item in items:
        yield sheet_item(catalogue, item, signer, base_url)


def kit_of(session: Session, tps_id: str) -> Item:
    """The valid kit item of a TPS (the newest, if a voided kit label was replaced)."""
    kit = session.scalar(
        select(Item)
        .where(Item.destination == tps_id, Item.item_type_code == KIT, Item.voided_at.is_(None))
        .order_by(Item.issued_at.desc(), Item.serial)
    )
    if kit is None:
        raise NotFound(f"Label paket (KIT) TPS {tps_id} belum diterbitkan.")
    return kit


def kit_contents(session: Session, tps_id: str) -> list[Item]:
    """Every valid item destined for a TPS except its kit, in packing order."""
    catalogue_order = {t.code: (t.sort_order, t.code) for t in session.scalars(select(ItemType))}
    items = session.scalars(
        select(Item).where(
            Item.destination == tps_id, Item.item_type_code != KIT, Item.voided_at.is_(None)
        )
    )
    return sorted(
        items,
        key=lambda i: (
            catalogue_order.get(i.item_type_code, (99, "")),
            i.race_kind,
            -i.quantity,
            i.serial,
        ),
    )


def kit_manifest(
    session: Session, election: Election, tps_id: str, signer: labels.Signer
) -> labels.KitManifest:
    """The packing list of one TPS kit: every item with its serial, and the kit's own QR."""
    if session.get(Tps, tps_id) is None:
        raise NotFound(f"TPS {tps_id} tidak ditemukan.")
    kit = kit_of(session, tps_id)
    catalogue = Catalogue(session)
    place = catalogue.place(tps_id)
    lines = tuple(
        labels.KitLine(
            item_type_name=catalogue.type_name(item.item_type_code),
            serial=labels.format_serial(item.serial),
            quantity_text=catalogue.quantity_text(item.item_type_code, item.quantity),
            race_name=race_name(item.race_kind),
        )
        for item in kit_contents(session, tps_id)
    )
    return labels.KitManifest(
        qr_text=label_text(kit, signer),
        serial=labels.format_serial(kit.serial),
        tps_number=place["tps_number"] or "",
        desa=place["desa"] or "",
        kecamatan=place["kecamatan"] or "",
        kabupaten=place["kabupaten"] or "",
        provinsi=place["provinsi"] or "",
        destination_code=tps_id,
        lines=lines,
        election_name=election.name,
    )


def get_leg(session: Session, election: Election, from_node: str, to_node: str) -> RouteLeg:
    """A leg of the plan by its two nodes, or NotFound."""
    leg = session.scalar(
        select(RouteLeg).where(
            RouteLeg.election_code == election.code,
            RouteLeg.from_node == from_node,
            RouteLeg.to_node == to_node,
        )
    )
    if leg is None:
        raise NotFound(f"Tidak ada rute {from_node} ke {to_node} dalam rencana.")
    return leg


def leg_lines(session: Session, election: Election, leg: RouteLeg) -> list[tuple[str, str, int]]:
    """What the plan sends over a leg: (item type, race, quantity), in the plan's order.

    A forward leg carries everything planned at or below its receiver; a return leg
    carries the sealed boxes and result forms of everything below its sender.
    """
    lower = leg.from_node if leg.is_return else leg.to_node
    kab = codes.kabkota_of(lower)
    totals: dict[tuple[str, str], int] = defaultdict(int)
    for line in session.scalars(
        select(PlanLine).where(
            PlanLine.election_code == election.code, PlanLine.kabkota_code == kab
        )
    ):
        if not codes.within(line.destination, lower):
            continue
        if leg.is_return and line.item_type_code not in RETURN_TYPES:
            continue
        totals[(line.item_type_code, line.race_kind)] += line.quantity
    order = {t.code: (t.sort_order, t.code) for t in session.scalars(select(ItemType))}
    return [
        (code, race, quantity)
        for (code, race), quantity in sorted(
            totals.items(), key=lambda kv: (order.get(kv[0][0], (99, "")), kv[0][1])
        )
    ]


def occurred(event: CustodyEvent) -> datetime:
    """When a scan happened: the device's time less its known clock lead, never after receipt."""
    lead = timedelta(seconds=event.clock_offset_s or 0)
    return min(event.device_time - lead, event.server_time)


@dataclass
class RecordedHandover:
    """What the custody log holds of one leg: the dispatch and receipt scans and their items."""

    dispatched: list[CustodyEvent] = field(default_factory=list)
    received: list[CustodyEvent] = field(default_factory=list)
    #: Every valid item the receipt covered, kits' contents included, by serial.
    items: dict[str, Item] = field(default_factory=dict)
    #: Voided items that rode along in a received kit (reported, not counted).
    voided: list[Item] = field(default_factory=list)
    people: dict[uuid.UUID, str] = field(default_factory=dict)

    @property
    def handed_over_at(self) -> datetime | None:
        """When the receiver's first scan happened (device clock, as the rules read it)."""
        return min((occurred(e) for e in self.received), default=None)

    def person(self, events: list[CustodyEvent]) -> str:
        """The person who made most of these scans, by name."""
        counts = Counter(e.user_id for e in events)
        return self.people.get(counts.most_common(1)[0][0], "") if counts else ""


def recorded_handover(session: Session, leg: RouteLeg) -> RecordedHandover:
    """Load the kirim scans of a leg and the terima scans of what they sent, with contents."""
    kab = codes.kabkota_of(leg.from_node)  # both ends lie in one kabupaten
    dispatched = list(
        session.scalars(
            select(CustodyEvent)
            .where(
                CustodyEvent.kabkota_code == kab,
                CustodyEvent.node == leg.from_node,
                CustodyEvent.action.in_(("kirim", "kembali")),
                (CustodyEvent.target == leg.to_node) | CustodyEvent.target.is_(None),
            )
            .order_by(CustodyEvent.server_time)
        )
    )
    sent = {e.serial for e in dispatched}
    received = [
        e
        for e in session.scalars(
            select(CustodyEvent)
            .where(
                CustodyEvent.kabkota_code == kab,
                CustodyEvent.node == leg.to_node,
                CustodyEvent.action == "terima",
            )
            .order_by(CustodyEvent.server_time)
        )
        if e.serial in sent
    ]
    got = {e.serial for e in received}
    dispatched = [e for e in dispatched if e.target == leg.to_node or e.serial in got]
    # Contents: what was packed (kemas) into a received container, transitively.
    serials, frontier = set(got), set(got)
    while frontier:
        inner = set(
            session.scalars(
                select(CustodyEvent.serial).where(
                    CustodyEvent.kabkota_code == kab,
                    CustodyEvent.action == "kemas",
                    CustodyEvent.container.in_(frontier),
                )
            )
        )
        frontier = inner - serials
        serials |= frontier
    record = RecordedHandover(dispatched, received)
    for item in session.scalars(select(Item).where(Item.serial.in_(serials))):
        if item.voided_at is None:
            record.items[item.serial] = item
        else:
            record.voided.append(item)
    users = {e.user_id for e in dispatched + received}
    if users:
        record.people = {
            user.id: user.full_name or user.username
            for user in session.scalars(select(User).where(User.id.in_(users)))
        }
    return record


def handover_link(base_url: str, from_node: str, to_node: str) -> str | None:
    """The QR text of a BAST: an https link to the recorded handover, or None when the base
    URL has characters a QR alphanumeric symbol cannot hold (the form prints without it)."""
    link = f"{base_url.rstrip('/')}/BAST/{from_node}/{to_node}".upper()
    return link if set(link) <= set(labels.qr.ALPHANUMERIC) and " " not in link else None


def handover_form(
    session: Session,
    election: Election,
    from_node: str,
    to_node: str,
    base_url: str | None = None,
) -> labels.HandoverForm:
    """The berita acara serah terima of one leg: the plan, and what the log recorded of it."""
    leg = get_leg(session, election, from_node, to_node)
    sender = session.get(CustodyNode, from_node)
    receiver = session.get(CustodyNode, to_node)
    if sender is None or receiver is None:
        raise NotFound("Simpul distribusi tidak ditemukan.")
    catalogue = Catalogue(session)
    lines = leg_lines(session, election, leg)
    record = recorded_handover(session, leg)
    received: Counter[tuple[str, str]] = Counter()
    seals: dict[tuple[str, str], set[str]] = defaultdict(set)
    conditions: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for item in record.items.values():
        received[(item.item_type_code, item.race_kind)] += item.quantity
    for event in record.received:
        item = record.items.get(event.serial)
        if item is None:
            continue
        key = (item.item_type_code, item.race_kind)
        seals[key].update(event.seals or ())
        if event.condition:
            conditions[key][event.condition] += 1
    recorded = bool(record.received)
    rows = tuple(
        labels.HandoverLine(
            item_type_name=catalogue.type_name(code),
            planned_quantity=catalogue.quantity_text(code, quantity),
            race_name=race_name(race),
            received_quantity=(
                catalogue.quantity_text(code, received[(code, race)]) if recorded else ""
            ),
            condition=", ".join(
                CONDITION_WORDS.get(c, c) for c in sorted(conditions[(code, race)])
            ),
            seals=", ".join(sorted(seals[(code, race)])),
        )
        for code, race, quantity in lines
    )
    zone = cast(Zone, ZONE_LABELS[zone_for_region(from_node)])
    deadline = labels.format_local_time(leg.deadline_at, zone)
    notes = [f"Batas waktu serah terima: {deadline} ({h_label(leg.day_offset)})."]
    if recorded:
        last = max(occurred(e) for e in record.received)
        notes.append(
            f"Tercatat di Tepat: {len(record.dispatched)} pemindaian kirim dan "
            f"{len(record.received)} pemindaian terima, sampai "
            f"{labels.format_local_time(last, zone)}; {len(record.items)} label berlaku."
        )
    if record.voided:
        notes.append(
            "Label yang sudah dibatalkan ikut terbawa dan tidak dihitung: "
            + ", ".join(labels.format_serial(i.serial) for i in record.voided)
            + "."
        )
    kits = sum(quantity for code, _, quantity in lines if code == KIT)
    if kits:
        notes.append(
            f"Diserahkan {thousands(kits)} paket logistik TPS; daftar kelengkapan "
            "setiap paket ada di dalam paket."
        )
    place = receiver.name
    if receiver.kind in (NodeKind.PPK, NodeKind.PPS):
        place = f"Sekretariat {receiver.name}"
    return labels.HandoverForm(
        document_number=f"BAST/{election.election_day.year}/{from_node}/{to_node}",
        sender=labels.CustodyParty(sender.name, sender.code, record.person(record.dispatched)),
        receiver=labels.CustodyParty(receiver.name, receiver.code, record.person(record.received)),
        handed_over_at=record.handed_over_at,
        place=place,
        lines=rows,
        election_name=election.name,
        zone=zone,
        notes=tuple(notes),
        qr_text=handover_link(base_url, from_node, to_node) if base_url else None,
    )
