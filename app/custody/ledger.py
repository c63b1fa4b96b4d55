"""The global Merkle log (RFC 9162) over custody events, its integrator and its verifier.

The integrator runs off the request path (``flask ledger integrate``, or a loop with
``--every``): it appends every event not yet in the log, in server receipt order, and
signs a checkpoint. ``verify`` recomputes item chains, leaves and roots from the rows
and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import locks
from app.custody import merkle, rules
from app.custody.errors import CheckpointError, LedgerMismatch, ProofError
from app.custody.models import Checkpoint, CustodyEvent, Device, EventKey, LedgerEntry
from app.custody.partitions import partitions
from app.items.models import Item
from scanner import signing

#: The log tables: append-only by trigger (migrations 0002, 0006) and by the app's role.
LOG_TABLES = ("custody_event", "ledger_entry", "ledger_checkpoint", "event_key")
LEDGER_KEY_FILE = "ledger.pem"
KEY_NAME = "tepat-ledger"
_LEAF_DOMAIN = b"tepat/ledger-leaf/v1\x00"
#: Ingest transactions still open when the integrator ran may land slightly behind it.
GRACE = timedelta(seconds=60)


def ledger_key(key_dir: str | Path) -> Ed25519PrivateKey:
    """Load the checkpoint signing key, creating it (0600) on first use."""
    path = Path(key_dir) / LEDGER_KEY_FILE
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise CheckpointError(f"{path} is not an Ed25519 key")
        return key
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)
    return key


def ledger_public_key(key_dir: str | Path) -> Ed25519PublicKey:
    """The public half that verifies checkpoints."""
    return ledger_key(key_dir).public_key()


def leaf_data(event_id: uuid.UUID, event_hash: bytes) -> bytes:
    """The bytes a log leaf commits to: the event id and its chain digest."""
    return _LEAF_DOMAIN + event_id.bytes + event_hash


#: Bound by ``rules.event_digest`` itself (the chain link and the position), or the result;
#: and ``province``, the partition key derived from the serial (which the digest covers),
#: so events stored before the column existed verify unchanged.
_OUTSIDE_CONTENT = frozenset({"hash", "prev_hash", "item_seq", "province"})


def _plain(value: Any) -> Any:
    """A stored value as canonical JSON: UUIDs as text, instants as UTC with microseconds,
    bytes as hex; lists and objects as they are."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def _column_default(column: Any) -> Any:
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    return default.arg(None) if default.is_callable else None


def complete_event(values: dict[str, Any]) -> dict[str, Any]:
    """Fill the columns an insert would default, so the hash sees what is stored."""
    for column in CustodyEvent.__table__.columns:
        if column.name not in values:
            values[column.name] = _column_default(column)
    return values


def stored_fields(values: Mapping[str, Any]) -> dict[str, Any]:
    """Every stored column of a custody event but the chain's own (``hash``, ``prev_hash``,
    ``item_seq``), as JSON types: a column added later is covered without a change here."""
    return {
        column.name: _plain(values.get(column.name))
        for column in CustodyEvent.__table__.columns
        if column.name not in _OUTSIDE_CONTENT
    }


