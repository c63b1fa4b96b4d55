"""Issuing labelled items from the plan, voiding and reprinting them."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app import clock as app_clock
from app import locks
from app.auth.models import User
from app.errors import Conflict, NotFound, ValidationFailed
from app.items.models import Item, LabelAction, LabelLog
from app.plan import codes
from app.plan.models import ItemType, PlanLine
from app.plan.needs import bundles
from app.timeutil import utcnow


@dataclass
class IssueResult:
    """Items created by one issuing run and those that already existed."""

    created: list[Item] = field(default_factory=list)
    existing: list[Item] = field(default_factory=list)

    @property
    def items(self) -> list[Item]:
        """Every item of the region and types, new and old."""
        return self.existing + self.created


def _in_region(destination: str, region: str) -> bool:
    """A plan destination lies in a region: TPS and PPS below it, the PPK or warehouse itself."""
    return codes.within(destination, region)


def _under(column: Any, region: str) -> Any:
    """SQL for "destination lies in region", so a TPS or kecamatan does not load a kabupaten."""
    if codes.TPS_ID.match(region):
        return column == region
    # Node codes are dotted; TPS ids are the desa code's digits plus three.
    return (
        (column == region) | column.like(region + ".%") | column.like(region.replace(".", "") + "%")
    )


@dataclass
class IssuePlan:
    """What issuing a region would create: the planned units without a label yet."""

    kabkota: str
    missing: list[tuple[PlanLine, int]] = field(default_factory=list)
    existing: list[Item] = field(default_factory=list)


def labelled_types(session: Session) -> dict[str, ItemType]:
    """Return the item types that get labels, by code, in their print order."""
    return {
        t.code: t
        for t in session.scalars(
            select(ItemType)
            .where(ItemType.labelled.is_(True))
            .order_by(ItemType.sort_order, ItemType.code)
        )
    }


def check_types(session: Session, item_types: Sequence[str] | None) -> list[str]:
    """Return the chosen labelled item types (all of them when none are given)."""
    types = labelled_types(session)
    wanted = [t.strip().upper() for t in item_types or () if t.strip()] or list(types)
    unknown = set(wanted) - set(types)
    if unknown:
        raise ValidationFailed(
            f"Jenis barang tidak dikenal atau tanpa label: {', '.join(sorted(unknown))}"
        )
    return wanted


def plan_issue(
    session: Session,
    election_code: str,
    region: str,
    item_types: Sequence[str] | None,
) -> IssuePlan:
    """Work out which planned units of a region still need a label; change nothing."""
    types = labelled_types(session)
    wanted = set(check_types(session, item_types))
    kab = codes.kabkota_of(region)
    lines = [
        line
        for line in session.scalars(
            select(PlanLine).where(
                PlanLine.election_code == election_code,
                PlanLine.kabkota_code == kab,
                PlanLine.item_type_code.in_(wanted),
                _under(PlanLine.destination, region),
            )
        )
        if _in_region(line.destination, region)
    ]
    if not lines:
        raise NotFound(f"Tidak ada rencana untuk {region} dengan jenis barang itu.")
    have: dict[tuple[str, str, str], list[Item]] = {}
    for item in session.scalars(
        select(Item).where(
            Item.election_code == election_code,
            Item.kabkota_code == kab,
            Item.item_type_code.in_(wanted),
            _under(Item.destination, region),
        )
    ):
        if _in_region(item.destination, region):
            key = (item.destination, item.item_type_code, item.race_kind)
            have.setdefault(key, []).append(item)
    plan = IssuePlan(kab)
    for line in sorted(
        lines, key=lambda ln: (ln.destination, types[ln.item_type_code].sort_order, ln.race_kind)
    ):
        units = bundles(line.quantity, types[line.item_type_code].bundle_size)
        existing = have.get((line.destination, line.item_type_code, line.race_kind), [])
        plan.existing.extend(existing)
        # Units already issued (voided ones included: they were printed) are not issued again.
        issued = [i.quantity for i in existing]
        plan.missing.extend((line, quantity) for quantity in _missing(units, issued))
    return plan


def issue_items(
    session: Session,
    election_code: str,
    region: str,
    item_types: Sequence[str] | None,
    signer: labels.Signer,
    user_id: uuid.UUID | None,
    *,
    commit: bool = True,
    note: str = "",
) -> IssueResult:
    """Create one item per physical unit the plan calls for; never twice for the same unit."""
    plan = plan_issue(session, election_code, region, item_types)
    result = IssueResult(existing=plan.existing)
    now = utcnow()
    logs = []
    for line, quantity in plan.missing:
        item = Item(
            serial=labels.new_serial(),
            election_code=election_code,
            item_type_code=line.item_type_code,
            race_kind=line.race_kind,
            destination=line.destination,
            kabkota_code=plan.kabkota,
            quantity=quantity,
            key_id=signer.key_id,
            issued_by=user_id,
            issued_at=now,
        )
        result.created.append(item)
        logs.append(
            LabelLog(
                serial=item.serial, action=LabelAction.ISSUE, user_id=user_id, at=now, note=note
            )
        )
    session.add_all(result.created)
    session.flush()
    session.add_all(logs)
    from app.custody import counts
    from app.custody.service import forget_tallies

    forget_tallies(session, {item.destination for item in result.created})
    counts.count_issued(session, result.created)
    if commit:
        session.commit()
    return result


def _missing(planned: list[int], issued: list[int]) -> list[int]:
    """Return the planned unit quantities not yet covered by issued ones."""
    left = Counter(issued)
    missing = []
    for quantity in planned:
        if left[quantity]:
            left[quantity] -= 1
        else:
            missing.append(quantity)
    return missing


def payload_of(item: Item) -> labels.LabelPayload:
    """Return the signed payload fields of an item."""
    return labels.LabelPayload(
        serial=item.serial,
        item_type=item.item_type_code,
        destination=item.destination,
        race=item.race_kind or None,
        quantity=item.quantity,
        key_id=item.key_id,
    )


def label_text(item: Item, signer: labels.Signer, base_url: str | None = None) -> str:
    """Encode an item's label: the compact form, or the https form when ``base_url`` is set."""
    payload = payload_of(item)
    if payload.key_id != signer.key_id:
        # Reprints after a key rotation are signed with the current key.
        payload = labels.LabelPayload(
            serial=payload.serial,
            item_type=payload.item_type,
            destination=payload.destination,
            race=payload.race,
            quantity=payload.quantity,
            key_id=signer.key_id,
        )
    if base_url:
        return labels.encode_url(payload, signer, base_url)
    return labels.encode(payload, signer)


