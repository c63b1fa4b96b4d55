"""Packing TPS kits at the warehouse, and the day's dispatch list per leg.

Packing is a scan like any other: each item is sent to the scan ingestion as a ``kemas``
event into the kit, so the hash-chained log, the custody state and the enam-tepat
findings all see it. The kit's planned contents are every valid item destined for its
TPS; an item is ticked off when its custody state says it sits in the kit.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody.models import Device, ItemStateRow
from app.custody.service import Ingestor, Rejected, serial_from_label
from app.errors import Conflict, ValidationFailed
from app.items.documents import KIT, Catalogue, kit_contents, race_name
from app.items.models import Item
from app.items.service import find_item, get_item, plan_issue
from app.plan import codes
from app.plan.models import CustodyNode, Election, RouteLeg, Tps
from app.timeutil import zone_for_region

#: Plain Indonesian for the scan ingestion's rejection codes, said to a packer.
REJECTIONS = {
    "voided_label": "Label ini sudah dibatalkan dan tidak berlaku. Jangan dikemas; "
    "minta label pengganti.",
    "unknown_label": "Label ini tidak pernah diterbitkan oleh KPU. Sisihkan barangnya.",
    "bad_signature": "Tanda tangan label tidak sah: label palsu atau rusak. Sisihkan barangnya "
    "dan laporkan.",
    "malformed": "Label tidak terbaca sebagai label Tepat. Pindai ulang atau ketik nomor serinya.",
}


@dataclass
class KitLine:
    """One item of a kit as the packing page shows it."""

    serial: str
    display: str
    type_name: str
    race: str | None
    quantity_text: str
    packed: bool
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON for the packing page's script."""
        return {
            "serial": self.serial,
            "display": self.display,
            "type_name": self.type_name,
            "race": self.race,
            "quantity": self.quantity_text,
            "packed": self.packed,
            "note": self.note,
        }


@dataclass
class KitStatus:
    """A kit, its planned contents ticked off, and what does not belong in it."""

    kit: Item
    name: str
    lines: list[KitLine]
    extra: list[KitLine] = field(default_factory=list)
    unissued: list[str] = field(default_factory=list)
    dispatched: bool = False

    @property
    def display(self) -> str:
        """The kit's serial for people."""
        return labels.format_serial(self.kit.serial)

    @property
    def packed(self) -> int:
        """Planned items already in the kit."""
        return sum(line.packed for line in self.lines)

    @property
    def complete(self) -> bool:
        """Every planned item is in, nothing else is, and every planned label was issued."""
        return self.packed == len(self.lines) and not self.extra and not self.unissued

    def to_dict(self) -> dict[str, Any]:
        """JSON for the packing page's script."""
        return {
            "serial": self.kit.serial,
            "display": self.display,
            "tps": self.kit.destination,
            "name": self.name,
            "packed": self.packed,
            "total": len(self.lines),
            "complete": self.complete,
            "dispatched": self.dispatched,
            "lines": [ln.to_dict() for ln in self.lines],
            "extra": [ln.to_dict() for ln in self.extra],
            "unissued": self.unissued,
        }


@dataclass
class PackOutcome:
    """What happened to one scan on the packing page."""

    status: str  # accepted, duplicate, already, rejected, refused
    message: str
    kit: KitStatus
    problems: list[str] = field(default_factory=list)
    serial: str | None = None
    wrong_kit: bool = False  # the item belongs in another TPS's kit

    @property
    def severity(self) -> str:
        """How the page says it: ok, warning (recorded, but look) or critical (take it out)."""
        if self.status in ("rejected", "refused", "conflict") or self.wrong_kit:
            return "critical"
        return "warning" if self.problems else "ok"

    def to_dict(self) -> dict[str, Any]:
        """JSON for the packing page's script."""
        return {
            "status": self.status,
            "severity": self.severity,
            "message": self.message,
            "problems": self.problems,
            "serial": labels.format_serial(self.serial) if self.serial else None,
            "kit": self.kit.to_dict(),
        }


def _line(catalogue: Catalogue, item: Item, packed: bool, note: str = "") -> KitLine:
    return KitLine(
        item.serial,
        labels.format_serial(item.serial),
        catalogue.type_name(item.item_type_code),
        race_name(item.race_kind),
        catalogue.quantity_text(item.item_type_code, item.quantity),
        packed,
        note,
    )


