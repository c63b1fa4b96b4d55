"""Scan ingestion: verify labels, apply the custody rules, append hash-chained events.

One batch is one transaction. Only what the hash chain needs is serialised: on
PostgreSQL the rows of the items a batch touches (each scanned item, its container and
everything inside it) and the tallies of their TPS are locked in a fixed order, so couriers
of one kabupaten and of different kabupaten ingest in parallel; SQLite has one writer and
takes one process lock. Every read is bounded by the batch (never by the kabupaten), and
IN lists are chunked below the driver's parameter limit. Duplicates are recognised by the
client's event id, and a resend with different content is a conflict, recorded as a
security finding.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

import labels
from app import locks
from app.auth.models import DeviceToken, User
from app.custody import clock, codec, counts, ledger, resolve, rules
from app.custody.errors import CustodyError
from app.custody.models import (
    CustodyEvent,
    Device,
    FindingRow,
    ItemStateRow,
    TpsTallyRow,
)
from app.custody.names import PlaceNames
from app.custody.planview import build_plan, to_rules_item
from app.errors import Conflict, ValidationFailed
from app.guard import MAX_INT32, bounded_instant, int_in_range
from app.items.models import Item
from app.plan import codes
from app.plan.models import CustodyNode, Election
from app.timeutil import utcnow
from scanner import signing

#: Label events (voided, replaced) are written by the server, never sent by a device.
LABEL_ACTIONS = frozenset({rules.Action.LABEL_VOID.value, rules.Action.LABEL_REPLACE.value})
ACTIONS = {a.value for a in rules.Action} - LABEL_ACTIONS
CONDITIONS = {c.value for c in rules.Condition}
MAX_BATCH = 500

_LABEL_CODES = {
    labels.BadSignature: "bad_signature",
    labels.UnknownKey: "unknown_key",
    labels.UnsupportedVersion: "unsupported_version",
}
#: (keyring fingerprint, label text, verified?) -> serial, for labels already verified.
_verified_labels: dict[tuple[str, str, bool], str] = {}


_ITEM_ROW = select(
    Item.serial,
    Item.item_type_code,
    Item.race_kind,
    Item.destination,
    Item.quantity,
    Item.kabkota_code,
    Item.voided_at,
)
_STATE_ROW = select(
    ItemStateRow.serial, ItemStateRow.state, ItemStateRow.last_hash, ItemStateRow.last_event_at
)
#: Bind parameters per IN list: far below PostgreSQL's 65,535 and SQLite's 32,766.
CHUNK = 2000
#: A batch that lost a race (deadlock, a row another batch inserted first) is replayed.
ATTEMPTS = 4


def chunked(values: Iterable[Any], size: int = CHUNK) -> Iterator[list[Any]]:
    """The values in sorted lists of at most ``size`` (one IN list each)."""
    ordered = sorted(set(values))
    for start in range(0, len(ordered), size):
        yield ordered[start : start + size]


def rows_in(session: Session, stmt: Any, column: Any, values: Iterable[Any]) -> list[Any]:
    """``stmt`` restricted to ``column IN values``, one query per chunk of the values."""
    rows: list[Any] = []
    for chunk in chunked(values):
        rows.extend(session.execute(stmt.where(column.in_(chunk))))
    return rows


def scalars_in(session: Session, stmt: Any, column: Any, values: Iterable[Any]) -> list[Any]:
    """Like :func:`rows_in`, the first column of each row."""
    return [row[0] for row in rows_in(session, stmt, column, values)]


class Rejected(CustodyError):
    """One event cannot be recorded; ``code`` and ``message`` go back to the device."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # per instance, unlike the rules' errors


@dataclass
class ScanInput:
    """One event as the device sent it, checked for shape."""

    event_id: str
    device_seq: int
    device_time: datetime
    action: str
    node: str
    label: str | None
    serial: str | None
    quantity: int | None
    condition: str | None
    seals: tuple[str, ...]
    counterpart: str | None
    container_label: str | None
    target: str | None
    ref_event_id: str | None
    note: str
    digest: str
    counts: tuple[tuple[str, int], ...] = ()
    identified_by: str = "typed"


