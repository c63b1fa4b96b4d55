"""public side: stored Merkle nodes for O(log n) proofs

Perfect subtrees of the Merkle log never change once complete; storing those of 256 leaves
and more lets the public proof endpoints read O(log n) rows instead of every leaf.
Derived data: the table can be emptied at any time and is rebuilt on the next proof.

Revision ID: 0010_public
Revises: 0009_return
Create Date: 2026-12-04 23:00:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0010_public"
down_revision = "0009_return"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "merkle_node",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx", name=op.f("pk_merkle_node")),
    )


def downgrade():
    op.drop_table("merkle_node")
