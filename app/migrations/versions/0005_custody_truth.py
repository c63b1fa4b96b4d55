"""custody truth: receipt counts, device clock offsets, findings as state

Revision ID: 0005_custody_truth
Revises: 0004_labels
Create Date: 2026-12-04 22:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0005_custody_truth"
down_revision = "0004_labels"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("counts", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("clock_offset_s", sa.Integer(), nullable=True))
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=10), server_default="open", nullable=False)
        )
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.add_column(sa.Column("clock_samples", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("clock_offset_s", sa.Integer(), nullable=True))
    # Tallies are derived; they now also count issued and delivered goods: rebuilt on demand.
    op.execute("DELETE FROM tps_tally")


def downgrade():
    with op.batch_alter_table("device", schema=None) as batch_op:
        batch_op.drop_column("clock_offset_s")
        batch_op.drop_column("clock_samples")
    with op.batch_alter_table("finding", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("status")
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_column("clock_offset_s")
        batch_op.drop_column("counts")
