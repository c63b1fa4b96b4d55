"""Read custody events of a region and time window, page by page, as EPCIS 2.0 documents.

Pages follow the order the server received scans in (``recordTime``, then event id) and
are keyed by an opaque cursor, so each request reads one page whatever the region's size.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from app.custody.models import CustodyEvent
from app.custody.names import PlaceNames
from app.epcis import document
from app.errors import ValidationFailed
from app.items.models import Item
from app.plan import codes
from app.timeutil import parse_instant

#: Events per page: the default and the most one request may ask for.
PAGE_SIZE = 500
MAX_PAGE_SIZE = 2000


def uris_for(base_url: str) -> document.Uris:
    """Our URI scheme under the configured label base URL (https, lower-case host)."""
    parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
    host = (parts.netloc or "tepat.local").lower()
    path = parts.path.rstrip("/")
    return document.Uris(f"https://{host}{path}")


@dataclass(frozen=True)
class Window:
    """Which events: scans at nodes inside ``region``, received in [start, end)."""

    region: str
    start: datetime | None = None
    end: datetime | None = None


def parse_window(region: str, start: str | None, end: str | None) -> Window:
    """A window from request parameters; ValidationFailed on junk."""
    region = region.strip()
    if not codes.TPS_ID.match(region):
        try:
            codes.region_level(region)
        except ValueError as exc:
            raise ValidationFailed("wilayah harus kode wilayah Kemendagri atau ID TPS.") from exc

    def instant(value: str | None, name: str) -> datetime | None:
        if not value:
            return None
        try:
            return parse_instant(value)
        except ValueError as exc:
            raise ValidationFailed(f"{name} harus waktu ISO-8601.") from exc

    window = Window(region, instant(start, "dari"), instant(end, "sampai"))
    if window.start and window.end and window.start >= window.end:
        raise ValidationFailed("dari harus sebelum sampai.")
    return window


def encode_cursor(moment: datetime, event_id: uuid.UUID) -> str:
    """The opaque position after one event."""
    raw = f"{moment.isoformat()}|{event_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(token: str) -> tuple[datetime, uuid.UUID]:
    """Read a cursor back; ValidationFailed if it was not ours."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        moment, event_id = raw.split("|")
        return parse_instant(moment), uuid.UUID(event_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValidationFailed("Token halaman (after) tidak sah.") from exc


def _inside(region: str) -> ColumnElement[bool]:
    """Scans at nodes inside a region (its own node, dotted nodes below, its TPS ids)."""
    node = CustodyEvent.node
    if codes.TPS_ID.match(region):
        return node == region
    clauses = [node == region, node.like(region + ".%")]
    if region.count(".") >= 1:
        clauses.append(node.like(region.replace(".", "") + "%"))
    else:  # a province: its TPS ids start with its two digits
        clauses.append(and_(node.like(region + "%"), node.not_like("%.%")))
    condition = or_(*clauses)
    if region.count(".") >= 1 or codes.TPS_ID.match(region):
        condition = and_(CustodyEvent.kabkota_code == codes.kabkota_of(region), condition)
    return condition


def _rows(session: Session, stmt: Any) -> list[document.Row]:
    return [
        document.Row(
            event_id=str(e.event_id),
            serial=e.serial,
            action=e.action,
            node=e.node,
            target=e.target,
            device_time=e.device_time,
            server_time=e.server_time,
            quantity=e.quantity,
            condition=e.condition,
            seals=tuple(e.seals or ()),
            container=e.container,
            ref_event_id=e.ref_event_id,
            item_type=item_type,
            race=race or "",
        )
        for e, item_type, race in session.execute(stmt)
    ]


def _select() -> Any:
    return select(CustodyEvent, Item.item_type_code, Item.race_kind).join(
        Item, Item.serial == CustodyEvent.serial
    )


@dataclass
class Page:
    """One page of an export: the EPCIS events, the places used, where the next page starts."""

    events: list[dict[str, Any]]
    places: dict[str, str]
    next_cursor: str | None


def page(
    session: Session,
    window: Window,
    uris: document.Uris,
    after: str | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """Read one page of the window's events (``size`` scans) after the cursor."""
    size = max(1, min(size, MAX_PAGE_SIZE))
    stmt = _select().where(_inside(window.region))
    if window.start is not None:
        stmt = stmt.where(CustodyEvent.server_time >= window.start)
    if window.end is not None:
        stmt = stmt.where(CustodyEvent.server_time < window.end)
    if after:
        moment, event_id = decode_cursor(after)
        stmt = stmt.where(
            or_(
                CustodyEvent.server_time > moment,
                and_(CustodyEvent.server_time == moment, CustodyEvent.event_id > event_id),
            )
        )
    stmt = stmt.order_by(CustodyEvent.server_time, CustodyEvent.event_id).limit(size + 1)
    rows = _rows(session, stmt)
    more = len(rows) > size
    rows = rows[:size]
    wanted = {
        uuid.UUID(r.ref_event_id) for r in rows if r.ref_event_id and _is_uuid(r.ref_event_id)
    }
    referenced = (
        {r.event_id: r for r in _rows(session, _select().where(CustodyEvent.event_id.in_(wanted)))}
        if wanted
        else {}
    )
    names = PlaceNames(session)
    places: dict[str, str] = {}
    for row in [*rows, *referenced.values()]:
        for node in (row.node, row.target):
            if node and node not in places:
                places[node] = names.node(node)
    last = rows[-1] if rows else None
    cursor = encode_cursor(last.server_time, uuid.UUID(last.event_id)) if more and last else None
    return Page(document.events(rows, referenced, uris), places, cursor)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def pages(
    session: Session, window: Window, uris: document.Uris, size: int = PAGE_SIZE
) -> Iterator[Page]:
    """Every page of the window, one after the other (for the CLI's streamed export)."""
    cursor: str | None = None
    while True:
        current = page(session, window, uris, cursor, size)
        yield current
        if current.next_cursor is None:
            return
        cursor = current.next_cursor