@dataclass
class ScanResult:
    """What happened to one event."""

    event_id: str
    status: str
    code: str = ""
    message: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    serial: str | None = None
    item: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the scan API."""
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "findings": self.findings,
        }
        if self.serial:
            body["serial"] = self.serial
        if self.item:
            body["item"] = self.item  # what it is and where it goes, in words
        return body


def content_digest(raw: Mapping[str, Any]) -> str:
    """SHA-256 of the event as sent (sorted keys), to tell a resend from a clash."""
    return hashlib.sha256(
        json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _text(raw: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise Rejected("malformed", f"kolom '{name}' wajib diisi")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Rejected("malformed", f"kolom '{name}' harus teks (maks. {limit} karakter)")
    if "\x00" in value:
        raise Rejected("malformed", f"kolom '{name}' berisi karakter NUL")
    return value.strip()


def parse_event(raw: Any, actions: Collection[str] = ACTIONS) -> ScanInput:
    """Check one event's shape; raise Rejected("malformed", ...) naming the field."""
    if not isinstance(raw, dict):
        raise Rejected("malformed", "setiap event harus berupa objek JSON")
    event_id = _text(raw, "event_id", 36, required=True)
    try:
        event_id = str(uuid.UUID(str(event_id)))
    except ValueError:
        raise Rejected("malformed", "event_id harus UUID") from None
    seq = raw.get("device_seq")
    if not int_in_range(seq, 0, MAX_INT32):
        raise Rejected("malformed", f"device_seq harus bilangan bulat 0..{MAX_INT32}")
    device_time_text = raw.get("device_time")
    try:
        if not isinstance(device_time_text, str) or len(device_time_text) > 40:
            raise ValueError("not a short string")
        device_time = bounded_instant(device_time_text)
    except ValueError:
        raise Rejected(
            "malformed", "device_time harus waktu ISO-8601 antara tahun 2000 dan 2099"
        ) from None
    action = _text(raw, "action", 10, required=True)
    if action not in actions:
        raise Rejected("malformed", f"action tidak dikenal: {action!r}")
    node = _text(raw, "node", 16, required=True)
    assert node is not None
    label = _text(raw, "label", 2000)
    serial = _text(raw, "serial", 24)
    if not label and not serial:
        raise Rejected("malformed", "isi 'label' (teks QR) atau 'serial'")
    quantity = raw.get("quantity")
    if quantity is not None and (
        not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 <= quantity <= 100_000
    ):
        raise Rejected("malformed", "quantity harus bilangan bulat 0..100000")
    condition = _text(raw, "condition", 16)
    if condition is not None and condition not in CONDITIONS:
        raise Rejected("malformed", f"condition harus salah satu dari {sorted(CONDITIONS)}")
    seals = raw.get("seals") or []
    if (
        not isinstance(seals, list)
        or len(seals) > 20
        or not all(isinstance(s, str) and 0 < len(s) <= 40 and "\x00" not in s for s in seals)
    ):
        raise Rejected("malformed", "seals harus daftar nomor segel (teks)")
    note = _text(raw, "note", 1000) or ""
    return ScanInput(
        event_id=event_id,
        device_seq=seq,
        device_time=device_time,
        action=action,
        node=node,
        label=label,
        serial=serial,
        quantity=quantity,
        condition=condition,
        seals=tuple(s.strip() for s in seals),
        counterpart=_text(raw, "counterpart", 120),
        container_label=_text(raw, "container", 2000),
        target=_text(raw, "target", 16),
        ref_event_id=_text(raw, "ref_event_id", 36),
        note=note,
        digest=content_digest(raw),
        counts=_counts(raw.get("counts")),
        identified_by=_identified_by(raw, label),
    )


#: How a scan identified its item: a verified TP1 label, its https form, a typed serial.
IDENTIFIED_BY = ("qr_signed", "qr_link", "typed")


def _identified_by(raw: Mapping[str, Any], label: str | None) -> str:
    """The client's word for it when given; else the label's form, or typed without one."""
    value = raw.get("identified_by")
    if value is None or value == "":
        if label is None:
            return "typed"  # old clients: no QR text, so a typed serial
        return "qr_link" if label[:8].upper() == "HTTPS://" else "qr_signed"
    if value not in IDENTIFIED_BY:
        raise Rejected("malformed", f"identified_by harus salah satu dari {list(IDENTIFIED_BY)}")
    if value != "typed" and label is None:
        raise Rejected("malformed", f"identified_by {value} perlu teks QR di kolom 'label'")
    return str(value)


def _counts(value: Any) -> tuple[tuple[str, int], ...]:
    """What a receipt confirmed inside a container: {"SURAT|GUB": 380, "KOTAK": 2}."""
    if value is None or value == {}:
        return ()
    if not isinstance(value, dict) or len(value) > 40:
        raise Rejected("malformed", "counts harus objek {jenis|pemilihan: jumlah} (maks. 40)")
    found = []
    for key, count in value.items():
        item_type, _, race = str(key).partition("|")
        if (
            not item_type.isalnum()
            or len(item_type) > 12
            or race not in ("", *(r.value for r in rules.Race))
            or not isinstance(count, int)
            or isinstance(count, bool)
            or not 0 <= count <= 100_000
        ):
            raise Rejected(
                "malformed", f"counts: {str(key)[:20]!r} harus JENIS|PEMILIHAN: 0..100000"
            )
        found.append((f"{item_type.upper()}|{race}", count))
    return tuple(sorted(found))


def serial_from_label(text_or_serial: str, keyring: labels.Keyring, *, verified: bool) -> str:
    """Verify a scanned label and return its serial (or canonicalise a typed serial)."""
    if not verified:
        try:
            return labels.parse_serial(text_or_serial)
        except labels.LabelError:
            raise Rejected("malformed", "nomor seri tidak sah") from None
    try:
        return labels.decode(text_or_serial, keyring).serial
    except labels.LabelError as exc:
        code = next((c for cls, c in _LABEL_CODES.items() if isinstance(exc, cls)), "malformed")
        message = {
            "bad_signature": "Tanda tangan label tidak sah: label palsu atau rusak.",
            "unknown_key": "Label ditandatangani kunci yang tidak dikenal.",
            "unsupported_version": "Versi label tidak didukung.",
        }.get(code, "Label tidak dapat dibaca sebagai label Tepat.")
        raise Rejected(code, message) from None


def finding_dict(finding: rules.Finding) -> dict[str, Any]:
    """The JSON form of a finding for API answers."""
    return {
        "code": finding.code,
        "principle": finding.principle.value,
        "severity": finding.severity.value,
        "message": finding.message,
        "serial": finding.serial,
        "tps": finding.tps,
        "node": finding.node,
        "event_ids": list(finding.event_ids),
    }


def finding_row(finding: rules.Finding, kabkota: str) -> FindingRow:
    """Map a rules finding to a stored row (see :func:`finding_values`)."""
    return FindingRow(**finding_values(finding, kabkota))


