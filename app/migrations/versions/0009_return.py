"""return leg and closing records

The stage column widens (a return in transit, ``kembali_jalan``, is 13 characters:
every return scan failed on PostgreSQL); return deadlines become configurable per
kabupaten; the KPPS's closing records (ballot accounting and seals) are stored
append-only.

Revision ID: 0009_return
Revises: 0007_scale
Create Date: 2026-12-04 22:30:00

"""

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = "0009_return"
down_revision = "0007_scale"
branch_labels = None
depends_on = None


APPEND_ONLY = """
CREATE OR REPLACE FUNCTION tepat_refuse_closing_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'closing_record is append-only: % refused', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER closing_record_append_only
  BEFORE UPDATE OR DELETE ON closing_record
  FOR EACH ROW EXECUTE FUNCTION tepat_refuse_closing_change();
"""


def upgrade():
    with op.batch_alter_table("item_state", schema=None) as batch_op:
        batch_op.alter_column(
            "stage",
            existing_type=sa.String(length=12),
            type_=sa.String(length=20),
            existing_nullable=False,
        )

    op.create_table(
        "return_schedule",
        sa.Column("election_code", sa.String(length=40), nullable=False),
        sa.Column("kabkota_code", sa.String(length=13), nullable=False),
        sa.Column(
            "from_kind",
            sa.Enum("GUDANG", "PPK", "PPS", "KPPS", name="nodekind", native_enum=False, length=8),
            nullable=False,
        ),
        sa.Column("day_offset", sa.Integer(), nullable=False),
        sa.Column("local_time", sa.Time(), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_code"],
            ["election.code"],
            name=op.f("fk_return_schedule_election_code_election"),
        ),
        sa.PrimaryKeyConstraint(
            "election_code", "kabkota_code", "from_kind", name=op.f("pk_return_schedule")
        ),
    )

    op.create_table(
        "closing_record",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=36), nullable=False),
        sa.Column("election_code", sa.String(length=40), nullable=False),
        sa.Column("tps", sa.String(length=13), nullable=False),
        sa.Column("race_kind", sa.String(length=3), nullable=False),
        sa.Column("kabkota_code", sa.String(length=13), nullable=False),
        sa.Column("received", sa.Integer(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.Column("invalid", sa.Integer(), nullable=False),
        sa.Column("spoiled", sa.Integer(), nullable=False),
        sa.Column("unused", sa.Integer(), nullable=False),
        sa.Column("voters_signed", sa.Integer(), nullable=False),
        sa.Column("reserve_drawn", sa.Integer(), nullable=False),
        sa.Column("reserve_note", sa.String(length=300), nullable=False),
        sa.Column("box_serial", sa.String(length=16), nullable=True),
        sa.Column("seals", sa.JSON(), nullable=False),
        sa.Column("corrects", sa.String(length=36), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("photo", sa.LargeBinary(), nullable=True),
        sa.Column("photo_type", sa.String(length=20), nullable=True),
        sa.Column("device_id", sa.String(length=64), nullable=False),
        sa.Column("device_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_by", sa.Uuid(), nullable=False),
        sa.Column("content_digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["election_code"],
            ["election.code"],
            name=op.f("fk_closing_record_election_code_election"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"],
            ["user_account.id"],
            name=op.f("fk_closing_record_recorded_by_user_account"),
        ),
        sa.ForeignKeyConstraint(["tps"], ["tps.id"], name=op.f("fk_closing_record_tps_tps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_closing_record")),
        sa.UniqueConstraint("client_id", name=op.f("uq_closing_record_client_id")),
    )
    with op.batch_alter_table("closing_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_closing_record_kabkota_code"), ["kabkota_code"], unique=False
        )
        batch_op.create_index("ix_closing_record_tps_race", ["tps", "race_kind"], unique=False)

    # Closing records are never updated or deleted; a correction is a new record.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_ONLY)
    elif op.get_bind().dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER closing_record_no_{verb.lower()} BEFORE {verb} ON closing_record "
                "BEGIN SELECT RAISE(ABORT, 'closing_record is append-only'); END"
            )


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS closing_record_no_update")
        op.execute("DROP TRIGGER IF EXISTS closing_record_no_delete")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS closing_record_append_only ON closing_record")
        op.execute("DROP FUNCTION IF EXISTS tepat_refuse_closing_change()")
    with op.batch_alter_table("closing_record", schema=None) as batch_op:
        batch_op.drop_index("ix_closing_record_tps_race")
        batch_op.drop_index(batch_op.f("ix_closing_record_kabkota_code"))
    op.drop_table("closing_record")
    op.drop_table("return_schedule")
    with op.batch_alter_table("item_state", schema=None) as batch_op:
        batch_op.alter_column(
            "stage",
            existing_type=sa.String(length=20),
            type_=sa.String(length=12),
            existing_nullable=False,
        )
