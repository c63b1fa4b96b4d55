"""region_count by metric: the destinations late on one deadline, a range at a time

Items waiting on a leg are counted per destination and deadline
(``tenggat:<leg>:<mode>:<deadline>``, ``app.custody.rules.tenggat``). The desk lists the
destinations late on a deadline that passed, a page at a time: one metric, a range of
places. The primary key (region_code, metric) cannot serve that; (metric, region_code) can.

Revision ID: 0013_waiting
Revises: 0012_event_key
Create Date: 2026-12-05 22:00:00

"""

from alembic import op

revision = "0013_waiting"
down_revision = "0012_event_key"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_region_count_metric", "region_count", ["metric", "region_code"])


def downgrade():
    op.drop_index("ix_region_count_metric", table_name="region_count")