def finding_values(finding: rules.Finding, kabkota: str) -> dict[str, Any]:
    """Map a rules finding to a stored row, placed in the most precise region it names."""
    # Where it was seen first (a tertukar carton sits in our warehouse), else its TPS.
    place = finding.node or finding.tps or kabkota
    try:
        region = codes.node_region(place)
    except ValueError:
        region = kabkota
    return dict(
        id=uuid.uuid4(),
        created_at=utcnow(),
        code=finding.code,
        principle=finding.principle.value,
        severity=finding.severity.value,
        message=finding.message,
        serial=finding.serial,
        tps=finding.tps,
        node=finding.node,
        region_code=region,
        kabkota_code=kabkota,
        event_ids=list(finding.event_ids),
        status=resolve.OPEN,
        resolved_by=None,
        resolved_at=None,
        detail={
            k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
            for k, v in finding.detail
        },
    )


class Ingestor:
    """Ingests one batch for one acting user and device."""

    def __init__(
        self,
        session: Session,
        *,
        user: User,
        token: DeviceToken | None,
        device_id: str,
        keyring: labels.Keyring,
        now: Callable[[], datetime],
        election: Election,
        policy: rules.Policy = rules.DEFAULT_POLICY,
        sent_at: datetime | None = None,
        label_events: bool = False,
        label_base: str | None = None,
    ) -> None:
        self.session = session
        # Only the server's own label bookkeeping may write cabut/ganti events.
        self.actions = ACTIONS | LABEL_ACTIONS if label_events else ACTIONS
        # The base URL labels' https form should name (TEPAT_LABEL_BASE_URL); None: unchecked.
        self.label_base = label_base.rstrip("/").upper() if label_base else None
        self.user = user
        self.token = token
        self.device_id = device_id
        self.owner = device_owner(user, token)
        self.keyring = keyring
        self.now = now
        self.election = election
        self.policy = policy
        self._last_time: datetime | None = None
        self._keyring_id = hashlib.sha256(keyring.to_json().encode()).hexdigest()
        # Rows of the batch, written with one executemany each when the batch is done.
        self._events: list[dict[str, Any]] = []
        self._findings: list[dict[str, Any]] = []
        self._dirty: dict[str, tuple[rules.ItemState, datetime, Item, str]] = {}
        self._heads: dict[str, bytes] = {}
        self._state_rows: dict[str, Any] = {}
        #: Scans refused as forged or unknown labels in this batch, per code.
        self._refusals: dict[str, list[ScanInput]] = {}
        #: Device signatures that verified (event id -> signature), and scans that did not.
        self._signatures: dict[str, tuple[bytes, str]] = {}
        self._bad_signatures: list[ScanInput] = []
        self.names = PlaceNames(session)
        # The device's clock at sending against ours measures its offset (app.custody.clock).
        self.sent_at = sent_at
        self.received_at = now()
        self.clock = clock.estimate(None, sent_at, self.received_at, policy.max_clock_jitter)

    def _serial(self, text_value: str, *, verified: bool) -> str:
        """Verify a label once (a kit's label recurs for every item packed into it).

        A valid signature under a key of this keyring stays valid, so verified labels are
        remembered across batches; failures are not cached.
        """
        key = (self._keyring_id, text_value, verified)
        serial = _verified_labels.get(key)
        if serial is None:
            serial = serial_from_label(text_value, self.keyring, verified=verified)
            if len(_verified_labels) > 200_000:
                _verified_labels.clear()
            _verified_labels[key] = serial
        return serial

    def _server_time(self) -> datetime:
        """Strictly increasing server times, so order by time is the order of receipt."""
        moment = self.now()
        if self._last_time is not None and moment <= self._last_time:
            moment = self._last_time + timedelta(microseconds=1)
        self._last_time = moment
        return moment

    def ingest(self, raw_events: Sequence[Any]) -> list[ScanResult]:
        """Ingest a batch; return one result per event, in order. Commits once."""
        results: list[ScanResult | None] = [None] * len(raw_events)
        parsed: list[tuple[int, ScanInput]] = []
        for index, raw in enumerate(raw_events):
            try:
                parsed.append((index, parse_event(raw, self.actions)))
            except Rejected as exc:
                event_id = str(raw.get("event_id", "")) if isinstance(raw, dict) else ""
                results[index] = ScanResult(event_id, "rejected", exc.code, exc.message)
        parsed = self._check_signatures(raw_events, parsed, results)
        by_kab: dict[str, list[tuple[int, ScanInput]]] = {}
        for index, scan in parsed:
            try:
                kab = codes.kabkota_of(scan.node)
            except ValueError:
                results[index] = ScanResult(
                    scan.event_id,
                    "rejected",
                    "unknown_node",
                    f"Simpul {scan.node!r} bukan kode simpul distribusi.",
                )
                continue
            by_kab.setdefault(kab, []).append((index, scan))
        postgres = self.session.get_bind().dialect.name == "postgresql"
        for attempt in range(ATTEMPTS):
            self._reset()
            attempt_results = list(results)
            try:
                # SQLite has one writer: one process lock. PostgreSQL: row locks per item.
                with locks.hold(self.session, "tepat-ingest", process_only=True):
                    self._ingest_all(by_kab, attempt_results)
                    self._track_device([scan for _, scan in parsed])
                    self._report_refusals()
                    self._write()
                    self._deltas.write(self.session)
                    self.session.commit()
            except (IntegrityError, OperationalError) as exc:
                self.session.rollback()
                # Another batch inserted the same row first, or the lock order crossed.
                if not postgres or attempt == ATTEMPTS - 1 or not _retryable(exc):
                    raise
                continue
            except Exception:
                self.session.rollback()
                raise
            return [r for r in attempt_results if r is not None]
        raise AssertionError("unreachable")  # pragma: no cover

    def _reset(self) -> None:
        """Forget what an aborted attempt buffered."""
        self._events, self._findings, self._dirty = [], [], {}
        self._heads, self._state_rows = {}, {}
        self._refusals = {}
        self._deltas = counts.Deltas()
        self._before: dict[str, rules.ItemState] = {}
        self._last_time = None

    def _ingest_all(
        self, by_kab: dict[str, list[tuple[int, ScanInput]]], results: list[ScanResult | None]
    ) -> None:
        device = self.session.get(Device, (self.device_id, self.owner))
        self.clock = clock.estimate(
            device.clock_samples if device is not None else None,
            self.sent_at,
            self.received_at,
            self.policy.max_clock_jitter,
        )
        for kab in sorted(by_kab):
            for index, result in self._ingest_kab(kab, by_kab[kab]):
                results[index] = result

    def _ingest_kab(
        self, kab: str, batch: list[tuple[int, ScanInput]]
    ) -> Iterable[tuple[int, ScanResult]]:
        session = self.session
        nodes = {
            n.code: n
            for n in session.scalars(
                select(CustodyNode).where(CustodyNode.code.in_({scan.node for _, scan in batch}))
            )
        }
        # Verify labels first: the serials tell which items to lock and load.
        serials: dict[str, str] = {}
        containers: dict[str, str] = {}
        early: dict[int, ScanResult] = {}
        for index, scan in batch:
            try:
                serials[scan.event_id] = self._serial(
                    scan.label or scan.serial or "", verified=bool(scan.label)
                )
                if scan.container_label:
                    containers[scan.event_id] = self._serial(
                        scan.container_label,
                        verified=not labels.is_serial(scan.container_label),
                    )
            except Rejected as exc:
                early[index] = ScanResult(scan.event_id, "rejected", exc.code, exc.message)
                self._refused(scan, exc.code)
        wanted = set(serials.values()) | set(containers.values())
        # Lock the scanned items and their containers, then the containers around them: a
        # tree of packed goods changes only through a scan that holds its containers, so the
        # dozens of items inside a kit need no lock of their own (states are read after).
        self._lock(Item.serial, wanted)
        # Plain rows, not ORM objects: a kit carries dozens of items on every move.
        items = {i.serial: i for i in rows_in(session, _ITEM_ROW, Item.serial, wanted)}
        closure = self._closure(set(items))
        self._lock(Item.serial, self._containers(closure) - wanted)
        items.update(
            {i.serial: i for i in rows_in(session, _ITEM_ROW, Item.serial, closure - set(items))}
        )
        # Read after the locks: a batch sent twice at once sees the first one's events.
        stored = {
            str(e.event_id): e
            for e in scalars_in(
                session,
                select(CustodyEvent),
                CustodyEvent.event_id,
                {uuid.UUID(scan.event_id) for _, scan in batch},
            )
        }
        state_rows = {
            r.serial: r for r in rows_in(session, _STATE_ROW, ItemStateRow.serial, set(items))
        }
        destinations = {i.destination for i in items.values()}
        self._lock(TpsTallyRow.tps, destinations)
        tally_rows = {
            r.tps: r
            for r in scalars_in(session, select(TpsTallyRow), TpsTallyRow.tps, destinations)
        }
        ensure_tallies(session, destinations, tally_rows)
        self._state_rows.update(state_rows)
        plan = build_plan(session, self.election, kab)
        # Receipt order is server-time order per item: never go behind an item's last event.
        latest = max(
            (r.last_event_at for r in state_rows.values() if r.last_event_at), default=None
        )
        if latest is not None and (self._last_time is None or latest > self._last_time):
            self._last_time = latest
        book = rules.Book(
            plan,
            [to_rules_item(i) for i in items.values()],
            self._parsed(state_rows),
            {d: codec.tally_from_dict(d, row.tally) for d, row in tally_rows.items()},
            policy=self.policy,
        )
        seen_in_batch: dict[str, ScanInput] = {}
        for index, scan in batch:
            previous = stored.get(scan.event_id)
            if index in early and previous is None:
                yield index, early[index]
                continue
            if previous is not None or scan.event_id in seen_in_batch:
                digest = (
                    previous.content_digest
                    if previous is not None
                    else seen_in_batch[scan.event_id].digest
                )
                if digest == scan.digest:
                    yield (
                        index,
                        ScanResult(
                            scan.event_id,
                            "duplicate",
                            "duplicate",
                            "Sudah diterima sebelumnya.",
                            serial=previous.serial if previous is not None else None,
                        ),
                    )
                else:
                    yield index, self._conflict(kab, scan, previous)
                continue
            try:
                result = self._one(
                    kab,
                    scan,
                    serials[scan.event_id],
                    containers.get(scan.event_id),
                    items,
                    nodes,
                    book,
                    state_rows,
                    tally_rows,
                )
            except Rejected as exc:
                result = ScanResult(
                    scan.event_id,
                    "rejected",
                    exc.code,
                    exc.message,
                    serial=serials.get(scan.event_id),
                )
            except CustodyError as exc:
                result = ScanResult(
                    scan.event_id,
                    "rejected",
                    exc.code,
                    _custody_message(exc),
                    serial=serials.get(scan.event_id),
                )
            if result.status == "accepted":
                seen_in_batch[scan.event_id] = scan
            if result.serial in items:
                result.item = self.names.describe(items[result.serial])
            yield index, result

    def _write(self) -> None:
        """Write the batch: events and findings by executemany, each item's latest state once."""
        session = self.session
        self._count()
        inserts, updates = [], []
        for serial, (state, server_time, item, _kab) in self._dirty.items():
            values = {
                "serial": serial,
                "holder": state.holder,
                "transit_to": state.transit_to,
                "stage": codec.stage_of(state),
                "condition": state.condition.value,
                "container": state.container,
                "last_event_at": server_time,
                "state": codec.state_to_dict(state),
                "item_seq": state.seq,
            }
            if serial in self._heads:
                values["last_hash"] = self._heads[serial]
            if serial in self._state_rows:
                updates.append(values)
            else:
                values.update(
                    kabkota_code=item.kabkota_code,
                    destination=item.destination,
                    last_hash=self._heads.get(serial),
                )
                inserts.append(values)
                self._state_rows[serial] = values  # type: ignore[assignment]
        if inserts:
            session.execute(ItemStateRow.__table__.insert(), inserts)
        # Bulk UPDATE by primary key, grouped by the columns each row sets.
        for with_hash in (True, False):
            group = [v for v in updates if ("last_hash" in v) is with_hash]
            if group:
                session.execute(update(ItemStateRow), group)
        if self._events:
            session.execute(CustodyEvent.__table__.insert(), self._events)
        if self._findings:
            session.execute(FindingRow.__table__.insert(), self._findings)
        self._events, self._findings, self._dirty = [], [], {}

    def _parsed(self, state_rows: Mapping[str, Any]) -> dict[str, rules.ItemState]:
        """The stored states, parsed once; the first seen in a batch is what it counts from."""
        parsed = {s: codec.state_from_dict(r.state) for s, r in state_rows.items()}
        for serial, state in parsed.items():
            self._before.setdefault(serial, state)
        return parsed

    def _count(self) -> None:
        """Keep the region counters current: each changed item's state before and after,
        receipts per hour and new findings (written last, the only rows every batch of a
        region shares, so they are locked only for the commit)."""
        deltas = counts.Deltas()
        for serial, (state, _time, item, _kab) in self._dirty.items():
            deltas.item(item, self._before.get(serial), state)
        for event in self._events:
            deltas.add(event["node"], counts.identified_metrics(event.get("identified_by")))
            if event["action"] == rules.Action.TERIMA.value:
                deltas.add(
                    event["node"], counts.receipt_metrics(event["node"], event["server_time"])
                )
        for values in self._findings:
            deltas.finding(values)
        self._deltas = deltas

    def _lock(self, column: Any, keys: Iterable[str]) -> None:
        """PostgreSQL: lock these rows until commit, in key order (no deadlock between
        batches that lock in one round; a crossing of two rounds is retried)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for chunk in chunked(keys):
            self.session.execute(
                select(column)
                .where(column.in_(chunk))
                .order_by(column)
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE: inserts may reference
            )

    def _containers(self, serials: set[str]) -> set[str]:
        """The containers the given items are packed in (PostgreSQL only: for the locks)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return set()
        return {
            c
            for c in scalars_in(
                self.session,
                select(ItemStateRow.container).where(ItemStateRow.container.is_not(None)),
                ItemStateRow.serial,
                serials,
            )
        }

    def _closure(self, serials: set[str]) -> set[str]:
        """Everything inside the given containers (transitively) and their containers."""
        found = set(serials)
        frontier = set(serials)
        while frontier:
            inner = set(
                scalars_in(
                    self.session,
                    select(ItemStateRow.serial),
                    ItemStateRow.container,
                    frontier,
                )
            )
            outer = {
                c
                for c in scalars_in(
                    self.session,
                    select(ItemStateRow.container),
                    ItemStateRow.serial,
                    frontier,
                )
                if c
            }
            frontier = (inner | outer) - found
            found |= frontier
        return found

    def _one(
        self,
        kab: str,
        scan: ScanInput,
        serial: str,
        container: str | None,
        items: dict[str, Item],
        nodes: dict[str, CustodyNode],
        book: rules.Book,
        state_rows: dict[str, ItemStateRow],
        tally_rows: dict[str, TpsTallyRow],
    ) -> ScanResult:
        session = self.session
        item = items.get(serial)
        if item is None:
            self._refused(scan, "unknown_label")
            raise Rejected("unknown_label", "Label ini tidak pernah diterbitkan oleh KPU.")
        if item.voided_at is not None and scan.action not in LABEL_ACTIONS:
            self._security_finding(
                scan.node,
                "voided_label_scanned",
                rules.Severity.WARNING,
                f"Label yang sudah dibatalkan dipindai di {self.names.node(scan.node)} "
                f"oleh perangkat {self.device_id}.",
                event_ids=(scan.event_id,),
                serial=serial,
            )
            raise Rejected("voided_label", "Label ini sudah dibatalkan dan tidak berlaku.")
        self._check_link_base(scan, serial)
        if container is not None and container not in items:
            raise Rejected("unknown_label", "Label wadah (kit/kotak) tidak dikenal.")
        if container is not None and items[container].voided_at is not None:
            raise Rejected(
                "voided_label", "Label wadah (kit/kotak) ini sudah dibatalkan; pakai penggantinya."
            )
        if scan.node not in nodes:
            raise Rejected("unknown_node", f"Simpul {scan.node} tidak ada dalam rencana.")
        if not codes.within(scan.node, self.user.scope_code):
            raise Rejected(
                "out_of_scope", f"{self.names.node(scan.node)} di luar wilayah tugas Anda."
            )
        if (
            scan.target is not None
            and scan.target not in nodes
            and not _node_exists(session, scan.target)
        ):
            raise Rejected("unknown_node", f"Tujuan {scan.target} tidak ada dalam rencana.")
        state_before = book.states[serial]
        server_time = self._server_time()
        event = rules.Event(
            event_id=scan.event_id,
            serial=serial,
            action=rules.Action(scan.action),
            node=scan.node,
            device_time=scan.device_time,
            server_time=server_time,
            user_id=str(self.user.id),
            device_id=self.device_id,
            seq=state_before.seq + 1,
            quantity=scan.quantity,
            condition=rules.Condition(scan.condition) if scan.condition else None,
            seals=scan.seals,
            counterpart=scan.counterpart,
            container=container,
            target=scan.target,
            ref_event_id=scan.ref_event_id,
            counts=scan.counts,
            clock_offset=self.clock.offset,
            clock_verified=self.clock.offset is not None,
            identified_by=scan.identified_by,
        )
        update = book.apply(event)
        row = state_rows.get(serial)
        head = self._heads.get(serial)
        if head is not None:
            prev_hash = head
        else:
            prev_hash = row.last_hash if row is not None and row.last_hash else rules.GENESIS_HASH
        self._events.append(
            dict(
                event_id=uuid.UUID(scan.event_id),
                serial=serial,
                item_seq=event.seq,
                action=scan.action,
                node=scan.node,
                target=scan.target,
                device_time=scan.device_time,
                server_time=server_time,
                skew_seconds=_clamp_int32(
                    (
                        self.clock.offset
                        if self.clock.offset is not None
                        else scan.device_time - server_time
                    ).total_seconds()
                ),
                user_id=self.user.id,
                token_id=self.token.id if self.token else None,
                device_id=self.device_id,
                device_seq=scan.device_seq,
                quantity=scan.quantity,
                condition=scan.condition,
                seals=list(scan.seals),
                counterpart=scan.counterpart,
                container=container,
                ref_event_id=scan.ref_event_id,
                counts=dict(scan.counts) or None,
                identified_by=scan.identified_by,
                clock_offset_s=(
                    _clamp_int32(self.clock.offset.total_seconds())
                    if self.clock.offset is not None
                    else None
                ),
                note=scan.note,
                kabkota_code=kab,
                content_digest=scan.digest,
                prev_hash=prev_hash,
            )
        )
        # The digest covers every stored column (ledger.stored_fields), new ones too.
        signed = self._signatures.get(scan.event_id)
        self._events[-1]["signature"], self._events[-1]["signed_body"] = signed or (None, None)
        values = ledger.complete_event(self._events[-1])
        digest = values["hash"] = ledger.event_hash(prev_hash, event.seq, values)
        # The batch keeps only each item's latest state; rows are written once at the end.
        for changed_serial, state in update.states.items():
            self._dirty[changed_serial] = (state, server_time, items[changed_serial], kab)
        self._heads[serial] = digest
        for tps, tally in update.tallies.items():
            tally_row = tally_rows.get(tps)
            if tally_row is None:
                tally_row = TpsTallyRow(tps=tps, kabkota_code=kab, tally={})
                session.add(tally_row)
                tally_rows[tps] = tally_row
            tally_row.tally = codec.tally_to_dict(tally)
            tally_row.updated_at = server_time
        # People read these: name the places ("TPS 003 Kelurahan Tewah"), not their codes.
        findings = [self.names.humanize(f, items.get(f.serial or "")) for f in update.findings]
        if event.action in (rules.Action.VOID, rules.Action.CORRECT):
            # Findings are state: the undone or corrected scan's findings are resolved.
            resolve.resolve_referenced(
                session, event, {serial, *update.states}, self._findings, server_time
            )
        self._findings.extend(finding_values(finding, kab) for finding in findings)
        return ScanResult(
            scan.event_id,
            "accepted",
            "ok",
            "Diterima.",
            [finding_dict(f) for f in findings],
            serial=serial,
        )

    def _conflict(self, kab: str, scan: ScanInput, previous: CustodyEvent | None) -> ScanResult:
        """Same id, different content: never overwrite; record a security finding."""
        self._security_finding(
            scan.node,
            "event_conflict",
            rules.Severity.CRITICAL,
            "Event dengan ID yang sama dikirim ulang dengan isi berbeda "
            f"oleh perangkat {self.device_id}.",
            event_ids=(scan.event_id,),
            # The stored item is named only to a caller who may see where it was scanned.
            serial=previous.serial
            if previous is not None and self._own_node(previous.node)
            else None,
        )
        return ScanResult(
            scan.event_id,
            "conflict",
            "conflict",
            "ID event sudah dipakai untuk isi yang berbeda; tidak disimpan.",
        )

    def _track_device(self, scans: list[ScanInput]) -> None:
        """Record the device's highest sequence number and clock offset; report gaps."""
        if not scans:
            return
        device = self.session.get(Device, (self.device_id, self.owner))
        if device is None:
            device = Device(
                device_id=self.device_id, owner=self.owner, user_id=self.user.id, max_seq=0, seen=0
            )
            self.session.add(device)
        self._track_clock(device, scans)
        expected = device.max_seq + 1
        for seq in sorted({s.device_seq for s in scans}):
            if device.seen and seq > expected:
                self._device_finding(
                    scans,
                    "device_seq_gap",
                    rules.Principle.AKUNTABILITAS,
                    f"Perangkat {self.device_id} melewatkan nomor urut {expected}–{seq - 1}: "
                    "ada pindaian yang belum terkirim atau hilang.",
                    detail=(
                        ("missing_from", expected),
                        ("missing_to", seq - 1),
                        ("device_id", self.device_id),
                    ),
                )
            expected = max(expected, seq + 1)
        late = [s for s in scans if s.device_seq <= device.max_seq]
        if device.seen and late:
            # A scan that arrives after its successors may fill a gap reported earlier.
            resolve.close_filled_gaps(
                self.session,
                self.device_id,
                late[0].event_id,
                self.now(),
                arriving={s.device_seq for s in scans},
            )
        device.max_seq = max(device.max_seq, expected - 1)
        device.seen += len(scans)
        device.last_seen_at = self.now()

    def _track_clock(self, device: Device, scans: list[ScanInput]) -> None:
        """Keep the device's clock samples; flag a clock that is off, jumped, or never sent."""
        estimate, previous = self.clock, device.clock_offset_s
        device.clock_samples = list(estimate.samples)
        device.clock_offset_s = (
            _clamp_int32(estimate.offset.total_seconds()) if estimate.offset is not None else None
        )
        ids = tuple(s.event_id for s in scans[:20])
        jitter = self.policy.max_clock_jitter.total_seconds()
        if estimate.verdict is clock.ClockVerdict.UNSTABLE:
            self._device_finding(
                scans,
                "clock_unstable",
                rules.Principle.WAKTU,
                f"Jam perangkat {self.device_id} berubah dari perkiraan sebelumnya (selisih "
                f"{abs(estimate.sample or 0) // 60} menit dari jam server); waktu pindaian "
                "kiriman ini tidak dipercaya.",
                event_ids=ids,
                detail=(("offset_seconds", estimate.sample or 0),),
            )
        elif estimate.verdict is clock.ClockVerdict.UNKNOWN and not device.seen:
            self._device_finding(
                scans,
                "clock_unknown",
                rules.Principle.WAKTU,
                f"Perangkat {self.device_id} tidak mengirim jamnya (sent_at); keterlambatan "
                "yang ditunjukkan pindaiannya ditandai belum terverifikasi.",
                event_ids=ids,
                severity=rules.Severity.INFO,
            )
        offset = device.clock_offset_s
        if (
            offset is not None
            and abs(offset) > self.policy.max_clock_skew.total_seconds()
            and (previous is None or abs(previous - offset) > jitter)
        ):
            ahead = offset > 0
            self._device_finding(
                scans,
                "clock_skew",
                rules.Principle.WAKTU,
                f"Jam perangkat {self.device_id} {'lebih cepat' if ahead else 'tertinggal'} "
                f"{abs(offset) // 60} menit dari jam server; waktu pindaian dikoreksi.",
                event_ids=ids,
                detail=(("skew_seconds", offset),),
                severity=rules.Severity.INFO,
            )

    def _device_finding(
        self,
        scans: list[ScanInput],
        code: str,
        principle: rules.Principle,
        message: str,
        *,
        event_ids: tuple[str, ...] = (),
        detail: tuple[tuple[str, int | str], ...] = (),
        severity: rules.Severity = rules.Severity.WARNING,
    ) -> None:
        """Record a finding about the device itself, placed where it scanned if that lies in
        the caller's scope, else in the caller's own region (never in another's desk)."""
        node = self._own_node(scans[0].node)
        finding = rules.Finding(
            code=code,
            principle=principle,
            severity=severity,
            message=message,
            node=node,
            event_ids=event_ids,
            detail=detail,
        )
        self._file(finding, node)

    # --- security findings: only ever in the caller's own scope ----------------------------

    def _own_node(self, node: str) -> str | None:
        """The node if it is one and lies in the caller's scope, else None."""
        return node if _valid_node(node) and codes.within(node, self.user.scope_code) else None

    def _check_link_base(self, scan: ScanInput, serial: str) -> None:
        """Flag a link-form label naming another site: its code is signed, its host is not,
        so the scan stands, but such a label sends phone cameras elsewhere (misprint or fake)."""
        base = labels.link_base(scan.label) if scan.label and self.label_base else None
        if base is None or base == self.label_base:
            return
        self._security_finding(
            scan.node,
            "label_other_host",
            rules.Severity.WARNING,
            f"Label berbentuk tautan menunjuk {base.lower()}, bukan "
            f"{(self.label_base or '').lower()}: kamera HP akan membuka situs lain.",
            event_ids=(scan.event_id,),
            serial=serial,
        )

    def _security_finding(
        self,
        node: str,
        code: str,
        severity: rules.Severity,
        message: str,
        *,
        event_ids: tuple[str, ...],
        serial: str | None = None,
        detail: tuple[tuple[str, int | str], ...] = (),
    ) -> None:
        """A finding about what a caller sent, filed where the caller may see it (its desk
        and Bawaslu of its region): at the node when that lies in the caller's scope, else
        at the caller's own region, so no token can write into another kabupaten's desk."""
        own = self._own_node(node)
        finding = rules.Finding(
            code=code,
            principle=rules.Principle.AKUNTABILITAS,
            severity=severity,
            message=message,
            serial=serial if own else None,
            node=own,
            event_ids=event_ids,
            detail=(("security", 1), ("device_id", self.device_id), *detail),
        )
        self._file(finding, own)

    def _file(self, finding: rules.Finding, own: str | None) -> None:
        """Store a finding at ``own`` (a node in the caller's scope), else at the scope."""
        values = finding_values(finding, codes.kabkota_of(own or self.user.scope_code))
        if own is None:
            values["region_code"] = codes.node_region(self.user.scope_code)
        self._findings.append(values)

    def _refused(self, scan: ScanInput, code: str) -> None:
        """Remember a scan refused as a forged or never-issued label (reported per batch)."""
        if code in _SECURITY_REFUSALS:
            self._refusals.setdefault(_SECURITY_REFUSALS[code], []).append(scan)

    def _check_signatures(
        self,
        raw_events: Sequence[Any],
        parsed: list[tuple[int, ScanInput]],
        results: list[ScanResult | None],
    ) -> list[tuple[int, ScanInput]]:
        """A device with a registered key must sign every event: keep those that verify."""
        key = self.session.scalar(
            select(Device.public_key).where(
                Device.device_id == self.device_id, Device.owner == self.owner
            )
        )
        if key is None:
            return parsed
        kept = []
        for index, scan in parsed:
            try:
                raw = raw_events[index]
                self._signatures[scan.event_id] = (
                    signing.verify_event(key, raw),
                    signing.signed_bytes(raw).decode(),
                )
            except signing.SignatureInvalid:
                results[index] = ScanResult(
                    scan.event_id,
                    "rejected",
                    "bad_device_signature",
                    "Tanda tangan perangkat tidak sah: pindaian ini tidak dibuat oleh "
                    "perangkat yang terdaftar.",
                )
                self._bad_signatures.append(scan)
                continue
            kept.append((index, scan))
        return kept

    def _report_refusals(self) -> None:
        """One security finding per kind of refused label per batch, with the count."""
        for scan in self._bad_signatures:
            self._refused(scan, "bad_device_signature")
        for code, scans in sorted(self._refusals.items()):
            severity, words = _SECURITY_WORDS[code]
            self._security_finding(
                scans[0].node,
                code,
                severity,
                f"{len(scans)} pindaian {words} ditolak, dari perangkat {self.device_id}.",
                event_ids=tuple(s.event_id for s in scans[:20]),
                detail=(("count", len(scans)),),
            )
        self._refusals = {}


