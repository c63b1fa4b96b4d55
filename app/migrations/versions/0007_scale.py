"""scale: region counters kept on ingest; indexes for the hot queries

Revision ID: 0007_scale
Revises: 0006_hardening
Create Date: 2026-12-04 22:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0007_scale"
down_revision = "0006_hardening"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "region_count",
        sa.Column("region_code", sa.String(length=16), nullable=False),
        sa.Column("metric", sa.String(length=96), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "metric", name=op.f("pk_region_count")),
    )
    # Findings newest first within a kabupaten (the desk's pages, cursor pagination).
    op.create_index("ix_finding_kab_created", "finding", ["kabkota_code", "created_at"])


def downgrade():
    op.drop_index("ix_finding_kab_created", table_name="finding")
    op.drop_table("region_count")
