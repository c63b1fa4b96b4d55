"""Scan ingestion: verify labels, apply the custody rules, append hash-chained events.

One batch is one transaction. Only what the hash chain needs is serialised: on
PostgreSQL the rows of the items a batch touches (each scanned item, its container and
everything inside it) and the tallies of their TPS are locked in a fixed order, so couriers
of one kabupaten and of different kabupaten ingest in parallel; SQLite has one writer and
takes one process lock. Every read is bounded by the batch (never by the kabupaten), and
IN lists are chunked below the driver's parameter limit. Duplicates are recognised by the
client's event id, and a resend with different content is a conflict, recorded as a
security finding.

The use case is split by concern: :mod:`app.custody.intake` checks what the device sent,
:mod:`app.custody.batch_load` locks and reads the batch's rows, :mod:`app.custody.batch_store`
applies and writes it, :mod:`app.custody.device_checks` files the device and security
findings. The names other modules use are re-exported here.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

import labels
from app import locks
from app.auth.models import DeviceToken, User
from app.custody import clock, codec, counts, quantities, rules, statistics
from app.custody.batch_load import BatchLoad
from app.custody.batch_store import BatchStore
from app.custody.chunks import CHUNK, chunked, rows_in, scalars_in
from app.custody.devices import device_owner, register_device_key
from app.custody.errors import CustodyError
from app.custody.findings import finding_dict, finding_row, finding_values
from app.custody.intake import (
    ACTIONS,
    CONDITIONS,
    IDENTIFIED_BY,
    LABEL_ACTIONS,
    MAX_BATCH,
    Rejected,
    ScanInput,
    ScanResult,
    content_digest,
    parse_event,
    serial_from_label,
)
from app.custody.models import CustodyEvent, Device, EventKey, ItemStateRow, TpsTallyRow
from app.custody.names import PlaceNames
from app.custody.planview import ITEM_COLUMNS, build_plan, to_rules_item
from app.custody.tallies import ensure_tallies, forget_tallies
from app.items.models import Item
from app.plan import codes
from app.plan.models import CustodyNode, Election

__all__ = [
    "ACTIONS",
    "ATTEMPTS",
    "CHUNK",
    "CONDITIONS",
    "IDENTIFIED_BY",
    "LABEL_ACTIONS",
    "MAX_BATCH",
    "Ingestor",
    "Rejected",
    "ScanInput",
    "ScanResult",
    "chunked",
    "content_digest",
    "device_owner",
    "ensure_tallies",
    "finding_dict",
    "finding_row",
    "finding_values",
    "forget_tallies",
    "parse_event",
    "register_device_key",
    "rows_in",
    "scalars_in",
    "serial_from_label",
]

#: (keyring fingerprint, label text, verified?) -> serial, for labels already verified.
_verified_labels: dict[tuple[str, str, bool], str] = {}


_ITEM_ROW = select(*ITEM_COLUMNS)
_STATE_ROW = select(
    ItemStateRow.serial, ItemStateRow.state, ItemStateRow.last_hash, ItemStateRow.last_event_at
)
#: A batch that lost a race (deadlock, a row another batch inserted first) is replayed.
ATTEMPTS = 4


class Ingestor(BatchLoad, BatchStore):
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
                    if postgres:
                        # Every read of a batch is a key lookup. The closure asks which
                        # items are inside ~35,000 others, nearly all of which hold nothing;
                        # the planner, counting an average kit's contents per key, would
                        # read the whole partition instead (400 ms against 1.4 ms at
                        # 8,000 TPS). Never a scan of a table here, whatever it estimates.
                        self.session.execute(text("SET LOCAL enable_seqscan = off"))
                    self._ingest_all(by_kab, attempt_results)
                    self._track_device([scan for _, scan in parsed])
                    self._report_refusals()
                    self._write()
                    for kab, destinations in sorted(self._touched.items()):
                        quantities.collect(
                            self.session, self.election, kab, destinations, self._deltas
                        )
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
            # A kabupaten fills faster than autovacuum analyses: keep the plans on the keys.
            statistics.refresh(self.session)
            return [r for r in attempt_results if r is not None]
        raise AssertionError("unreachable")  # pragma: no cover

    def _reset(self) -> None:
        """Forget what an aborted attempt buffered."""
        self._events, self._findings, self._dirty = [], [], {}
        self._heads, self._state_rows = {}, {}
        self._refusals = {}
        self._deltas = counts.Deltas()
        self._touched: dict[str, set[str]] = {}
        self._before: dict[str, rules.ItemState] = {}
        self._plans: dict[str, rules.Plan] = {}
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
        # One index read of event_key, then only the partitions holding those events.
        known = rows_in(
            session,
            select(EventKey.event_id, EventKey.province),
            EventKey.event_id,
            {uuid.UUID(scan.event_id) for _, scan in batch},
        )
        by_province: dict[str, set[uuid.UUID]] = {}
        for key in known:
            by_province.setdefault(key.province, set()).add(key.event_id)
        stored = {
            str(e.event_id): e
            for province, ids in sorted(by_province.items())
            for e in scalars_in(
                session,
                select(CustodyEvent).where(CustodyEvent.province == province),
                CustodyEvent.event_id,
                ids,
            )
        }
        # Narrowed to the items' provinces: on PostgreSQL only their partitions are read.
        provinces = {codes.province_of(i.kabkota_code) for i in items.values()}
        state_rows = {
            r.serial: r
            for r in rows_in(
                session,
                _STATE_ROW.where(ItemStateRow.province.in_(sorted(provinces))),
                ItemStateRow.serial,
                set(items),
            )
        }
        destinations = {i.destination for i in items.values()}
        self._touched.setdefault(kab, set()).update(destinations)
        self._lock(TpsTallyRow.tps, destinations)
        tally_rows = {
            r.tps: r
            for r in scalars_in(session, select(TpsTallyRow), TpsTallyRow.tps, destinations)
        }
        ensure_tallies(session, destinations, tally_rows)
        self._state_rows.update(state_rows)
        # The deadlines the counts of waiting items follow: held until the commit.
        counts.hold_plan(session, kab)
        plan = self._plans[kab] = build_plan(session, self.election, kab)
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
