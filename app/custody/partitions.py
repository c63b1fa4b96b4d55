"""The province partitions of the tables that grow with the nation (PostgreSQL only).

Migration 0011_partitions creates them: one partition per province of the Kemendagri
region list (38, Kepmendagri 300.2.2-2138/2025) and a DEFAULT partition for any other
code, so a new province never makes an insert fail.
"""

from __future__ import annotations

#: The two-digit province codes in ``shared/data/wilayah.csv``.
PROVINCES = (
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33",
    "34", "35", "36", "51", "52", "53", "61", "62", "63", "64", "65", "71", "72",
    "73", "74", "75", "76", "81", "82", "91", "92", "93", "94", "95", "96",
)  # fmt: skip

#: Partitioned by LIST (province) on PostgreSQL.
PARTITIONED = ("custody_event", "item_state", "finding")


def partition_name(table: str, province: str | None) -> str:
    """The partition of ``table`` holding ``province`` (None: the DEFAULT partition)."""
    return f"{table}_{'default' if province is None else 'p' + province}"


def partitions(table: str) -> list[str]:
    """Every partition of ``table``: one per province, then the DEFAULT partition."""
    return [partition_name(table, p) for p in PROVINCES] + [partition_name(table, None)]


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Alembic's filter: a partition is part of its parent table, not a table of the models
    (used by ``migrations/env.py`` and the test that compares the schema with the models)."""
    return not (type_ == "table" and name in _PARTITION_NAMES)


_PARTITION_NAMES = frozenset(name for table in PARTITIONED for name in partitions(table))
