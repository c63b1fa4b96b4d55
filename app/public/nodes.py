"""Proofs from stored interior nodes: O(log n) reads per proof instead of the whole log.

Perfect subtrees of ``2**BASE`` leaves and more are stored as they complete (``extend``,
run before proofs are read: one pass over the leaves not yet covered, then one query per
level); anything smaller is hashed from the at most two blocks of ``2**BASE`` leaves a
proof touches. The storage sits behind ``NodeStore`` so the arithmetic is tested without a
database against the plain O(n) proofs of ``app.custody.merkle``.
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.custody import merkle
from app.custody.errors import ProofError
from app.custody.models import LedgerEntry
from app.public.models import MerkleNode

#: Stored subtrees hold 2**BASE = 256 leaves and more.
BASE = 8


class NodeStore(Protocol):
    """Where leaves are read and complete subtree hashes are kept."""

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``[start, end)``, in order."""

    def count(self, level: int) -> int:
        """How many nodes of ``level`` are stored (always indices 0 .. count-1)."""

    def nodes(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored hashes of ``level``, indices ``[start, end)``."""

    def add(self, level: int, start: int, hashes: list[bytes]) -> None:
        """Store hashes of ``level`` from index ``start`` on."""


def extend(store: NodeStore, size: int, base: int = BASE) -> None:
    """Store every complete subtree of ``2**base`` leaves or more within the first ``size``."""
    have, complete = store.count(base), size >> base
    if complete > have:
        leaves = store.leaves(have << base, complete << base)
        chunk = 1 << base
        store.add(
            base, have, [merkle.root(leaves[i : i + chunk]) for i in range(0, len(leaves), chunk)]
        )
    level, below = base + 1, complete
    while below >= 2:
        have, target = store.count(level), below // 2
        if target > have:
            children = store.nodes(level - 1, 2 * have, 2 * target)
            store.add(
                level,
                have,
                [
                    merkle.node_hash(children[i], children[i + 1])
                    for i in range(0, len(children), 2)
                ],
            )
        level, below = level + 1, target


def reader(store: NodeStore, size: int, base: int = BASE) -> merkle.NodeReader:
    """``get_node(level, index)`` for the tree of ``size`` leaves, after ``extend``."""
    blocks: dict[int, list[bytes]] = {}
    memo: dict[tuple[int, int], bytes] = {}

    def get_node(level: int, index: int) -> bytes:
        key = (level, index)
        if key in memo:
            return memo[key]
        if level >= base:
            (value,) = store.nodes(level, index, index + 1)
        else:
            start = index << level
            block = start >> base
            if block not in blocks:
                blocks[block] = store.leaves(block << base, min((block + 1) << base, size))
            offset = start - (block << base)
            value = merkle.root(blocks[block][offset : offset + (1 << level)])
        memo[key] = value
        return value

    return get_node


class DatabaseStore:
    """Leaves from ``ledger_entry``, nodes in ``merkle_node``."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def leaves(self, start: int, end: int) -> list[bytes]:
        """Leaf hashes ``[start, end)``; ProofError if the log has a gap."""
        rows = list(
            self.session.scalars(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx >= start, LedgerEntry.idx < end)
                .order_by(LedgerEntry.idx)
            )
        )
        if len(rows) != end - start:
            raise ProofError(f"the log lacks leaves between {start} and {end}")
        return rows

    def count(self, level: int) -> int:
        """Stored nodes of a level."""
        return (
            self.session.scalar(
                select(func.count()).select_from(MerkleNode).where(MerkleNode.level == level)
            )
            or 0
        )

    def nodes(self, level: int, start: int, end: int) -> list[bytes]:
        """Stored hashes ``[start, end)`` of a level; ProofError if one is missing."""
        rows = list(
            self.session.scalars(
                select(MerkleNode.hash)
                .where(MerkleNode.level == level, MerkleNode.idx >= start, MerkleNode.idx < end)
                .order_by(MerkleNode.idx)
            )
        )
        if len(rows) != end - start:
            raise ProofError(f"stored Merkle nodes of level {level} are missing")
        return rows

    def add(self, level: int, start: int, hashes: list[bytes]) -> None:
        """Insert hashes of a level (committed by ``prepare``)."""
        if hashes:
            self.session.execute(
                MerkleNode.__table__.insert(),
                [{"level": level, "idx": start + i, "hash": h} for i, h in enumerate(hashes)],
            )


def prepare(session: Session, size: int) -> merkle.NodeReader:
    """Bring the stored nodes up to ``size`` (one writer at a time) and return a reader."""
    from app import locks

    store = DatabaseStore(session)
    if store.count(BASE) < size >> BASE:
        with locks.hold(session, "tepat-merkle-nodes"):
            try:
                extend(store, size, BASE)
                session.commit()
            except Exception:
                session.rollback()
                raise
    return reader(store, size, BASE)
