"""The kabupaten's way-back page does bounded work: its SQL does not grow with the TPS
and never reads the per-TPS or per-item tables (SQLite and PostgreSQL, -m db)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select

from app.extensions import db
from app.items.service import issue_items
from app.plan import codes
from app.plan.models import Tps
from tests.conftest import login
from tests.custody.conftest import Env

#: Tables with a row per TPS, item or scan: the kabupaten page must not read them.
PER_TPS = re.compile(
    r"\b(FROM|JOIN)\s+\"?(tps|tps_tally|item_state|custody_event|closing_record)\"?(\s|$)",
    re.IGNORECASE,
)
READS_ITEMS = re.compile(r"\b(FROM|JOIN)\s+\"?item\"?(\s|$)", re.IGNORECASE)


@contextmanager
def statements() -> Iterator[list[str]]:
    """Every SQL statement the engine runs inside the block."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def kabupaten_page(env: Env) -> tuple[str, list[str]]:
    with statements() as seen:
        page = env.client.get("/desk/kembali?wilayah=62.10")
    assert page.status_code == 200
    return page.get_data(as_text=True), seen


def test_the_kabupaten_way_back_reads_counters_not_tps(env: Env) -> None:
    """Regression: the kabupaten page read every TPS, box, tally and closed box's scans
    (2-3 s at 8,000 TPS) and listed every TPS; now its statements stay the same however
    many TPS and items the kabupaten has."""
    login(env.client, "desk")
    kabupaten_page(env)  # the first request may count a kabupaten counted by older code
    before_html, before = kabupaten_page(env)

    # ~900 more TPS in one desa and the items of ten more TPS issued.
    desa = codes.desa_of_tps(env.tps)
    taken = set(db.session.scalars(select(Tps.number).where(Tps.desa_code == desa)))
    prefix = desa.replace(".", "")
    db.session.add_all(
        Tps(id=f"{prefix}{n:03d}", desa_code=desa, number=n, dpt=250, dptb=0)
        for n in range(1, 1000)
        if n not in taken
    )
    db.session.commit()
    more = list(
        db.session.scalars(
            select(Tps.id).where(Tps.id.like("6210%"), Tps.id.notlike(prefix + "%")).limit(10)
        )
    )
    for tps in more:
        issue_items(db.session, "pilkada-2024", tps, None, env.signer, None)
    after_html, after = kabupaten_page(env)

    assert len(after) == len(before), (before, after)
    # The only read of items is the kabupaten's PSU reserve, grouped in the database.
    item_reads = [s for s in after if READS_ITEMS.search(s)]
    assert all("GROUP BY" in s.upper() and "item.destination =" in s for s in item_reads)
    assert not [s for s in after if PER_TPS.search(s) and s not in item_reads]
    # One row per kecamatan, no row per TPS, and the page did not grow with the TPS.
    assert 'data-stage="tps"><b>0</b>' not in after_html  # the new boxes are counted
    assert f'data-tps="{env.tps}"' not in after_html
    assert abs(len(after_html) - len(before_html)) < 200
