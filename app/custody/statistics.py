"""Planner statistics of the tables a kabupaten fills, kept current by the app (PostgreSQL).

Ingest's reads are key lookups (``item_state.container IN (…)``, ``serial IN (…)``), and
PostgreSQL picks the index for them only when its statistics say a key has a few rows.
Autovacuum's ANALYZE keeps statistics current when it is on and has come round to the
table; a kabupaten's 566,000 items and their states arrive faster than that, and a server
without autovacuum never gets them. Measured at 8,000 TPS on such a server: the kit closure
was planned as a scan of the whole ``item_state`` partition (3,845 sequential scans, 965
million rows read in one play) and packing a scan grew from 0.80 to 1.79 ms as the
kabupaten filled.

So after a batch, at most once per :data:`EVERY` seconds per process, ingest asks
PostgreSQL which tables changed by more than half since their last analysis (autovacuum's
rule with a scale that suits tables growing from nothing: a table is analysed each time it
doubles, some twenty times in its life) and analyses them, each in its own short
transaction that gives way to an ANALYZE already running. Autovacuum stays the main way
(migration ``0014_hot_state`` analyses the hot tables after 2% changed); this only keeps the
plans right until it comes.
"""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

#: Seconds between two looks at the statistics, per process.
EVERY = 30.0
#: A table is analysed when this many rows changed since its last analysis, plus
#: :data:`SHARE` of the rows it had then.
BASE = 1000
SHARE = 0.5
#: At most this many tables per look (the rest wait for the next look).
MOST = 4

_STALE = text(
    "SELECT s.relname FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid "
    "WHERE c.relkind = 'r' AND s.schemaname = current_schema() "
    "AND s.n_mod_since_analyze > :base + :share * greatest(c.reltuples, 0) "
    "ORDER BY s.n_mod_since_analyze DESC LIMIT :most"
)

_lock = threading.Lock()
_last = [float("-inf")]


def due(now: float | None = None) -> bool:
    """Whether this process should look now (and, if so, not again for :data:`EVERY` s)."""
    moment = time.monotonic() if now is None else now
    with _lock:
        if moment - _last[0] < EVERY:
            return False
        _last[0] = moment
        return True


def stale(session: Session) -> list[str]:
    """The tables of the schema whose statistics are more than half out of date."""
    return list(session.scalars(_STALE, {"base": BASE, "share": SHARE, "most": MOST}))


def refresh(session: Session) -> list[str]:
    """Analyse the stale tables (PostgreSQL; call between transactions). Returns those
    analysed. Never raises: statistics are an aid to the planner, not part of a scan."""
    if session.get_bind().dialect.name != "postgresql" or not due():
        return []
    done = []
    try:
        names = stale(session)
        session.commit()
        for name in names:
            try:
                # Another process analysing the same table: give way, it will be current.
                session.execute(text("SET LOCAL lock_timeout = '100ms'"))
                session.execute(text(f'ANALYZE "{name}"'))
                session.commit()
                done.append(name)
            except DBAPIError as exc:
                session.rollback()
                log.info("ANALYZE %s skipped: %s", name, exc.orig)
    except DBAPIError as exc:  # pragma: no cover - a lost connection, say
        session.rollback()
        log.warning("planner statistics not checked: %s", exc.orig)
    if done:
        log.info("analysed %s", ", ".join(done))
    return done
