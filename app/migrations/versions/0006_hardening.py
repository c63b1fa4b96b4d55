"""hardening: devices owned by their token, append-only log tables, server-side sessions

Revision ID: 0006_hardening
Revises: 0003_leg_costs
Create Date: 2026-12-04 22:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0006_hardening"
down_revision = "0003_leg_costs"
branch_labels = None
depends_on = None


def upgrade():
    # A device row per (device_id, owner): another token naming the same device gets its own.
    with op.batch_alter_table("device", schema=None, recreate="always") as batch_op:
        batch_op.add_column(sa.Column("owner", sa.String(length=40), nullable=False, server_default=""))
        batch_op.drop_constraint("pk_device", type_="primary")
        batch_op.create_primary_key("pk_device", ["device_id", "owner"])
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


def downgrade():
    op.drop_index("ix_user_session_user_id", table_name="user_session")
    op.drop_table("user_session")
    op.execute("DELETE FROM device WHERE owner <> ''")
    with op.batch_alter_table("device", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("pk_device", type_="primary")
        batch_op.create_primary_key("pk_device", ["device_id"])
        batch_op.drop_column("owner")
