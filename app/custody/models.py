"""Custody events (append-only, hash-chained), derived state, findings and the Merkle log.

The three tables that grow with the nation (events, states, findings) carry ``province``,
the two-digit code of the item's (a finding: its kabupaten's) province. On PostgreSQL they
are partitioned by ``LIST (province)`` (migration 0011_partitions), so their primary keys
and unique constraints include it; the mappers still identify a row by its own id (an
event id, a serial, a finding id), which determines the province (docs/SCALE.md).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import UTCDateTime, db
from app.timeutil import utcnow


class CustodyEvent(db.Model):
    """One scan. Never updated or deleted (a PostgreSQL trigger refuses both)."""

    __tablename__ = "custody_event"
    __table_args__ = (
        # One event per position in an item's chain: an item lives in one province.
        UniqueConstraint("serial", "item_seq", "province"),
        Index("ix_custody_event_device", "device_id", "device_seq"),
    )

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    # The item's province (not the scanning node's: a tertukar carton keeps its chain in
    # one partition). A storage key derived from the serial, outside the event hash.
    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    serial: Mapped[str] = mapped_column(ForeignKey("item.serial"), index=True)
    item_seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(10))
    node: Mapped[str] = mapped_column(ForeignKey("custody_node.code"), index=True)
    target: Mapped[str | None] = mapped_column(String(16))
    device_time: Mapped[datetime] = mapped_column(UTCDateTime)
    server_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    skew_seconds: Mapped[int] = mapped_column(Integer, default=0)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    token_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("device_token.id"))
    device_id: Mapped[str] = mapped_column(String(64))
    device_seq: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int | None] = mapped_column(Integer)
    condition: Mapped[str | None] = mapped_column(String(16))
    seals: Mapped[list[str]] = mapped_column(JSON, default=list)
    counterpart: Mapped[str | None] = mapped_column(String(120))
    container: Mapped[str | None] = mapped_column(String(16))
    ref_event_id: Mapped[str | None] = mapped_column(String(36))
    # What a terima/buka of a container confirmed inside: {"SURAT|GUB": 380, ...}.
    counts: Mapped[dict[str, int] | None] = mapped_column(JSON)
    # How the item was identified: qr_signed (TP1 label verified), qr_link (its https
    # form), typed (a serial typed or read by eye). None on events from before it was kept.
    identified_by: Mapped[str | None] = mapped_column(String(10))
    # The device clock's lead over the server as estimated at receipt; None: not trusted.
    clock_offset_s: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="")
    kabkota_code: Mapped[str] = mapped_column(String(13), index=True)
    # SHA-256 of what the client sent: tells a resend (duplicate) from a clash (conflict).
    content_digest: Mapped[str] = mapped_column(String(64))
    # The device's Ed25519 signature over the event as sent (scanner.signing), if it has a key.
    signature: Mapped[bytes | None] = mapped_column(LargeBinary(64))
    # The exact bytes the device signed (scanner.signing.signed_bytes), to check it later.
    signed_body: Mapped[str | None] = mapped_column(Text)
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))

    __mapper_args__ = {"primary_key": [event_id]}


class ItemStateRow(db.Model):
    """Where an item is now, kept up to date on ingest (the event log is not rescanned)."""

    __tablename__ = "item_state"
    # What is packed in these containers, from the index alone (the batch's closure).
    __table_args__ = (Index("ix_item_state_container_serial", "container", "serial"),)

    serial: Mapped[str] = mapped_column(ForeignKey("item.serial"), primary_key=True)
    # The item's province (partition key on PostgreSQL).
    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    kabkota_code: Mapped[str] = mapped_column(String(13), index=True)
    # No index on what a move changes (holder, stage): a kit's items are updated in place
    # (migration 0014_hot_state). Places are found through ``item``.
    destination: Mapped[str] = mapped_column(String(16))
    holder: Mapped[str | None] = mapped_column(String(16))
    transit_to: Mapped[str | None] = mapped_column(String(16))
    # "kembali_jalan" (13) and longer stage names must fit: a return scan wrote past 12.
    stage: Mapped[str] = mapped_column(String(20))
    container: Mapped[str | None] = mapped_column(String(16))
    condition: Mapped[str] = mapped_column(String(16), default="baik")
    item_seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state: Mapped[dict[str, Any]] = mapped_column(JSON)

    __mapper_args__ = {"primary_key": [serial]}


class TpsTallyRow(db.Model):
    """Per TPS: what arrived per item type and race, kept up to date on ingest."""

    __tablename__ = "tps_tally"

    tps: Mapped[str] = mapped_column(String(13), primary_key=True)
    kabkota_code: Mapped[str] = mapped_column(String(13), index=True)
    tally: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FindingRow(db.Model):
    """A finding against the enam tepat, with the events that prove it. Append-only."""

    __tablename__ = "finding"
    __table_args__ = (
        Index("ix_finding_region", "kabkota_code", "principle", "severity"),
        # The desk's newest-first pages of an area (app.custody.overview.findings_page).
        Index("ix_finding_kab_created", "kabkota_code", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    # The province of ``kabkota_code`` (partition key on PostgreSQL).
    province: Mapped[str] = mapped_column(String(2), primary_key=True)
    code: Mapped[str] = mapped_column(String(40), index=True)
    principle: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(10))
    message: Mapped[str] = mapped_column(Text)
    serial: Mapped[str | None] = mapped_column(String(16), index=True)
    tps: Mapped[str | None] = mapped_column(String(13), index=True)
    node: Mapped[str | None] = mapped_column(String(16), index=True)
    region_code: Mapped[str] = mapped_column(String(13), index=True)
    kabkota_code: Mapped[str] = mapped_column(String(13))
    event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Findings are state: open until a later event (batal, koreksi, the missing scan) resolves it.
    status: Mapped[str] = mapped_column(String(10), default="open", server_default="open")
    resolved_by: Mapped[str | None] = mapped_column(String(36))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __mapper_args__ = {"primary_key": [id]}


class Device(db.Model):
    """A scanner seen by the server: the last sequence number, to report gaps.

    A device belongs to whoever registered it: its ``owner`` is the device token (or, for
    the browser page, the signed-in account), so another token naming the same device_id
    gets a row of its own and can never move this one's sequence numbers.
    """

    __tablename__ = "device"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str] = mapped_column(String(40), primary_key=True, default="")
    # The device's Ed25519 key (raw 32 bytes), registered once with its token: every event
    # from a device with a key must carry a signature that verifies under it.
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    max_seq: Mapped[int] = mapped_column(Integer, default=0)
    seen: Mapped[int] = mapped_column(Integer, default=0)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The clock each batch carried against the server's: recent offsets (seconds, newest
    # last) and their robust estimate; None while unknown or unstable.
    clock_samples: Mapped[list[int] | None] = mapped_column(JSON)
    clock_offset_s: Mapped[int | None] = mapped_column(Integer)


class EventKey(db.Model):
    """Every event id ever stored, and the province whose partition holds the event.

    ``custody_event`` is partitioned by province on PostgreSQL, where a unique key must hold
    the partition key: this small table keeps event ids unique across all provinces (two
    batches racing with one id in two provinces: the second fails here and is retried as
    a duplicate or a conflict), and lets a batch find its already-stored events by one
    index read instead of a probe of every partition. Append-only like the log.
    """

    __tablename__ = "event_key"

    event_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    province: Mapped[str] = mapped_column(String(2))


class LedgerEntry(db.Model):
    """A leaf of the global Merkle log; the index is assigned by the one integrator."""

    __tablename__ = "ledger_entry"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # No foreign key: one into a partitioned table would need the partition key. The
    # integrator writes entries only from stored events, which are never deleted.
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(db.Model):
    """A signed tree head of the Merkle log (C2SP checkpoint note)."""

    __tablename__ = "ledger_checkpoint"

    tree_size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class RegionCount(db.Model):
    """One counter of a region, TPS or node, kept on ingest (``app.custody.counts``)."""

    __tablename__ = "region_count"
    # Rows of one metric in a range of places: the late destinations of a deadline.
    __table_args__ = (Index("ix_region_count_metric", "metric", "region_code"),)

    region_code: Mapped[str] = mapped_column(String(16), primary_key=True)
    metric: Mapped[str] = mapped_column(String(96), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)