def get_item(session: Session, serial: str) -> Item:
    """Return an item by serial (any human form) or raise NotFound."""
    try:
        canonical = labels.parse_serial(serial)
    except labels.LabelError as exc:
        raise NotFound("Nomor seri tidak dikenal.") from exc
    item = session.get(Item, canonical)
    if item is None:
        raise NotFound("Nomor seri tidak dikenal.")
    return item


def find_item(session: Session, text: str, keyring: labels.Keyring | None = None) -> Item:
    """Return an item by a typed serial (any human form) or, with a keyring, a scanned label."""
    text = text.strip()
    try:
        return get_item(session, text)
    except NotFound:
        if keyring is None or not text:
            raise
    try:
        serial = labels.decode(text, keyring).serial
    except labels.LabelError as exc:
        raise NotFound("Nomor seri atau label tidak dikenal.") from exc
    return get_item(session, serial)


def items_in_region(
    session: Session,
    election_code: str,
    region: str,
    item_types: Sequence[str] | None,
) -> list[Item]:
    """Return the valid (not voided) items of a region and item types, in print order."""
    wanted = check_types(session, item_types)
    order = {code: index for index, code in enumerate(labelled_types(session))}
    items = [
        item
        for item in session.scalars(
            select(Item).where(
                Item.election_code == election_code,
                Item.kabkota_code == codes.kabkota_of(region),
                Item.item_type_code.in_(wanted),
                Item.voided_at.is_(None),
                _under(Item.destination, region),
            )
        )
        if _in_region(item.destination, region)
    ]
    return sorted(
        items,
        key=lambda i: (
            i.destination,
            order.get(i.item_type_code, 99),
            i.race_kind,
            -i.quantity,
            i.serial,
        ),
    )


def void_item(session: Session, item: Item, user_id: uuid.UUID | None, reason: str) -> Item:
    """Invalidate a serial for good; later scans of it are rejected."""
    if not reason.strip():
        raise ValidationFailed("Alasan pembatalan wajib diisi.")
    if item.voided_at is not None:
        raise Conflict("Label ini sudah dibatalkan.")
    from app.custody import codec, counts
    from app.custody.models import ItemStateRow

    row = session.get(ItemStateRow, item.serial)
    counts.count_voided(session, item, codec.state_from_dict(row.state) if row else None)
    # The custody clock (the demo's TEPAT_NOW too): scans after this moment carry it no more.
    item.voided_at = app_clock.now()
    item.void_reason = reason.strip()
    session.add(
        LabelLog(serial=item.serial, action=LabelAction.VOID, user_id=user_id, note=reason.strip())
    )
    from app.custody.service import forget_tallies

    forget_tallies(session, {item.destination})  # rebuilt without the dead label
    record_label_event(session, item, user_id, "cabut", reason.strip())  # commits
    return item


