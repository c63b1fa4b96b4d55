"""Issuing labelled items from the plan, voiding and reprinting them."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
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


def issue_items(
    session: Session, election_code: str, region: str, item_types: Sequence[str] | None,
    signer: labels.Signer, user_id: uuid.UUID | None, *, commit: bool = True,
) -> IssueResult:
    """Create one item per physical unit the plan calls for; never twice for the same unit."""
    types = {t.code: t for t in session.scalars(select(ItemType).where(ItemType.labelled.is_(True)))}
    wanted = set(item_types or types)
    unknown = wanted - set(types)
    if unknown:
        raise ValidationFailed(f"Jenis barang tidak dikenal atau tanpa label: {', '.join(sorted(unknown))}")
    kab = ".".join(codes.node_region(region).split(".")[:2])
    lines = [line for line in session.scalars(select(PlanLine).where(
        PlanLine.election_code == election_code, PlanLine.kabkota_code == kab,
        PlanLine.item_type_code.in_(wanted)))
        if _in_region(line.destination, region)]
    if not lines:
        raise NotFound(f"Tidak ada rencana untuk {region} dengan jenis barang itu.")
    have: dict[tuple[str, str, str], list[Item]] = {}
    for item in session.scalars(select(Item).where(
            Item.election_code == election_code, Item.kabkota_code == kab,
            Item.item_type_code.in_(wanted))):
        if _in_region(item.destination, region):
            have.setdefault((item.destination, item.item_type_code, item.race_kind), []).append(item)
    result = IssueResult()
    now = utcnow()
    logs = []
    for line in sorted(lines, key=lambda ln: (ln.destination, types[ln.item_type_code].sort_order,
                                              ln.race_kind)):
        units = bundles(line.quantity, types[line.item_type_code].bundle_size)
        existing = have.get((line.destination, line.item_type_code, line.race_kind), [])
        result.existing.extend(existing)
        # Units already issued (voided ones included: they were printed) are not issued again.
        for quantity in _missing(units, [i.quantity for i in existing]):
            item = Item(serial=labels.new_serial(), election_code=election_code,
                        item_type_code=line.item_type_code, race_kind=line.race_kind,
                        destination=line.destination, kabkota_code=kab, quantity=quantity,
                        key_id=signer.key_id, issued_by=user_id, issued_at=now)
            result.created.append(item)
            logs.append(LabelLog(serial=item.serial, action=LabelAction.ISSUE, user_id=user_id, at=now))
    session.add_all(result.created)
    session.flush()
    session.add_all(logs)
    from app.custody.service import forget_tallies

    forget_tallies(session, {item.destination for item in result.created})
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
    return labels.LabelPayload(serial=item.serial, item_type=item.item_type_code,
                               destination=item.destination, race=item.race_kind or None,
                               quantity=item.quantity, key_id=item.key_id)


def label_text(item: Item, signer: labels.Signer, base_url: str | None = None) -> str:
    """Encode an item's label: the compact form, or the https form when ``base_url`` is set."""
    payload = payload_of(item)
    if payload.key_id != signer.key_id:
        # Reprints after a key rotation are signed with the current key.
        payload = labels.LabelPayload(serial=payload.serial, item_type=payload.item_type,
                                      destination=payload.destination, race=payload.race,
                                      quantity=payload.quantity, key_id=signer.key_id)
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


def void_item(session: Session, item: Item, user_id: uuid.UUID | None, reason: str) -> Item:
    """Invalidate a serial for good; later scans of it are rejected."""
    if not reason.strip():
        raise ValidationFailed("Alasan pembatalan wajib diisi.")
    if item.voided_at is not None:
        raise Conflict("Label ini sudah dibatalkan.")
    item.voided_at = utcnow()
    item.void_reason = reason.strip()
    session.add(LabelLog(serial=item.serial, action=LabelAction.VOID, user_id=user_id,
                         note=reason.strip()))
    session.commit()
    return item


def record_reprint(session: Session, items: Iterable[Item], user_id: uuid.UUID | None) -> int:
    """Count a reprint of each item (same serial); voided items cannot be reprinted."""
    count = 0
    now = utcnow()
    for item in items:
        if item.voided_at is not None:
            raise Conflict(f"Label {labels.format_serial(item.serial)} sudah dibatalkan.")
        item.reprint_count += 1
        session.add(LabelLog(serial=item.serial, action=LabelAction.REPRINT, user_id=user_id, at=now))
        count += 1
    session.commit()
    return count
