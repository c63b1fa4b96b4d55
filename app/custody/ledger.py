"""The global Merkle log (RFC 9162) over custody events, its integrator and its verifier.

The integrator runs off the request path (``flask ledger integrate``, or a loop with
``--every``): it appends every event not yet in the log, in server receipt order, and
signs a checkpoint. ``verify`` recomputes item chains, leaves and roots from the rows
and names the first entry that does not match.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app import locks
from app.custody import merkle, rules
from app.custody.errors import CheckpointError
from app.custody.models import Checkpoint, CustodyEvent, LedgerEntry

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
        digest = rules.event_digest(
            prev, row.item_seq, rules.canonical_event_bytes(rules_event(row))
        )
        if digest != row.hash:
            broken = row.serial
            yield f"{label}: isi event tidak cocok dengan hash-nya (diubah)"
            continue
        prev = row.hash
        expected_seq += 1


def verify(session: Session, key_dir: str | Path) -> VerifyReport:
    """Recompute chains, leaves and roots against the signed checkpoints."""
    report = VerifyReport()
    report.events = session.scalar(select(func.count(CustodyEvent.event_id))) or 0
    report.items = session.scalar(select(func.count(func.distinct(CustodyEvent.serial)))) or 0
    report.problems.extend(_chain_problems(session))
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
    for checkpoint in checkpoints:
        try:
            head = merkle.verify_checkpoint(checkpoint.note, public, KEY_NAME)
        except CheckpointError as exc:
            report.problems.append(
                f"checkpoint {checkpoint.tree_size}: tanda tangan tidak sah ({exc})"
            )
            continue
        if head.size > len(leaves) or merkle.root(leaves[: head.size]) != head.root:
            report.problems.append(
                f"checkpoint {checkpoint.tree_size}: akar tidak cocok dengan log"
            )
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


def fingerprint(public_key: Ed25519PublicKey) -> str:
    """A short fingerprint of the ledger key for people to compare."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]
