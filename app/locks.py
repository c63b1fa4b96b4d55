"""Named locks that serialise work across requests: ingest and label issuing per kabupaten,
the one Merkle integrator.

On PostgreSQL a transaction-level advisory lock, released by the caller's commit or rollback
(so it also holds across server processes); on SQLite, which has one writer anyway, a lock
of this process held for the ``with`` block.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

_process_locks: dict[str, threading.Lock] = {}
_guard = threading.Lock()


def _advisory_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@contextmanager
def hold(
    session: Session, name: str, *, wait: bool = True, process_only: bool = False
) -> Iterator[bool]:
    """Hold the lock ``name``; yields whether it was acquired (always, when ``wait``).

    ``process_only``: a lock for SQLite's single writer only; on PostgreSQL the caller
    locks rows instead, and this holds nothing.
    """
    if session.get_bind().dialect.name == "postgresql":
        if process_only:
            yield True
            return
        function = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
        result = session.execute(text(f"SELECT {function}(:k)"), {"k": _advisory_key(name)})
        yield True if wait else bool(result.scalar())
        return
    with _guard:
        lock = _process_locks.setdefault(name, threading.Lock())
    acquired = lock.acquire(blocking=wait)
    try:
        yield acquired
    finally:
        if acquired:
            lock.release()