def node_name(session: Session, code: str) -> str:
    """The custody node's name ('PPK Kurun', 'TPS 001 Kuala Kurun'), or the code."""
    node = session.get(CustodyNode, code)
    return node.name if node is not None else code


def _is_dispatched(state: ItemStateRow | None, gudang: str) -> bool:
    return state is not None and (
        state.transit_to is not None or state.holder not in (None, gudang)
    )


def resolve_kit(session: Session, text: str, keyring: labels.Keyring | None) -> Item:
    """A kit by its scanned label or typed serial; anything else is refused, plainly."""
    if not text.strip():
        raise ValidationFailed("Pindai label paket (KIT) terlebih dahulu.")
    item = find_item(session, text, keyring)
    if item.item_type_code != KIT:
        raise ValidationFailed(
            "Ini bukan label paket TPS (KIT). Pindai label paket terlebih dahulu, lalu isinya."
        )
    if item.voided_at is not None:
        raise Conflict("Label paket ini sudah dibatalkan; pakai label paket penggantinya.")
    return item


def kit_status(session: Session, election: Election, kit: Item) -> KitStatus:
    """The kit's planned contents, which of them are in, and what is in it by mistake."""
    catalogue = Catalogue(session)
    contents = kit_contents(session, kit.destination)
    inside = set(
        session.scalars(select(ItemStateRow.serial).where(ItemStateRow.container == kit.serial))
    )
    planned = {item.serial for item in contents}
    lines = [_line(catalogue, item, item.serial in inside) for item in contents]
    extra = []
    for item in session.scalars(select(Item).where(Item.serial.in_(inside - planned))):
        extra.append(_line(catalogue, item, True, f"untuk {node_name(session, item.destination)}"))
    missing: Counter[tuple[str, str]] = Counter(
        (line.item_type_code, line.race_kind)
        for line, _ in plan_issue(session, election.code, kit.destination, None).missing
        if line.item_type_code != KIT
    )
    unissued = [
        f"{catalogue.type_name(code)}{f' ({race_name(race)})' if race else ''}: "
        f"{count} label belum terbit"
        for (code, race), count in sorted(missing.items())
    ]
    state = session.get(ItemStateRow, kit.serial)
    return KitStatus(
        kit,
        node_name(session, kit.destination),
        lines,
        extra,
        unissued,
        _is_dispatched(state, codes.kabkota_of(kit.destination)),
    )


def _next_device_seq(session: Session, device_id: str) -> int:
    # Every row of that device id (whatever owns it), so the number is never reused.
    latest = session.scalar(select(func.max(Device.max_seq)).where(Device.device_id == device_id))
    return (latest or 0) + 1


def pack(
    session: Session,
    election: Election,
    *,
    user: User,
    kit_serial: str,
    scanned: str,
    keyring: labels.Keyring,
    now: Callable[[], datetime],
    event_id: str | None = None,
) -> PackOutcome:
    """Record one item going into a kit (a ``kemas`` scan) and return the kit's new status."""
    kit = get_item(session, kit_serial)
    if kit.item_type_code != KIT:
        raise ValidationFailed("Ini bukan label paket TPS (KIT).")
    if kit.voided_at is not None:
        raise Conflict("Label paket ini sudah dibatalkan; pakai label paket penggantinya.")
    text = scanned.strip()
    if not text:
        raise ValidationFailed("Pindai label barang yang dimasukkan ke paket.")

    def refused(status: str, message: str, serial: str | None = None) -> PackOutcome:
        return PackOutcome(status, message, kit_status(session, election, kit), [message], serial)

    typed = labels.is_serial(text)
    try:
        serial = serial_from_label(text, keyring, verified=not typed)
    except Rejected as exc:
        return refused("rejected", REJECTIONS.get(exc.code, exc.message))
    item = session.get(Item, serial)
    if item is None:
        return refused("rejected", REJECTIONS["unknown_label"], serial)
    if item.serial == kit.serial:
        return refused("refused", "Ini label paket itu sendiri; pindai barang isinya.", serial)
    if item.item_type_code == KIT:
        return refused(
            "refused",
            f"Ini label paket lain ({node_name(session, item.destination)})"
            ". Untuk mengemas paket itu, pindai labelnya di kolom paket.",
            serial,
        )
    state = session.get(ItemStateRow, serial)
    if state is not None and state.container == kit.serial:
        return PackOutcome(
            "already",
            "Sudah tercatat di paket ini.",
            kit_status(session, election, kit),
            [],
            serial,
        )
    gudang = codes.kabkota_of(kit.destination)
    kit_state = session.get(ItemStateRow, kit.serial)
    if _is_dispatched(kit_state, gudang):
        raise Conflict("Paket ini sudah dikirim dari gudang; isinya tidak dapat ditambah.")
    device_id = f"web-{user.id}"
    event: dict[str, Any] = {
        "event_id": event_id or str(uuid.uuid4()),
        "device_seq": _next_device_seq(session, device_id),
        "device_time": now().isoformat(),
        "action": "kemas",
        "node": kit_state.holder if kit_state is not None and kit_state.holder else gudang,
        "container": kit.serial,
        ("serial" if typed else "label"): text,
    }
    result = Ingestor(
        session,
        user=user,
        token=None,
        device_id=device_id,
        keyring=keyring,
        now=now,
        sent_at=now(),  # the server stamps these scans: its clock is the device's
        election=election,
    ).ingest([event])[0]
    problems = []
    wrong_kit = False
    if result.status in ("rejected", "conflict"):
        problems.append(REJECTIONS.get(result.code, result.message))
    else:
        if item.destination != kit.destination:
            wrong_kit = True
            problems.append(
                f"Barang ini untuk {node_name(session, item.destination)}, bukan untuk "
                f"{node_name(session, kit.destination)}. Keluarkan dari paket ini dan kemas "
                "ke paket yang benar."
            )
        problems += [
            f["message"] for f in result.findings if f["code"] != "packed_for_other_destination"
        ]
    message = {"accepted": "Masuk paket.", "duplicate": "Sudah diterima sebelumnya."}.get(
        result.status, problems[0] if problems else result.message
    )
    return PackOutcome(
        result.status, message, kit_status(session, election, kit), problems, serial, wrong_kit
    )


