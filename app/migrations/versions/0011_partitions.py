"""partitions: events, states and findings by province

The tables that grow with the nation get a ``province`` column (two digits): the item's
province for ``custody_event`` and ``item_state``, the province of the finding's
kabupaten for ``finding``; existing rows are backfilled. On PostgreSQL each table is
rebuilt as a table partitioned by ``LIST (province)`` with one partition per province
(38) and a DEFAULT partition. Keys there must hold the partition key, so the primary
keys and the unique (serial, item_seq) gain ``province``; an item lives in one province,
so they say what they said before (docs/SCALE.md). The foreign key from
``ledger_entry.event_id`` into ``custody_event`` cannot name a partitioned table without
the partition key and is dropped (on SQLite too, to keep one schema): the integrator
writes entries only from stored events, which can never be deleted, and ``flask ledger
verify`` names an entry without its event. Indexes, foreign keys and the append-only
triggers are carried over; TRUNCATE triggers are statement triggers, which partitions
do not inherit, so each partition gets its own. SQLite gets the same columns and keys
without partitions. Downgrade rebuilds plain tables.

Revision ID: 0011_partitions
Revises: 0010_public
Create Date: 2026-12-05 01:30:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0011_partitions"
down_revision = "0010_public"
branch_labels = None
depends_on = None

#: The province codes of the Kemendagri region list (frozen here: a migration must not
#: change with the code; app.custody.partitions keeps the same list).
PROVINCES = (
    "11", "12", "13", "14", "15", "16", "17", "18", "19", "21", "31", "32", "33",
    "34", "35", "36", "51", "52", "53", "61", "62", "63", "64", "65", "71", "72",
    "73", "74", "75", "76", "81", "82", "91", "92", "93", "94", "95", "96",
)  # fmt: skip

#: Each table and where a row's province comes from (the backfill).
PROVINCE_OF = {
    "custody_event": "(SELECT substr(i.kabkota_code, 1, 2) FROM item i "
    "WHERE i.serial = custody_event.serial)",
    "item_state": "(SELECT substr(i.kabkota_code, 1, 2) FROM item i "
    "WHERE i.serial = item_state.serial)",
    "finding": "substr(finding.kabkota_code, 1, 2)",
}

#: Primary keys and unique constraints without the partition key (name -> columns).
KEYS = {
    "custody_event": {
        "pk_custody_event": ("event_id",),
        "uq_custody_event_serial_item_seq": ("serial", "item_seq"),
    },
    "item_state": {"pk_item_state": ("serial",)},
    "finding": {"pk_finding": ("id",)},
}

LEDGER_FK = "fk_ledger_entry_event_id_custody_event"

#: SQLite's append-only triggers on the tables rebuilt here (migrations 0002, 0006).
SQLITE_TRIGGERS = {
    f"{table}_no_{verb.lower()}": f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} "
    f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in ("custody_event", "ledger_entry")
    for verb in ("UPDATE", "DELETE")
}


def _with_province(name: str, columns: tuple[str, ...]) -> tuple[str, tuple[str, ...]]:
    """A key's name and columns once the partition key is part of it."""
    return (name if name.startswith("pk_") else f"{name}_province"), (*columns, "province")


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"ALTER TABLE ledger_entry DROP CONSTRAINT {LEDGER_FK}")
        for table in PROVINCE_OF:
            _rebuild(table, partitioned=True)
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table, source in PROVINCE_OF.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("province", sa.String(length=2), nullable=True))
        op.execute(f"UPDATE {table} SET province = {source}")
        with op.batch_alter_table(table, recreate="always") as batch_op:
            batch_op.alter_column("province", existing_type=sa.String(length=2), nullable=False)
            for name, columns in KEYS[table].items():
                _replace_key(batch_op, (name, columns), _with_province(name, columns))
    with op.batch_alter_table("ledger_entry", recreate="always") as batch_op:
        batch_op.drop_constraint(LEDGER_FK, type_="foreignkey")
    for ddl in SQLITE_TRIGGERS.values():
        op.execute(ddl)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in PROVINCE_OF:
            _rebuild(table, partitioned=False)
        op.execute(
            f"ALTER TABLE ledger_entry ADD CONSTRAINT {LEDGER_FK} "
            "FOREIGN KEY (event_id) REFERENCES custody_event (event_id)"
        )
        return
    for name in SQLITE_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    for table in PROVINCE_OF:
        with op.batch_alter_table(table, recreate="always") as batch_op:
            for name, columns in KEYS[table].items():
                _replace_key(batch_op, _with_province(name, columns), (name, columns))
            batch_op.drop_column("province")
    with op.batch_alter_table("ledger_entry", recreate="always") as batch_op:
        batch_op.create_foreign_key(LEDGER_FK, "custody_event", ["event_id"], ["event_id"])
    for ddl in SQLITE_TRIGGERS.values():
        op.execute(ddl)


