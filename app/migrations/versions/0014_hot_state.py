"""item_state updated in place: no index on what a move changes, room on every page

Every scan of a kit rewrites the state of each item packed in it (holder, stage, the
state document). Three indexes of ``item_state`` covered columns a move changes
(``holder``, ``stage``) or no query reads (``destination``: places are found through
``item``). While one of them held a changed column, PostgreSQL could not update a row in
place (a HOT update): each move of a kit of ~70 items wrote a new row version and an
entry in all six indexes for each item, and the dead versions stayed in the indexes until
a vacuum. A kabupaten filling up then read ever longer index chains on every batch (the
8,000-TPS play fell from 324 to 92 scans/s on a server without autovacuum).

Now:

- ``holder``, ``stage`` and ``destination`` lose their indexes; ``container`` is indexed
  with ``serial`` so the batch's closure (what is packed in these containers) is answered
  from the index alone once a page is all-visible;
- PostgreSQL: the hot tables keep free room on each page (``fillfactor``) so an update can
  stay on its page, and are vacuumed and analysed after 2% of their rows changed instead of
  20% (the default lets a 566,000-item partition gather 113,000 dead rows first). Both
  apply to pages written from now on; ``VACUUM FULL`` rewrites older ones.

Revision ID: 0014_hot_state
Revises: 0013_waiting
Create Date: 2026-12-06 00:45:00

"""

import sqlalchemy as sa
from alembic import op

revision = "0014_hot_state"
down_revision = "0013_waiting"
branch_labels = None
depends_on = None

#: Indexes of item_state no query needs and that kept moves from updating in place.
DROPPED = ("ix_item_state_holder", "ix_item_state_stage", "ix_item_state_destination")

#: How full a page is filled on insert, for the tables every batch updates. A state row
#: is ~1.1 KB (seven to a page): half a page free holds the next versions of its rows
#: until the page is pruned. Measured at 219 TPS: 50% of updates in place at 80, 88% at 50.
STATE_FILL = 50
OTHER_FILL = {"tps_tally": 80, "region_count": 90}


def _tables():
    """Each hot table with its fill; ``item_state`` per partition, as the catalogue lists
    them (a partitioned table has no storage of its own)."""
    partitions = op.get_bind().execute(
        sa.text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'item_state'::regclass ORDER BY c.relname"
        )
    )
    return {**{name: STATE_FILL for (name,) in partitions}, **OTHER_FILL}


def upgrade():
    for name in DROPPED:
        op.drop_index(name, table_name="item_state")
    op.drop_index("ix_item_state_container", table_name="item_state")
    op.create_index("ix_item_state_container_serial", "item_state", ["container", "serial"])
    if op.get_bind().dialect.name == "postgresql":
        for table, fill in _tables().items():
            op.execute(
                f"ALTER TABLE {table} SET (fillfactor = {fill}, "
                "autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02)"
            )


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for table in _tables():
            op.execute(
                f"ALTER TABLE {table} RESET (fillfactor, autovacuum_vacuum_scale_factor, "
                "autovacuum_analyze_scale_factor)"
            )
    op.drop_index("ix_item_state_container_serial", table_name="item_state")
    op.create_index("ix_item_state_container", "item_state", ["container"])
    op.create_index("ix_item_state_destination", "item_state", ["destination"])
    op.create_index("ix_item_state_holder", "item_state", ["holder"])
    op.create_index("ix_item_state_stage", "item_state", ["stage"])
