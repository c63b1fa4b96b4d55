"""Stored interior nodes of the Merkle log (derived data, rebuilt from the leaves at will)."""

from __future__ import annotations

from sqlalchemy import Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db


class MerkleNode(db.Model):
    """The hash of a perfect subtree of ``2**level`` leaves at position ``idx``.

    Such a subtree never changes once its last leaf is in the log (the log is append-only),
    so it is stored once; proofs then read O(log n) of these instead of every leaf.
    """

    __tablename__ = "merkle_node"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))
