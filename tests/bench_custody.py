"""Benchmark: scan ingestion through the API and the desk summary, on SQLite and PostgreSQL.

Plays the Gunung Mas demo distribution (about 14,000 scans: packing, dispatch and receipt
to every TPS) through POST /api/v1/scans in batches of up to 500, next to a raw
``executemany`` insert of the same event rows (the floor: no verification, no rules, no
state), then times the desk summary of the kabupaten. Not a test: run it by hand.

    .venv/bin/python tests/bench_custody.py [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from datetime import date
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.auth import service as auth  # noqa: E402
from app.custody import overview, queries, simulation  # noqa: E402
from app.custody.models import CustodyEvent  # noqa: E402
from app.extensions import db  # noqa: E402
from app.items import keys  # noqa: E402
from app.items.service import issue_items  # noqa: E402
from app.plan.demo_loader import load  # noqa: E402
from app.plan.models import Election  # noqa: E402


def fresh_postgres(url: str, name: str) -> str:
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def run(label: str, url: str, workdir: Path) -> dict[str, float | int | str]:
    key_dir = workdir / f"keys-{label}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "TESTING": True,
            "TEPAT_KEY_DIR": str(key_dir),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TEPAT_NOW": "2024-11-22T00:00:00Z",
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        list(load(db.session))
        keys.create_key(key_dir, date(2024, 11, 1))
        signer, keyring = keys.load_signer(key_dir), keys.load_keyring(key_dir)
        election = db.session.get(Election, "pilkada-2024")
        issue_items(db.session, election.code, "62.10", None, signer, None)
        sim = simulation.Simulation(db.session, signer, keyring)
        sim.build(election)
        users = sim.users()
        tokens = {
            actor: auth.create_token(db.session, user, "bench")[0] for actor, user in users.items()
        }
        sim.scans.sort(
            key=lambda s: (
                s.at.replace(minute=0, second=0, microsecond=0),
                s.actor,
                s.at,
                s.body["event_id"],
            )
        )
        batches: list[tuple[str, list[dict]]] = []
        seq: dict[str, int] = defaultdict(int)
        for scan in sim.scans:
            if not batches or batches[-1][0] != scan.actor or len(batches[-1][1]) == 500:
                batches.append((scan.actor, []))
            seq[scan.actor] += 1
            scan.body["device_seq"] = seq[scan.actor]
            batches[-1][1].append(scan.body)
        client = app.test_client()
        started = time.perf_counter()
        accepted = 0
        for actor, events in batches:
            response = client.post(
                "/api/v1/scans",
                json={"device_id": f"bench-{actor}", "events": events},
                headers={"Authorization": f"Bearer {tokens[actor]}"},
            )
            accepted += response.get_json()["accepted"]
        api_seconds = time.perf_counter() - started
        total = sum(len(e) for _, e in batches)

        rows = [
            {c.name: getattr(r, c.key) for c in CustodyEvent.__table__.columns}
            for r in db.session.scalars(db.select(CustodyEvent))
        ]
        for row in rows:
            row["event_id"] = uuid.uuid4()
            row["item_seq"] += 1_000_000
        started = time.perf_counter()
        with db.engine.begin() as conn:
            conn.execute(CustodyEvent.__table__.insert(), rows)
        raw_seconds = time.perf_counter() - started
        db.session.rollback()

        db.session.remove()
        election = db.session.get(Election, "pilkada-2024")
        timings = []
        for _ in range(3):
            overview.clear_caches()  # cold: no cached answer (counters and live findings read)
            started = time.perf_counter()
            summary = queries.region_summary(db.session, election, "62.10", simulation.DEMO_NOW)
            timings.append(time.perf_counter() - started)
        started = time.perf_counter()
        queries.region_summary(db.session, election, "62.10", simulation.DEMO_NOW)
        warm = time.perf_counter() - started
        db.session.remove()
        db.engine.dispose()
    return {
        "db": label,
        "events": total,
        "accepted": accepted,
        "batches": len(batches),
        "api_s": api_seconds,
        "api_eps": total / api_seconds,
        "raw_s": raw_seconds,
        "raw_eps": len(rows) / raw_seconds,
        "summary_ms": statistics.median(timings) * 1000,
        "warm_ms": warm * 1000,
        "items": summary["items"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results.append(run("SQLite", f"sqlite:///{workdir / 'bench.sqlite'}", workdir))
        if not args.no_postgres:
            results.append(run("PostgreSQL", fresh_postgres(args.postgres, "tepat_bench"), workdir))
    print(
        "| database | scans | batches | API: s | API: scans/s | raw executemany: scans/s | "
        "API / raw | desk summary, cold (median of 3) | desk summary, cached |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['db']} | {r['events']:,} ({r['accepted']:,} accepted) | {r['batches']} | "
            f"{r['api_s']:.1f} | {r['api_eps']:,.0f} | {r['raw_eps']:,.0f} | "
            f"{r['api_eps'] / r['raw_eps']:.1%} | "
            f"{r['summary_ms']:,.0f} ms for {r['items']:,} items | "
            f"{r['warm_ms']:,.0f} ms |"
        )


if __name__ == "__main__":
    main()