#: Refusal codes that are security findings, and the finding's code.
_SECURITY_REFUSALS = {
    "bad_signature": "forged_label_scanned",
    "unknown_key": "forged_label_scanned",
    "unknown_label": "unknown_label_scanned",
    "bad_device_signature": "forged_scan",
}
_SECURITY_WORDS = {
    "forged_label_scanned": (
        rules.Severity.CRITICAL,
        "label palsu (tanda tangan tidak sah atau kunci tidak dikenal)",
    ),
    "unknown_label_scanned": (rules.Severity.WARNING, "label yang tidak pernah diterbitkan KPU"),
    "forged_scan": (
        rules.Severity.CRITICAL,
        "bertanda tangan perangkat tidak sah (bukan dari perangkat terdaftar)",
    ),
}


def register_device_key(
    session: Session, user: User, token: DeviceToken | None, device_id: str, public_key: bytes
) -> bool:
    """Bind an Ed25519 key to a device of this token (or web account); True when new.

    A device keeps its first key: another key for it is a Conflict (a new phone or a
    lost key gets a new device_id), so nobody can swap in a key to sign for it.
    """
    if len(public_key) != 32:
        raise ValidationFailed("public_key harus kunci Ed25519 (32 bita, base64url).")
    owner = device_owner(user, token)
    device = session.get(Device, (device_id, owner))
    if device is None:
        device = Device(device_id=device_id, owner=owner, user_id=user.id, max_seq=0, seen=0)
        session.add(device)
    if device.public_key == public_key:
        return False
    if device.public_key is not None:
        raise Conflict(
            "Perangkat ini sudah punya kunci lain; pakai device_id baru untuk kunci baru."
        )
    device.public_key = public_key
    session.commit()
    return True


