"""Benchmark: the kabupaten way back on a kept real-size database, per TPS vs rolled up.

Not a test (not timed by pytest). Reads the database ``tests/bench_scale.py`` left
(``tepat_scale_<size>``, PostgreSQL) and times, for the kabupaten and its largest
kecamatan, the read the way-back page did before (``desk.way_back``: every TPS, box,
tally, plan line and closed box's scans) against the one it does now
(``desk.way_back_rollup`` and the grouped PSU reserve), in the same process. Correctness:
the rolled-up boxes per stage equal the per-TPS count (closed or not at the TPS -> ``tps``).

    .venv/bin/python tests/bench_way_back.py --size 8000
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from app.closing import desk  # noqa: E402
from app.extensions import db  # noqa: E402
from app.plan.models import Tps  # noqa: E402
from app.plan.service import latest_election  # noqa: E402

#: The per-TPS stages as the rolled-up counters name them.
AS_COUNTED = {"belum_ditutup": "tps", "ditutup": "tps"}


def timed(call: Any, runs: int) -> tuple[float, Any]:
    """The best of ``runs`` calls in seconds, and the last answer."""
    best, answer = float("inf"), None
    for _ in range(runs):
        began = time.perf_counter()
        answer = call()
        best = min(best, time.perf_counter() - began)
        db.session.rollback()
    return best, answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=8000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    url = make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    url = url.set(database=f"tepat_scale_{args.size}").render_as_string(hide_password=False)
    kab = "62.10" if args.size == 219 else "32.01"
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TEPAT_KEY_DIR": tmp}
        )
        with app.app_context():
            election = latest_election(db.session)
            assert election is not None
            prefix = kab.replace(".", "")
            desa_codes = list(
                db.session.scalars(select(Tps.desa_code).where(Tps.id.like(prefix + "%")))
            )
            tps_total = len(desa_codes)
            kecamatan = Counter(code[: len(kab) + 3] for code in desa_codes).most_common(1)[0]
            print(
                f"\n{args.size:,}-TPS database: kabupaten {kab} ({tps_total:,} TPS), "
                f"largest kecamatan {kecamatan[0]} ({kecamatan[1]:,} TPS); best of {args.runs}\n"
            )
            print("| area | per TPS (before) | rolled up (now) | children | stages equal |")
            print("|---|---:|---:|---:|---|")
            for area in (kab, kecamatan[0]):
                before_s, before = timed(
                    lambda a=area: desk.way_back(db.session, election, a), args.runs
                )
                now_s, now = timed(
                    lambda a=area: (
                        desk.way_back_rollup(db.session, a),
                        desk.psu_reserve(db.session, election, a) if a == kab else [],
                    ),
                    args.runs,
                )
                rollup = now[0]
                counted: Counter[str] = Counter()
                for stage, n in before.stages.items():
                    counted[AS_COUNTED.get(stage, stage)] += n
                equal = {s: counted[s] for s in rollup.totals["stages"]} == dict(
                    rollup.totals["stages"]
                )
                print(
                    f"| {area} | {before_s * 1000:,.0f} ms ({len(before.tps):,} TPS rows) "
                    f"| {now_s * 1000:,.0f} ms | {len(rollup.children)} | {equal} |"
                )
                assert equal, (counted, rollup.totals["stages"])


if __name__ == "__main__":
    main()
