"""The published Merkle log: signed checkpoints, the log key, proof bundles for observers.

Everything here is what an outsider needs to check the log without trusting the server:
checkpoint notes exactly as signed, the Ed25519 key that signed them, RFC 9162 inclusion
proofs of an item's events and consistency proofs between two checkpoints. The bundle
format (``tepat-proof/v1``) is read by the page's script and by ``tepat-verify``.
"""

from __future__ import annotations

import base64
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.custody import merkle
from app.custody.ledger import KEY_NAME, fingerprint, leaf_data, ledger_public_key
from app.custody.models import Checkpoint, CustodyEvent, LedgerEntry
from app.errors import NotFound, ValidationFailed
from app.public import nodes

BUNDLE_FORMAT = "tepat-proof/v1"
#: The bytes before ``event_id || event_hash`` in a log leaf, as the ledger writes them.
LEAF_DOMAIN = leaf_data(uuid.UUID(int=0), bytes(32))[:-48]
#: Checkpoints per page of the published history.
HISTORY_PAGE = 100

_bundles: OrderedDict[tuple[str, str, int, int], dict[str, Any]] = OrderedDict()
_bundles_lock = threading.Lock()
_BUNDLE_CACHE = 512


def log_key(key_dir: str | Path) -> dict[str, Any]:
    """The log's public key in every form a verifier may want."""
    public = ledger_public_key(key_dir)
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "key_name": KEY_NAME,
        "algorithm": "Ed25519",
        "public_key": base64.b64encode(raw).decode("ascii"),
        "public_key_pem": pem.decode("ascii"),
        "verifier_key": merkle.verifier_key(KEY_NAME, public),
        "fingerprint": fingerprint(public),
    }


def latest(session: Session) -> Checkpoint | None:
    """The newest signed checkpoint (None before the first integration)."""
    return session.scalar(select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1))


def checkpoint_at(session: Session, size: int) -> Checkpoint:
    """The checkpoint of one tree size (404 if there is none)."""
    checkpoint = session.get(Checkpoint, size)
    if checkpoint is None:
        raise NotFound("Tidak ada checkpoint dengan ukuran pohon itu.")
    return checkpoint


def checkpoint_dict(checkpoint: Checkpoint) -> dict[str, Any]:
    """One checkpoint as published: the note exactly as signed, and its size and root."""
    return {
        "tree_size": checkpoint.tree_size,
        "root": checkpoint.root.hex(),
        "note": checkpoint.note,
        "created_at": checkpoint.created_at.isoformat(),
    }


def history(session: Session, after: int = -1, limit: int = HISTORY_PAGE) -> dict[str, Any]:
    """Checkpoints with a tree size above ``after``, oldest first, one page at a time."""
    limit = max(1, min(limit, HISTORY_PAGE))
    rows = list(
        session.scalars(
            select(Checkpoint)
            .where(Checkpoint.tree_size > after)
            .order_by(Checkpoint.tree_size)
            .limit(limit + 1)
        )
    )
    more = len(rows) > limit
    rows = rows[:limit]
    total = session.scalar(select(func.count(Checkpoint.tree_size))) or 0
    return {
        "checkpoints": [checkpoint_dict(c) for c in rows],
        "count": total,
        "next_after": rows[-1].tree_size if more else None,
    }


def consistency(session: Session, first: int, second: int) -> dict[str, Any]:
    """An RFC 9162 consistency proof between two published checkpoints."""
    if not 0 < first <= second:
        raise ValidationFailed("Syarat: 0 < first <= second (ukuran pohon).")
    old, new = checkpoint_at(session, first), checkpoint_at(session, second)
    proof = merkle.consistency_proof_from_nodes(first, second, nodes.prepare(session, second))
    return {
        "first": first,
        "second": second,
        "proof": [p.hex() for p in proof],
        "first_checkpoint": old.note,
        "second_checkpoint": new.note,
    }


def item_bundle(
    session: Session,
    key_dir: str | Path,
    serial: str,
    events: list[dict[str, Any]],
    since: int | None = None,
) -> dict[str, Any]:
    """Inclusion proofs of an item's events against the latest checkpoint.

    ``events`` are the public journey rows (``event_id``, ``seq``, ``prev_hash``, ``hash``).
    With ``since`` (a checkpoint size the observer already holds) the bundle also proves
    that the latest checkpoint extends it. Bundles are cached per item and checkpoint.
    """
    checkpoint = latest(session)
    key = log_key(key_dir)
    size = checkpoint.tree_size if checkpoint else 0
    # A scan added since the checkpoint changes the bundle too (it is listed, unproven).
    cache_key = (str(session.get_bind().url), serial, size, len(events))
    with _bundles_lock:
        cached = _bundles.get(cache_key)
        if cached is not None:
            _bundles.move_to_end(cache_key)
    if cached is None:
        cached = _build_bundle(session, checkpoint, key, serial, events)
        with _bundles_lock:
            _bundles[cache_key] = cached
            while len(_bundles) > _BUNDLE_CACHE:
                _bundles.popitem(last=False)
    bundle = dict(cached)
    if since is not None and checkpoint is not None and since != size:
        if not 0 < since < size:
            raise ValidationFailed("since harus ukuran checkpoint yang lebih kecil dari terbaru.")
        bundle["consistency"] = consistency(session, since, size)
    return bundle


def _build_bundle(
    session: Session,
    checkpoint: Checkpoint | None,
    key: dict[str, Any],
    serial: str,
    events: list[dict[str, Any]],
) -> dict[str, Any]:
    size = checkpoint.tree_size if checkpoint else 0
    ids = [e["event_id"] for e in events]
    entries = {
        str(event_id): (idx, leaf)
        for event_id, idx, leaf in session.execute(
            select(LedgerEntry.event_id, LedgerEntry.idx, LedgerEntry.leaf_hash).where(
                LedgerEntry.event_id.in_(
                    select(CustodyEvent.event_id).where(CustodyEvent.serial == serial)
                )
            )
        )
    }
    logged = [e for e in ids if e in entries and entries[e][0] < size]
    get_node = nodes.prepare(session, size) if logged and checkpoint else None
    rows = []
    for event in events:
        entry = entries.get(event["event_id"])
        row: dict[str, Any] = {
            "event_id": event["event_id"],
            "seq": event["seq"],
            "prev_hash": event["prev_hash"],
            "event_hash": event["hash"],
            "leaf_index": None,
            "leaf_hash": None,
            "proof": None,
        }
        if entry is not None and entry[0] < size:
            idx, leaf = entry
            assert get_node is not None
            path = merkle.inclusion_proof_from_nodes(idx, size, get_node)
            row.update(
                {"leaf_index": idx, "leaf_hash": leaf.hex(), "proof": [p.hex() for p in path]}
            )
        rows.append(row)
    return {
        "format": BUNDLE_FORMAT,
        "serial": serial,
        "leaf_domain": base64.b64encode(LEAF_DOMAIN).decode("ascii"),
        "key": {k: key[k] for k in ("key_name", "public_key", "verifier_key", "fingerprint")},
        "tree_size": size,
        "checkpoint": checkpoint.note if checkpoint else None,
        "events": rows,
    }