#: Longest reason kept with a ``keluarkan`` event (the event's note).
REASON_MAX = 200


def unpack(
    session: Session,
    election: Election,
    *,
    user: User,
    kit_serial: str,
    serial: str,
    reason: str,
    keyring: labels.Keyring,
    now: Callable[[], datetime],
    event_id: str | None = None,
) -> PackOutcome:
    """Take one item out of a kit again (a ``keluarkan`` event, the reason as its note)."""
    kit = get_item(session, kit_serial)
    if kit.item_type_code != KIT:
        raise ValidationFailed("Ini bukan label paket TPS (KIT).")
    reason = reason.strip()
    if not reason:
        raise ValidationFailed("Tulis alasan barang dikeluarkan dari paket.")
    if len(reason) > REASON_MAX:
        raise ValidationFailed(f"Alasan paling panjang {REASON_MAX} karakter.")
    try:
        canonical = labels.parse_serial(serial)
    except labels.LabelError:
        raise ValidationFailed("Nomor seri tidak sah.") from None
    state = session.get(ItemStateRow, canonical)
    if state is None or state.container != kit.serial:
        return PackOutcome(
            "refused",
            "Barang ini tidak ada di paket ini.",
            kit_status(session, election, kit),
            ["Barang ini tidak ada di paket ini."],
            canonical,
        )
    gudang = codes.kabkota_of(kit.destination)
    kit_state = session.get(ItemStateRow, kit.serial)
    if _is_dispatched(kit_state, gudang):
        raise Conflict("Paket ini sudah dikirim dari gudang; isinya tidak dapat dikeluarkan.")
    device_id = f"web-{user.id}"
    event = {
        "event_id": event_id or str(uuid.uuid4()),
        "device_seq": _next_device_seq(session, device_id),
        "device_time": now().isoformat(),
        "action": "keluarkan",
        "node": state.holder or gudang,
        "serial": canonical,
        "note": reason,
    }
    result = Ingestor(
        session,
        user=user,
        token=None,
        device_id=device_id,
        keyring=keyring,
        now=now,
        sent_at=now(),  # the server stamps these scans: its clock is the device's
        election=election,
    ).ingest([event])[0]
    problems = [] if result.status in ("accepted", "duplicate") else [result.message]
    message = "Dikeluarkan dari paket." if not problems else problems[0]
    return PackOutcome(
        result.status, message, kit_status(session, election, kit), problems, canonical
    )


# --- the day's dispatch list -----------------------------------------------------------


@dataclass
class DispatchKit:
    """One TPS kit on a leg: packed how far, and whether it has left the warehouse."""

    tps_id: str
    name: str
    kit_serial: str | None
    packed: int
    planned: int
    stage: str
    dispatched: bool

    @property
    def display(self) -> str:
        """The kit's serial for people, or a dash before its label is issued."""
        return labels.format_serial(self.kit_serial) if self.kit_serial else "-"


