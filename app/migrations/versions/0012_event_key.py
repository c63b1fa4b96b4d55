"""event_key: event ids unique across the province partitions

``custody_event`` is partitioned by province on PostgreSQL since 0011, and a unique key
of a partitioned table must hold the partition key: ``(event_id, province)`` left two
events with one id in two provinces possible when two batches race. ``event_key`` holds
every stored event id once (primary key) with its province, is written in the same
transaction as the event, and is append-only like the log tables. Ingest also reads it
to find a batch's already-stored events with one index read, then only their partitions.

Revision ID: 0012_event_key
Revises: 0011_partitions
Create Date: 2026-12-05 03:00:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0012_event_key"
down_revision = "0011_partitions"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "event_key",
        sa.Column("event_id", sa.Uuid(), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name="pk_event_key"),
    )
    op.execute(
        "INSERT INTO event_key (event_id, province) SELECT event_id, province FROM custody_event"
    )
    if op.get_bind().dialect.name == "postgresql":
        # tepat_refuse_change() is migration 0006's.
        op.execute(
            "CREATE TRIGGER event_key_append_only BEFORE UPDATE OR DELETE ON event_key "
            "FOR EACH ROW EXECUTE FUNCTION tepat_refuse_change()"
        )
        op.execute(
            "CREATE TRIGGER event_key_no_truncate BEFORE TRUNCATE ON event_key "
            "FOR EACH STATEMENT EXECUTE FUNCTION tepat_refuse_change()"
        )
    else:
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER event_key_no_{verb.lower()} BEFORE {verb} ON event_key "
                "BEGIN SELECT RAISE(ABORT, 'event_key is append-only'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS event_key_append_only ON event_key")
        op.execute("DROP TRIGGER IF EXISTS event_key_no_truncate ON event_key")
    else:
        for verb in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS event_key_no_{verb}")
    op.drop_table("event_key")
