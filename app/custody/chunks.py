"""Chunked IN lists: one query per chunk, below every driver's bind-parameter limit."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy.orm import Session

#: Bind parameters per IN list: far below PostgreSQL's 65,535 and SQLite's 32,766.
CHUNK = 2000


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


def starting_with(column: Any, prefix: str) -> Any:
    """``column LIKE 'prefix%'`` as a range the primary key's btree serves.

    PostgreSQL serves ``LIKE`` from a btree only under the ``C`` collation (not
    ``C.UTF-8``, not ``en_US``): a plain ``LIKE`` read the whole ``region_count`` table.
    The range narrows the index scan; the ``LIKE`` keeps the answer exact under any
    collation (for codes of digits, such as TPS ids, the range holds exactly the matches).
    """
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return (column >= prefix) & (column < upper) & column.like(prefix + "%")