def record_label_event(
    session: Session, item: Item, user_id: uuid.UUID | None, action: str, note: str
) -> None:
    """Chain a ``cabut`` (voided) or ``ganti`` (replacement) event into the item's custody log.

    It goes through the scan service like any scan, so the hash chain, the Merkle log and
    the item's state stay one story; it commits the session.
    """
    from app.clock import now
    from app.custody.models import ItemStateRow
    from app.custody.service import Ingestor
    from app.items.kits import _next_device_seq
    from app.plan.models import Election

    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise ValidationFailed(
            "Pembatalan dan label pengganti dicatat atas nama petugas: sebutkan penggunanya."
        )
    state = session.get(ItemStateRow, item.serial)
    node = state.holder if state is not None and state.holder else item.kabkota_code
    device_id = f"web-{user.id}"
    result = Ingestor(
        session,
        user=user,
        token=None,
        device_id=device_id,
        keyring=labels.Keyring(),
        now=now,
        sent_at=now(),  # the server stamps these scans: its clock is the device's
        election=session.get(Election, item.election_code),
        label_events=True,
    ).ingest(
        [
            {
                "event_id": str(uuid.uuid4()),
                "device_seq": _next_device_seq(session, device_id),
                "device_time": now().isoformat(),
                "action": action,
                "node": node,
                "serial": item.serial,
                "note": note,
            }
        ]
    )[0]
    if result.status != "accepted":
        session.rollback()
        raise Conflict(result.message)


def replacement_of(session: Session, voided: Item) -> Item | None:
    """The label issued to replace a voided one, if any."""
    return session.scalar(select(Item).where(Item.replaces == voided.serial))


def issue_replacement(
    session: Session,
    voided: Item,
    signer: labels.Signer,
    user_id: uuid.UUID | None,
    *,
    commit: bool = True,
) -> Item:
    """Issue a new serial for the unit a voided label was on (same type, race, destination)."""
    if voided.voided_at is None:
        raise Conflict("Hanya label yang sudah dibatalkan yang dapat diganti.")
    existing = replacement_of(session, voided)
    if existing is not None:
        raise Conflict(
            f"Label {labels.format_serial(voided.serial)} sudah diganti dengan "
            f"{labels.format_serial(existing.serial)}; batalkan label itu bila perlu diganti lagi."
        )
    now = utcnow()
    item = Item(
        serial=labels.new_serial(),
        election_code=voided.election_code,
        item_type_code=voided.item_type_code,
        race_kind=voided.race_kind,
        destination=voided.destination,
        kabkota_code=voided.kabkota_code,
        quantity=voided.quantity,
        key_id=signer.key_id,
        issued_by=user_id,
        issued_at=now,
        replaces=voided.serial,
    )
    session.add(item)
    session.flush()
    note = f"pengganti {labels.format_serial(voided.serial)}"
    session.add(
        LabelLog(serial=item.serial, action=LabelAction.ISSUE, user_id=user_id, at=now, note=note)
    )
    from app.custody.service import forget_tallies

    forget_tallies(session, {item.destination})
    if commit:
        record_label_event(session, item, user_id, "ganti", note)  # commits
    return item


def record_reprint(
    session: Session, items: Iterable[Item], user_id: uuid.UUID | None, *, note: str = ""
) -> int:
    """Count a reprint of each item (same serial); voided items cannot be reprinted."""
    count = 0
    now = utcnow()
    for item in items:
        if item.voided_at is not None:
            raise Conflict(f"Label {labels.format_serial(item.serial)} sudah dibatalkan.")
        item.reprint_count += 1
        session.add(
            LabelLog(
                serial=item.serial, action=LabelAction.REPRINT, user_id=user_id, at=now, note=note
            )
        )
        count += 1
    session.commit()
    return count


def label_history(session: Session, serial: str) -> list[tuple[LabelLog, User | None]]:
    """Return the issue, reprint and void records of a serial, oldest first, with their users."""
    rows = session.execute(
        select(LabelLog, User)
        .outerjoin(User, User.id == LabelLog.user_id)
        .where(LabelLog.serial == serial)
        .order_by(LabelLog.at, LabelLog.id)
    )
    return [(log, user) for log, user in rows]


def issuing_lock(session: Session, kabkota: str) -> AbstractContextManager[bool]:
    """Serialise issuing per kabupaten, so two print runs never label the same unit twice."""
    return locks.hold(session, f"tepat-issue:{kabkota}")