def event_hash(prev_hash: bytes, item_seq: int, values: Mapping[str, Any]) -> bytes:
    """The chain digest of a stored event: ``rules.event_digest`` over the sorted-keys
    compact UTF-8 JSON of :func:`stored_fields` (what an outsider recomputes from the API)."""
    canonical = json.dumps(
        stored_fields(values), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    return rules.event_digest(prev_hash, item_seq, canonical)


def row_values(row: CustodyEvent) -> dict[str, Any]:
    """A stored event row as a column -> value dict."""
    return {column.name: getattr(row, column.key) for column in CustodyEvent.__table__.columns}


def check_rows(rows: Iterable[CustodyEvent], prev_hash: bytes = rules.GENESIS_HASH) -> bytes:
    """Recompute one item's chain from its stored rows (in item_seq order); return its head.

    Raises LedgerMismatch at the first row whose sequence, link or digest differs.
    """
    head = prev_hash
    for index, row in enumerate(rows):
        if row.item_seq != index + 1 or row.prev_hash != head:
            raise LedgerMismatch(
                f"entry {index} is out of sequence", index=index, entry_id=str(row.event_id)
            )
        head = event_hash(head, row.item_seq, row_values(row))
        if head != row.hash:
            raise LedgerMismatch(
                f"entry {index} does not match its stored digest",
                index=index,
                entry_id=str(row.event_id),
            )
    return head


def rules_event(row: CustodyEvent) -> rules.Event:
    """Rebuild the pure event from a stored row (for chain recomputation)."""
    return rules.Event(
        event_id=str(row.event_id),
        serial=row.serial,
        action=rules.Action(row.action),
        node=row.node,
        device_time=row.device_time,
        server_time=row.server_time,
        user_id=str(row.user_id),
        device_id=row.device_id,
        seq=row.item_seq,
        quantity=row.quantity,
        condition=rules.Condition(row.condition) if row.condition else None,
        seals=tuple(row.seals or ()),
        counterpart=row.counterpart,
        container=row.container,
        target=row.target,
        ref_event_id=row.ref_event_id,
        counts=tuple(sorted((row.counts or {}).items())),
        clock_offset=(
            timedelta(seconds=row.clock_offset_s) if row.clock_offset_s is not None else None
        ),
        clock_verified=row.clock_offset_s is not None,
    )


def integrate(session: Session, key_dir: str | Path, origin: str) -> Checkpoint | None:
    """Append every unlogged event in receipt order and sign a checkpoint; None if nothing new."""
    with locks.hold(session, "tepat-ledger-integrator", wait=False) as acquired:
        if not acquired:
            return None
        return _integrate(session, key_dir, origin)


def _integrate(session: Session, key_dir: str | Path, origin: str) -> Checkpoint | None:
    try:
        size = session.scalar(select(func.count(LedgerEntry.idx))) or 0
        pending = session.execute(
            select(CustodyEvent.event_id, CustodyEvent.hash)
            .outerjoin(LedgerEntry, LedgerEntry.event_id == CustodyEvent.event_id)
            .where(LedgerEntry.idx.is_(None))
            .order_by(CustodyEvent.server_time, CustodyEvent.event_id)
        ).all()
        if not pending:
            session.rollback()
            return None
        new = [
            {
                "idx": size + i,
                "event_id": event_id,
                "leaf_hash": merkle.leaf_hash(leaf_data(event_id, digest)),
            }
            for i, (event_id, digest) in enumerate(pending)
        ]
        session.execute(LedgerEntry.__table__.insert(), new)
        leaves = list(session.scalars(select(LedgerEntry.leaf_hash).order_by(LedgerEntry.idx)))
        root = merkle.root(leaves)
        note = merkle.sign_checkpoint(origin, len(leaves), root, ledger_key(key_dir), KEY_NAME)
        checkpoint = Checkpoint(tree_size=len(leaves), root=root, note=note)
        session.add(checkpoint)
        session.commit()
        return checkpoint
    except Exception:
        session.rollback()
        raise


@dataclass
class VerifyReport:
    """The outcome of ``verify``: what was checked and the first problem found."""

    events: int = 0
    items: int = 0
    leaves: int = 0
    checkpoints: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing failed."""
        return not self.problems


def _chain_problems(session: Session) -> Iterator[str]:
    """Recompute every item's chain; name the first bad event of each item."""
    current: str | None = None
    prev = rules.GENESIS_HASH
    expected_seq = 1
    broken: str | None = None
    for row in session.scalars(
        select(CustodyEvent).order_by(CustodyEvent.serial, CustodyEvent.item_seq)
    ):
        if row.serial != current:
            current, prev, expected_seq, broken = row.serial, rules.GENESIS_HASH, 1, None
        if broken == row.serial:
            continue
        label = f"event {row.event_id} (seri {row.serial}, urutan {row.item_seq})"
        if row.item_seq != expected_seq:
            broken = row.serial
            yield (
                f"{label}: urutan rantai terputus, seharusnya {expected_seq} "
                "(event dihapus atau disisipkan)"
            )
            continue
        if row.prev_hash != prev:
            broken = row.serial
            yield f"{label}: hash sebelumnya tidak cocok dengan event sebelumnya"
            continue
        digest = event_hash(prev, row.item_seq, row_values(row))
        if digest != row.hash:
            broken = row.serial
            yield f"{label}: isi event tidak cocok dengan hash-nya (diubah)"
            continue
        prev = row.hash
        expected_seq += 1


def _partition_problems(session: Session) -> Iterator[str]:
    """Events stored under another province than their item's: the partition key is
    outside the hash, and an event moved there would drop out of the item's history."""
    moved = session.execute(
        select(CustodyEvent.event_id, CustodyEvent.serial, CustodyEvent.province)
        .join(Item, Item.serial == CustodyEvent.serial)
        .where(CustodyEvent.province != func.substr(Item.kabkota_code, 1, 2))
        .order_by(CustodyEvent.serial, CustodyEvent.item_seq)
    )
    for event_id, serial, province in moved:
        yield (
            f"event {event_id} (seri {serial}): disimpan di provinsi {province}, "
            "bukan provinsi barangnya"
        )


def _key_problems(session: Session) -> Iterator[str]:
    """Events whose id is missing from ``event_key`` or filed there under another province:
    the index that keeps event ids unique across the partitions no longer guards them."""
    unguarded = session.execute(
        select(CustodyEvent.event_id, CustodyEvent.serial)
        .outerjoin(
            EventKey,
            (EventKey.event_id == CustodyEvent.event_id)
            & (EventKey.province == CustodyEvent.province),
        )
        .where(EventKey.event_id.is_(None))
        .order_by(CustodyEvent.serial, CustodyEvent.item_seq)
    )
    for event_id, serial in unguarded:
        yield f"event {event_id} (seri {serial}): tidak tercatat di event_key"


def verify(
    session: Session, key_dir: str | Path, pinned: str | None = None, *, derived: bool = True
) -> VerifyReport:
    """Recompute chains, leaves and roots against the signed checkpoints (and ``pinned``, a
    checkpoint note an observer kept outside the database); with ``derived``, recompute
    item state, tallies and findings from the log too (app.custody.evidence)."""
    report = VerifyReport()
    report.events = session.scalar(select(func.count(CustodyEvent.event_id))) or 0
    report.items = session.scalar(select(func.count(func.distinct(CustodyEvent.serial)))) or 0
    report.problems.extend(_chain_problems(session))
    report.problems.extend(_signature_problems(session))
    report.problems.extend(_partition_problems(session))
    report.problems.extend(_key_problems(session))
    events = {
        row.event_id: row.hash
        for row in session.execute(select(CustodyEvent.event_id, CustodyEvent.hash))
    }
    leaves: list[bytes] = []
    logged: set[uuid.UUID] = set()
    for entry in session.scalars(select(LedgerEntry).order_by(LedgerEntry.idx)):
        if entry.idx != len(leaves):
            report.problems.append(
                f"log: indeks {len(leaves)} hilang (entri berikutnya {entry.idx})"
            )
            break
        digest = events.get(entry.event_id)
        if digest is None:
            report.problems.append(
                f"log indeks {entry.idx}: event {entry.event_id} tidak ada (dihapus)"
            )
        elif merkle.leaf_hash(leaf_data(entry.event_id, digest)) != entry.leaf_hash:
            report.problems.append(
                f"log indeks {entry.idx}: event {entry.event_id} tidak cocok dengan daunnya"
            )
        leaves.append(entry.leaf_hash)
        logged.add(entry.event_id)
    report.leaves = len(leaves)
    public = ledger_public_key(key_dir)
    checkpoints = list(session.scalars(select(Checkpoint).order_by(Checkpoint.tree_size)))
    report.checkpoints = len(checkpoints)
    previous_size = 0
    for checkpoint in checkpoints:
        try:
            head = merkle.verify_checkpoint(checkpoint.note, public, KEY_NAME)
        except CheckpointError as exc:
            report.problems.append(
                f"checkpoint {checkpoint.tree_size}: tanda tangan tidak sah ({exc})"
            )
            continue
        if head.size != checkpoint.tree_size or head.root != checkpoint.root:
            report.problems.append(
                f"checkpoint {checkpoint.tree_size}: kolom ukuran/akar tidak sama dengan "
                "catatan bertanda tangan (diubah)"
            )
        if head.size > len(leaves) or merkle.root(leaves[: head.size]) != head.root:
            report.problems.append(
                f"checkpoint {checkpoint.tree_size}: akar tidak cocok dengan log"
                + _swap_hint(session, previous_size, min(head.size, len(leaves)))
            )
        previous_size = max(previous_size, head.size)
    if leaves and (not checkpoints or checkpoints[-1].tree_size < len(leaves)):
        # Every integration signs a checkpoint of the whole log: a longer log lost its newest.
        report.problems.append(
            f"log berisi {len(leaves)} daun tetapi checkpoint terakhir "
            f"{checkpoints[-1].tree_size if checkpoints else 0}: checkpoint terbaru hilang"
        )
    if pinned is not None:
        report.problems.extend(_pinned_problems(pinned, public, leaves))
    if derived:
        from app.custody import evidence  # derived tables need the plan; the log does not
        from app.plan.service import latest_election

        election = latest_election(session)
        if election is not None:
            report.problems.extend(evidence.derived_problems(session, election))
    if logged:
        # The integrator logs in receipt order: an unlogged event received well before the
        # newest logged one was slipped in behind the log's back.
        newest = session.scalar(
            select(func.max(CustodyEvent.server_time)).join(
                LedgerEntry, LedgerEntry.event_id == CustodyEvent.event_id
            )
        )
        for event_id, server_time in session.execute(
            select(CustodyEvent.event_id, CustodyEvent.server_time)
            .where(CustodyEvent.server_time < newest - GRACE)
            .order_by(CustodyEvent.server_time)
        ):
            if event_id not in logged:
                report.problems.append(
                    f"event {event_id} diterima {server_time.isoformat()} sebelum event "
                    "terakhir di log tetapi tidak ada di log (disisipkan)"
                )
                break
    return report


#: Stored columns a device signs, and the name each has in the event it sent.
_SIGNED_FIELDS = {
    "event_id": "event_id",
    "device_seq": "device_seq",
    "action": "action",
    "node": "node",
    "target": "target",
    "quantity": "quantity",
    "condition": "condition",
    "counterpart": "counterpart",
    "ref_event_id": "ref_event_id",
    "note": "note",
}


def _signature_problems(session: Session) -> Iterator[str]:
    """Events of a device with a registered key: signed by it, and saying what is stored.

    Without the device's private key nobody, a database writer included, can add an event
    to such a device's history or change what it said. The device table is not a log: a
    writer who removes a key (or the device row) to slip in unsigned events is named by
    the signed events already logged for that device, whose key is then missing.
    """
    keys = {
        (device_id, owner): key
        for device_id, owner, key in session.execute(
            select(Device.device_id, Device.owner, Device.public_key).where(
                Device.public_key.is_not(None)
            )
        )
    }
    events = select(CustodyEvent).order_by(CustodyEvent.server_time)
    if not keys:  # then only signed events can be wrong: their key is gone
        events = events.where(CustodyEvent.signature.is_not(None))
    missing: set[tuple[str, str]] = set()
    for row in session.scalars(events):
        owner = f"t:{row.token_id.hex}" if row.token_id else f"u:{row.user_id.hex}"
        key = keys.get((row.device_id, owner))
        if key is None:
            if row.signature is not None and (row.device_id, owner) not in missing:
                missing.add((row.device_id, owner))
                yield (
                    f"perangkat {row.device_id}: event {row.event_id} bertanda tangan, "
                    "tetapi kunci perangkat itu tidak ada lagi (dihapus atau diganti)"
                )
            continue
        label = f"event {row.event_id} (perangkat {row.device_id})"
        if row.signature is None or row.signed_body is None:
            yield f"{label}: perangkat berkunci tetapi event tanpa tanda tangan (disisipkan)"
            continue
        try:
            sent = json.loads(row.signed_body)
            signing.verify_event(key, {**sent, "signature": signing.b64(row.signature)})
        except (ValueError, signing.SignatureInvalid):
            yield f"{label}: tanda tangan perangkat tidak cocok"
            continue
        stored = row_values(row)
        differs = [
            column
            for column, name in _SIGNED_FIELDS.items()
            if _as_sent(stored[column]) != _as_sent(sent.get(name))
        ]
        if differs:
            yield f"{label}: kolom {', '.join(differs)} tidak sama dengan yang ditandatangani"


def _as_sent(value: Any) -> Any:
    """A value as ingest stores it: text stripped, empty text as nothing, ids as text."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    return value


def _swap_hint(session: Session, start: int, end: int) -> str:
    """Name entries out of receipt order in log[start:end] (the integrator appends each
    round in (server_time, event_id) order, so a swap shows as an inversion)."""
    rows = session.execute(
        select(LedgerEntry.idx, LedgerEntry.event_id, CustodyEvent.server_time)
        .join(CustodyEvent, CustodyEvent.event_id == LedgerEntry.event_id)
        .where(LedgerEntry.idx >= start, LedgerEntry.idx < end)
        .order_by(LedgerEntry.idx)
    ).all()
    ordered = sorted(rows, key=lambda r: (r.server_time, r.event_id))
    moved = [(a, b) for a, b in zip(rows, ordered, strict=True) if a.idx != b.idx]
    if len(moved) >= 2:
        first, second = moved[0][0], moved[0][1]
        return (
            f"; entri log indeks {first.idx} (event {first.event_id}) dan indeks {second.idx} "
            f"(event {second.event_id}) tertukar"
        )
    return ""


def _pinned_problems(note: str, public: Ed25519PublicKey, leaves: list[bytes]) -> list[str]:
    """Check the log against a checkpoint kept outside the database: its signature, then
    that the log still holds that tree (an RFC 9162 consistency proof to the whole log)."""
    try:
        head = merkle.verify_checkpoint(note, public, KEY_NAME)
    except CheckpointError as exc:
        return [f"checkpoint tersemat: tanda tangan tidak sah ({exc})"]
    if head.size > len(leaves):
        return [
            f"checkpoint tersemat berukuran {head.size} tetapi log hanya {len(leaves)} daun: "
            "entri dihapus"
        ]
    if merkle.root(leaves[: head.size]) != head.root:
        return [f"checkpoint tersemat {head.size}: log tidak memuat pohon itu lagi (ditulis ulang)"]
    try:
        merkle.verify_consistency(
            head.size,
            len(leaves),
            head.root,
            merkle.root(leaves),
            merkle.consistency_proof(head.size, leaves) if head.size else [],
        )
    except ProofError as exc:
        return [f"checkpoint tersemat {head.size}: bukti konsistensi gagal ({exc})"]
    return []


def app_role_sql(role: str) -> list[str]:
    """PostgreSQL statements giving the app's database role every right it needs except
    UPDATE, DELETE and TRUNCATE on the log tables (migrations run as the owner instead)."""
    if not role.replace("_", "").isalnum():
        raise ValueError("role names are letters, digits and underscores")
    # Privileges are checked on the table a statement names: a partition is a table too.
    log = ", ".join([*LOG_TABLES, *partitions("custody_event")])
    return [
        f"GRANT USAGE ON SCHEMA public TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {log} FROM {role}",
    ]


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of the ledger key for people to compare."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