def device_owner(user: User, token: DeviceToken | None) -> str:
    """Who a device row belongs to: the device token, else the signed-in account (web)."""
    return f"t:{token.id.hex}" if token is not None else f"u:{user.id.hex}"


def _clamp_int32(seconds: float) -> int:
    """Fit a clock offset into the INTEGER column (devices a century off exist in tests)."""
    return max(-MAX_INT32, min(MAX_INT32, int(seconds)))


def _valid_node(code: str) -> bool:
    try:
        codes.node_kind(code)
    except ValueError:
        return False
    return True


def _node_exists(session: Session, code: str) -> bool:
    return session.get(CustodyNode, code) is not None


def ensure_tallies(
    session: Session, destinations: Iterable[str], tally_rows: dict[str, TpsTallyRow]
) -> None:
    """Create missing tally rows from every item destined there and its state."""
    missing = set(destinations) - set(tally_rows)
    if not missing:
        return
    items = scalars_in(session, select(Item), Item.destination, missing)
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in scalars_in(
            session, select(ItemStateRow), ItemStateRow.serial, [i.serial for i in items]
        )
    }
    computed = rules.tally_items([to_rules_item(i) for i in items], states)
    for destination in sorted(missing):
        tally = computed.get(destination) or rules.TpsTally(destination)
        kab = codes.kabkota_of(destination)
        row = TpsTallyRow(tps=destination, kabkota_code=kab, tally=codec.tally_to_dict(tally))
        session.add(row)
        tally_rows[destination] = row
    session.flush()


