"""Benchmark: the desk on a bad day, when most of a kabupaten is late, counted vs item by item.

Runs on a database ``tests/bench_scale.py`` left (``tepat_scale_<size>``; by default
Kabupaten Bogor 32.01 at 8,000 TPS) at several moments of the election calendar: before any
deadline, on H-1 evening (the last legs at risk, the first overdue), on H+1 morning (every
undelivered item overdue, every TPS without a closing record owing one) and a week later.
For each moment it times, cold (caches and built plans dropped), what the desk now does -
the findings page and the region summary, whose deadline and closing counts come from the
counters (``app.custody.waiting``, ``app.custody.closings``) - against the baseline the
desk used to do in the same run: every item and state of the kabupaten read and checked
by the rules (``check_deadlines``, ``check_return_deadlines``) and every TPS against its
closing records. The counts of both must be equal, or the script exits 1.

    .venv/bin/python tests/bench_late.py [--size 8000] [--kab 32.01]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.closing.models import ClosingRecord  # noqa: E402
from app.custody import closings, codec, live, overview, quantities, rules  # noqa: E402
from app.custody.models import ItemStateRow, TpsTallyRow  # noqa: E402
from app.custody.planview import ITEM_COLUMNS, build_plan, to_rules_item  # noqa: E402
from app.extensions import db  # noqa: E402
from app.items.models import Item  # noqa: E402
from app.plan import service as plan_service  # noqa: E402
from app.plan.models import Election, Tps  # noqa: E402

MOMENTS = {
    "H-7 (nothing due)": datetime(2024, 11, 20, 0, 0, tzinfo=UTC),
    "H-1 19.00 WIB": datetime(2024, 11, 26, 12, 0, tzinfo=UTC),
    "H+1 10.00 WIB": datetime(2024, 11, 28, 3, 0, tzinfo=UTC),
    "H+8": datetime(2024, 12, 5, 0, 0, tzinfo=UTC),
}
DEADLINE_CODES = {"at_risk", "overdue", "not_received"}
QUANTITY_CODES = {"shortage", "surplus", "not_issued"}


def counted(session: Any, election: Election, kab: str, now: datetime) -> dict[str, Any]:
    """The desk's way: the findings page and the summary, cold; their deadline counts."""
    overview.clear_caches(everything=True)
    began = time.perf_counter()
    page = overview.findings_page(session, election, kab, now)
    page_s = time.perf_counter() - began
    overview.clear_caches(everything=True)
    began = time.perf_counter()
    overview.region_summary(session, election, kab, now)
    summary_s = time.perf_counter() - began
    kinds = Counter({g["code"]: g["count"] for g in page["groups"] if g.get("live")})
    return {
        "page_s": page_s,
        "summary_s": summary_s,
        "kinds": kinds,
        "listed": len(page["findings"]),
    }


def item_by_item(session: Any, election: Election, area: str, now: datetime) -> dict[str, Any]:
    """The baseline: every item and state of each kabupaten of the area read and checked,
    every TPS against its closing records."""
    began = time.perf_counter()
    kinds: Counter[str] = Counter()
    items = 0
    for kab in live.kabupaten_under(session, area):
        found, n = _one_kabupaten(session, election, kab, now)
        kinds += found
        items += n
    return {"s": time.perf_counter() - began, "kinds": kinds, "items": items}


def _one_kabupaten(
    session: Any, election: Election, kab: str, now: datetime
) -> tuple[Counter[str], int]:
    plan = build_plan(session, election, kab)
    items = {
        row.serial: to_rules_item(row)
        for row in session.execute(
            select(*ITEM_COLUMNS).where(Item.kabkota_code == kab, Item.voided_at.is_(None))
        )
    }
    states = {
        serial: codec.state_from_dict(state)
        for serial, state in session.execute(
            select(ItemStateRow.serial, ItemStateRow.state).where(ItemStateRow.kabkota_code == kab)
        )
    }
    found = rules.check_deadlines(plan, items, states, now) + rules.check_return_deadlines(
        plan, items, states, now
    )
    kinds = Counter(str(f.code) for f in found)
    deadline = closings.deadlines(session, election, [kab])[kab]
    races = {
        tps: [rules.Race(r.kind.value) for r in plan_service.races_at(election, desa)]
        for tps, desa in session.execute(
            select(Tps.id, Tps.desa_code).where(Tps.id.like(kab.replace(".", "") + "%"))
        )
    }
    closed = {
        (tps, rules.Race(race))
        for tps, race in session.execute(
            select(ClosingRecord.tps, ClosingRecord.race_kind)
            .where(ClosingRecord.kabkota_code == kab)
            .distinct()
        )
    }
    kinds += Counter(
        str(f.code) for f in rules.check_closings_missing(races, closed, deadline, now)
    )
    tallies = {
        tps: codec.tally_from_dict(tps, tally)
        for tps, tally in session.execute(
            select(TpsTallyRow.tps, TpsTallyRow.tally).where(TpsTallyRow.kabkota_code == kab)
        )
    }
    kinds += Counter(str(f.code) for f in rules.check_all_quantities(plan, tallies, now))
    session.expunge_all()
    return kinds, len(items)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument("--kab", default="32.01", help="the area: a kabupaten or a province")
    parser.add_argument("--db", help="the database (default tepat_scale_<size>)")
    args = parser.parse_args()
    url = make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    database = args.db or f"tepat_scale_{args.size}"
    url = url.set(database=database).render_as_string(hide_password=False)
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    wanted = DEADLINE_CODES | QUANTITY_CODES | {rules.CLOSING_MISSING}
    rows, ok = [], True
    with app.app_context():
        session = db.session
        election = session.scalar(select(Election))
        # Counters of older code are counted once (timed apart: an upgrade, not a request).
        began = time.perf_counter()
        overview.ensure_counted(session, args.kab)
        quantities.ensure_many(session, election, live.kabupaten_under(session, args.kab))
        session.commit()
        upgrade_s = time.perf_counter() - began
        for name, now in MOMENTS.items():
            desk = counted(session, election, args.kab, now)
            base = item_by_item(session, election, args.kab, now)
            mine = Counter({k: n for k, n in desk["kinds"].items() if k in wanted})
            theirs = Counter({k: n for k, n in base["kinds"].items() if k in wanted})
            ok &= mine == theirs
            if mine != theirs:
                print(f"  ! {name}: desk {dict(mine)} != item by item {dict(theirs)}")
            rows.append((name, base["items"], mine, desk, base, mine == theirs))
            session.rollback()
            live.clear()
    print(
        f"\nArea {args.kab}, {args.size:,} TPS ({database}), PostgreSQL, "
        "in process, cold (caches and built plans dropped); counters of older code counted "
        f"first in {upgrade_s:,.1f} s\n"
    )
    print(
        "| moment | items | late: overdue / at risk / not received "
        "| quantities: short / surplus / kecamatan not issued | TPS owing a closing "
        "| findings page (first 100) | region summary | baseline: every item and TPS checked "
        "| equal |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, items, mine, desk, base, same in rows:
        print(
            f"| {name} | {items:,} | {mine['overdue']:,} / {mine['at_risk']:,} / "
            f"{mine['not_received']:,} | {mine['shortage']:,} / {mine['surplus']:,} / "
            f"{mine['not_issued']:,} | {mine[rules.CLOSING_MISSING]:,} "
            f"| {desk['page_s'] * 1000:,.0f} ms ({desk['listed']}) "
            f"| {desk['summary_s'] * 1000:,.0f} ms | {base['s'] * 1000:,.0f} ms "
            f"| {'yes' if same else 'NO'} |"
        )
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
