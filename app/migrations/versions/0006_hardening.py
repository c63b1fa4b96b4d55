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


def downgrade():
    op.execute("DELETE FROM device WHERE owner <> ''")
    with op.batch_alter_table("device", schema=None, recreate="always") as batch_op:
        batch_op.drop_constraint("pk_device", type_="primary")
        batch_op.create_primary_key("pk_device", ["device_id"])
        batch_op.drop_column("owner")