@dataclass
class DispatchLeg:
    """A leg out of the warehouse on one day, with its kits."""

    leg: RouteLeg
    to_name: str
    kits: list[DispatchKit]

    @property
    def dispatched(self) -> int:
        """Kits already sent."""
        return sum(kit.dispatched for kit in self.kits)

    @property
    def packed(self) -> int:
        """Kits with every planned item inside."""
        return sum(kit.planned > 0 and kit.packed == kit.planned for kit in self.kits)


def _overlaps(code: str, scope: str) -> bool:
    return codes.within(code, scope) or codes.within(scope, code)


def _forward_legs(session: Session, election: Election, gudang: str) -> list[RouteLeg]:
    return list(
        session.scalars(
            select(RouteLeg)
            .where(
                RouteLeg.election_code == election.code,
                RouteLeg.from_node == gudang,
                RouteLeg.is_return.is_(False),
            )
            .order_by(RouteLeg.deadline_at, RouteLeg.to_node)
        )
    )


def local_day(moment: datetime, region: str) -> date:
    """The calendar day of an instant in the region's zone (WIB, WITA or WIT)."""
    return moment.astimezone(ZoneInfo(zone_for_region(region))).date()


def dispatch_days(session: Session, election: Election, gudang: str, scope: str) -> dict[date, int]:
    """Days on which legs leave the warehouse (by deadline), with the number of legs."""
    days: Counter[date] = Counter()
    for leg in _forward_legs(session, election, gudang):
        if _overlaps(leg.to_node, scope):
            days[local_day(leg.deadline_at, gudang)] += 1
    return dict(sorted(days.items()))


def dispatch_list(
    session: Session, election: Election, gudang: str, day: date, scope: str
) -> list[DispatchLeg]:
    """The legs out of the warehouse due on ``day``, each with its TPS kits and their state."""
    legs = [
        leg
        for leg in _forward_legs(session, election, gudang)
        if local_day(leg.deadline_at, gudang) == day and _overlaps(leg.to_node, scope)
    ]
    if not legs:
        return []
    prefix = gudang.replace(".", "")
    tps_ids = [
        t
        for t in session.scalars(select(Tps.id).where(Tps.id.like(prefix + "%")).order_by(Tps.id))
        if codes.within(t, scope)
    ]
    names = {
        n.code: n.name
        for n in session.scalars(
            select(CustodyNode).where(CustodyNode.code.in_(tps_ids + [leg.to_node for leg in legs]))
        )
    }
    kits: dict[str, Item] = {}
    destination_of: dict[str, str] = {}
    planned: Counter[str] = Counter()
    for item in session.scalars(
        select(Item).where(
            Item.kabkota_code == gudang, Item.voided_at.is_(None), Item.destination.in_(tps_ids)
        )
    ):
        if item.item_type_code == KIT:
            kits.setdefault(item.destination, item)
        else:
            planned[item.destination] += 1
            destination_of[item.serial] = item.destination
    serials = [kit.serial for kit in kits.values()]
    states = {
        r.serial: r
        for r in session.scalars(select(ItemStateRow).where(ItemStateRow.serial.in_(serials)))
    }
    # Only the kit's own items count as packed: a wrong item inside does not fill it.
    packed: Counter[str] = Counter(
        container
        for serial, container in session.execute(
            select(ItemStateRow.serial, ItemStateRow.container).where(
                ItemStateRow.container.in_(serials)
            )
        )
        if container is not None
        and kits.get(destination_of.get(serial, "")) is not None
        and kits[destination_of[serial]].serial == container
    )
    by_leg: dict[str, list[DispatchKit]] = defaultdict(list)
    for tps in tps_ids:
        leg = next((leg for leg in legs if codes.within(tps, leg.to_node)), None)
        if leg is None:
            continue
        kit = kits.get(tps)
        state = states.get(kit.serial) if kit else None
        by_leg[leg.to_node].append(
            DispatchKit(
                tps,
                names.get(tps, tps),
                kit.serial if kit else None,
                packed[kit.serial] if kit else 0,
                planned[tps],
                state.stage if state is not None else "gudang",
                _is_dispatched(state, gudang),
            )
        )
    return [
        DispatchLeg(leg, names.get(leg.to_node, leg.to_node), by_leg[leg.to_node]) for leg in legs
    ]
