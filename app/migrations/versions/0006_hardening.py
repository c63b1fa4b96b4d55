"""hardening: devices owned by their token, append-only log tables, server-side sessions

Revision ID: 0006_hardening
Revises: 0005_custody_truth
Create Date: 2026-12-04 22:40:00

"""

import sqlalchemy as sa
from alembic import op

#: The log: never changed, only appended to (the derived tables are recomputed by verify).
LOG_TABLES = ("custody_event", "ledger_entry", "ledger_checkpoint")

REFUSE = """
CREATE OR REPLACE FUNCTION tepat_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
"""

# revision identifiers, used by Alembic.
revision = "0006_hardening"
down_revision = "0005_custody_truth"
branch_labels = None
depends_on = None


def upgrade():
    # A device row per (device_id, owner): another token naming the same device gets its own.
    with op.batch_alter_table("device", schema=None, recreate="always") as batch_op:
        batch_op.add_column(
            sa.Column("owner", sa.String(length=40), nullable=False, server_default="")
        )
        batch_op.drop_constraint("pk_device", type_="primary")
        batch_op.create_primary_key("pk_device", ["device_id", "owner"])
        batch_op.add_column(sa.Column("public_key", sa.LargeBinary(length=32), nullable=True))
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("signature", sa.LargeBinary(length=64), nullable=True))
        batch_op.add_column(sa.Column("signed_body", sa.Text(), nullable=True))
    op.create_table(
        "user_session",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name="fk_user_session_user_id_user_account"
        ),
        sa.PrimaryKeyConstraint("id_hash", name="pk_user_session"),
    )
    op.create_index("ix_user_session_user_id", "user_session", ["user_id"])
    _append_only()


def _append_only():
    """UPDATE, DELETE (and on PostgreSQL TRUNCATE) refused on every log table."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(REFUSE)
        for table in LOG_TABLES:
            if table != "custody_event":  # 0002 made its row trigger
                op.execute(
                    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                    "FOR EACH ROW EXECUTE FUNCTION tepat_refuse_change()"
                )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION tepat_refuse_change()"
            )
    elif op.get_bind().dialect.name == "sqlite":
        for table in LOG_TABLES[1:]:  # 0002 made custody_event's
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
                )


def downgrade():
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_column("signed_body")
        batch_op.drop_column("signature")
    if op.get_bind().dialect.name == "postgresql":
        for table in LOG_TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
            if table != "custody_event":
                op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
    elif op.get_bind().dialect.name == "sqlite":
        for table in LOG_TABLES[1:]:
            for verb in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{verb}")
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
    op.execute("DELETE FROM device WHERE owner <> ''")
    with op.batch_alter_table("device", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("pk_device", type_="primary")
        batch_op.create_primary_key("pk_device", ["device_id"])
        batch_op.drop_column("public_key")
        batch_op.drop_column("owner")