def _replace_key(batch_op, old, new):
    """Swap a primary key or unique constraint (SQLite, batch mode)."""
    (old_name, _), (new_name, columns) = old, new
    if old_name.startswith("pk_"):
        batch_op.drop_constraint(old_name, type_="primary")
        batch_op.create_primary_key(new_name, list(columns))
    else:
        batch_op.drop_constraint(old_name, type_="unique")
        batch_op.create_unique_constraint(new_name, list(columns))


def _rows(sql, **params):
    return op.get_bind().execute(sa.text(sql), params).all()


def _rebuild(table, *, partitioned):
    """PostgreSQL: copy ``table`` into a partitioned (or a plain) table of the same name,
    with the same columns, indexes, foreign keys and triggers, and the keys adjusted."""
    columns = [
        name
        for (name,) in _rows(
            "SELECT attname FROM pg_attribute WHERE attrelid = CAST(:t AS regclass) "
            "AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
            t=table,
        )
        if name != "province"
    ]
    indexes = _rows(
        "SELECT c.relname, pg_get_indexdef(i.indexrelid) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = CAST(:t AS regclass) "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid "
        "AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u')) ORDER BY c.relname",
        t=table,
    )
    foreign_keys = _rows(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' ORDER BY conname",
        t=table,
    )
    triggers = _rows(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE tgrelid = CAST(:t AS regclass) AND NOT tgisinternal ORDER BY tgname",
        t=table,
    )
    incoming = _rows(
        "SELECT conname FROM pg_constraint WHERE confrelid = CAST(:t AS regclass)", t=table
    )
    if incoming:  # a reference this migration does not know would be lost silently
        raise RuntimeError(f"{table} is referenced by {incoming}: decide about it first")
    listed = ", ".join(columns)
    staging = f"{table}__rebuilt"
    if partitioned:
        op.execute(
            f"CREATE TABLE {staging} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS, "
            "province VARCHAR(2) NOT NULL) PARTITION BY LIST (province)"
        )
        for province in PROVINCES:
            op.execute(
                f"CREATE TABLE {table}_p{province} PARTITION OF {staging} "
                f"FOR VALUES IN ('{province}')"
            )
        op.execute(f"CREATE TABLE {table}_default PARTITION OF {staging} DEFAULT")
        op.execute(
            f"INSERT INTO {staging} ({listed}, province) "
            f"SELECT {listed}, {PROVINCE_OF[table]} FROM {table}"
        )
    else:
        op.execute(
            f"CREATE TABLE {staging} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        op.execute(f"ALTER TABLE {staging} DROP COLUMN province")
        op.execute(f"INSERT INTO {staging} ({listed}) SELECT {listed} FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {staging} RENAME TO {table}")
    for name, key in KEYS[table].items():
        name, key = _with_province(name, key) if partitioned else (name, key)
        kind = "PRIMARY KEY" if name.startswith("pk_") else "UNIQUE"
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {kind} ({', '.join(key)})")
    for name, definition in foreign_keys:
        op.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for _name, definition in indexes:
        op.execute(definition.replace(" ON ONLY ", " ON "))
    parts = [f"{table}_p{p}" for p in PROVINCES] + [f"{table}_default"] if partitioned else []
    for _name, definition in triggers:
        op.execute(definition)
        if "FOR EACH STATEMENT" in definition:  # partitions do not inherit these
            for part in parts:
                op.execute(definition.replace(f" ON public.{table} ", f" ON public.{part} "))
    op.execute(f"ANALYZE {table}")
