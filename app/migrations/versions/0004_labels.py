"""labels: replacement link between items, how each custody event identified its item

Revision ID: 0004_labels
Revises: 0003_leg_costs
Create Date: 2026-12-04 22:40:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0004_labels"
down_revision = "0003_leg_costs"
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN (no table rebuild): custody_event keeps its append-only triggers.
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaces", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_item_replaces"), ["replaces"], unique=True)
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("identified_by", sa.String(length=10), nullable=True))


def downgrade():
    with op.batch_alter_table("custody_event", schema=None) as batch_op:
        batch_op.drop_column("identified_by")
    with op.batch_alter_table("item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_replaces"))
        batch_op.drop_column("replaces")