def forget_tallies(session: Session, destinations: Iterable[str]) -> None:
    """Rebuild derived tallies after items were issued or voided there: the desk reads
    every TPS's tally and never rebuilds one from the items (that grows with the region)."""
    wanted = set(destinations)
    for chunk in chunked(wanted):
        session.execute(TpsTallyRow.__table__.delete().where(TpsTallyRow.tps.in_(chunk)))
    for chunk in chunked(wanted, 500):  # a few hundred TPS of items at a time
        ensure_tallies(session, chunk, {})


def _retryable(exc: Exception) -> bool:
    """A deadlock, a serialisation failure or a unique row another batch wrote first."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in {"40P01", "40001", "23505"}


def _custody_message(exc: CustodyError) -> str:
    """Plain Indonesian for errors the rules raise."""
    return {
        "not_allowed": "Tindakan ini tidak dapat dilakukan pada keadaan barang saat ini.",
        "malformed": "Isi pindaian tidak lengkap atau tidak sah.",
        "unknown_item": "Barang tidak dikenal.",
        "unknown_node": "Simpul distribusi tidak dikenal.",
        "voided_label": "Label ini sudah dibatalkan.",
    }.get(exc.code, exc.message) + (f" ({exc.message})" if exc.code == "not_allowed" else "")
