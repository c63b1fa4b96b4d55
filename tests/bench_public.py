"""Benchmark: the public side on the played Gunung Mas demo (about 14,000 scans).

Times what a crowd of observers costs: the kabupaten overview (cold, then cached), an
item's proof bundle (cold: one read of the log's leaves; cached per checkpoint), a
consistency proof, the EPCIS export of the kabupaten (API pages and the streamed CLI),
and tepat-verify on the bundle. Not a test: run it by hand.

    .venv/bin/python tests/bench_public.py [--postgres postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import func, select  # noqa: E402

from app import create_app  # noqa: E402
from app.auth import service as auth  # noqa: E402
from app.custody import ledger, merkle, simulation  # noqa: E402
from app.custody.models import Checkpoint, CustodyEvent, LedgerEntry  # noqa: E402
from app.extensions import db  # noqa: E402
from app.items import keys  # noqa: E402
from app.items.models import Item  # noqa: E402
from app.items.service import label_text  # noqa: E402
from app.plan.demo_loader import load  # noqa: E402
from app.public import proofs  # noqa: E402
from scanner.logcli import run as tepat_verify  # noqa: E402
from tests.bench_custody import fresh_postgres  # noqa: E402


def timed(fn: Any, repeat: int = 5) -> float:
    """Median wall time of ``fn`` in milliseconds."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench(label: str, url: str, workdir: Path) -> list[tuple[str, str]]:
    key_dir = workdir / f"keys-{label}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "TESTING": True,
            "TEPAT_KEY_DIR": str(key_dir),
            "RATELIMIT_ENABLED": False,
            "TEPAT_NOW": simulation.DEMO_NOW.isoformat(),
            "TEPAT_PUBLIC_CACHE_SECONDS": 60,
        }
    )
    rows: list[tuple[str, str]] = []
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        list(load(db.session))
        keys.create_key(key_dir, date(2024, 11, 1))
        signer, keyring = keys.load_signer(key_dir), keys.load_keyring(key_dir)
        start = time.perf_counter()
        simulation.run(db.session, signer, keyring)
        rows.append(("play the demo distribution (s)", f"{time.perf_counter() - start:.1f}"))
        start = time.perf_counter()
        ledger.integrate(db.session, key_dir, "bench/log")
        leaves = db.session.scalar(select(func.count(LedgerEntry.idx))) or 0
        rows.append(
            (f"integrate the log, {leaves} leaves (s)", f"{time.perf_counter() - start:.1f}")
        )
        client = app.test_client()
        cold = time.perf_counter()
        assert client.get("/api/v1/public/regions/62.10").status_code == 200
        rows.append(("kabupaten overview, cold (ms)", f"{(time.perf_counter() - cold) * 1000:.0f}"))
        rows.append(
            (
                "kabupaten overview, cached (ms)",
                f"{timed(lambda: client.get('/publik/wilayah/62.10')):.1f}",
            )
        )
        serial = db.session.scalar(
            select(CustodyEvent.serial)
            .group_by(CustodyEvent.serial)
            .order_by(func.count().desc())
            .limit(1)
        )
        item = db.session.get(Item, serial)
        text = label_text(item, signer, "https://tepat.local")
        code = text[text.index("/L/") + 3 :]
        proofs._bundles.clear()
        cold = time.perf_counter()
        bundle = client.get(f"/api/v1/public/items/{code}/proof").get_json()
        rows.append(
            (
                f"proof bundle, {len(bundle['events'])} scans, first after integration (ms)",
                f"{(time.perf_counter() - cold) * 1000:.0f}",
            )
        )

        def uncached() -> None:
            proofs._bundles.clear()
            client.get(f"/api/v1/public/items/{code}/proof")

        rows.append(("proof bundle, nodes stored, not cached (ms)", f"{timed(uncached):.1f}"))
        rows.append(
            (
                "proof bundle, cached (ms)",
                f"{timed(lambda: client.get(f'/api/v1/public/items/{code}/proof')):.1f}",
            )
        )
        rows.append(
            ("public item page (ms)", f"{timed(lambda: client.get(f'/publik/barang/{code}')):.1f}")
        )
        half = leaves // 2
        # An observer's older checkpoint at half the log, to ask a consistency proof for.
        older = list(
            db.session.scalars(
                select(LedgerEntry.leaf_hash)
                .where(LedgerEntry.idx < half)
                .order_by(LedgerEntry.idx)
            )
        )
        db.session.add(Checkpoint(tree_size=half, root=merkle.root(older), note="bench"))
        db.session.commit()
        rows.append(
            (
                f"consistency proof {half} -> {leaves} (ms)",
                f"{timed(lambda: proofs.consistency(db.session, half, leaves), 3):.0f}",
            )
        )
        staff = app.test_client()
        token, _ = auth.create_token(db.session, auth.find_user(db.session, "desk"), "bench")
        bearer = {"Authorization": f"Bearer {token}"}
        start = time.perf_counter()
        url: str | None = "/api/v1/epcis/events?wilayah=62.10&limit=2000"
        exported = pages = 0
        while url:
            response = staff.get(url, headers=bearer)
            assert response.status_code == 200, response.get_data(as_text=True)[:300]
            exported += len(response.get_json()["epcisBody"]["eventList"])
            pages += 1
            link = response.headers.get("Link")
            url = link[1 : link.index(">")].replace("http://localhost", "") if link else None
        api_seconds = time.perf_counter() - start
        rows.append(
            (
                f"EPCIS API, {exported} events in {pages} pages (events/s)",
                f"{exported / api_seconds:,.0f}",
            )
        )
        out = workdir / f"epcis-{label}.jsonld"
        start = time.perf_counter()
        result = app.test_cli_runner().invoke(
            args=["epcis", "export", "--wilayah", "62.10", "-o", str(out)]
        )
        assert result.exit_code == 0, result.output
        cli_seconds = time.perf_counter() - start
        rows.append(
            (
                f"EPCIS CLI streamed, {out.stat().st_size / 2**20:.1f} MB (events/s)",
                f"{exported / cli_seconds:,.0f}",
            )
        )
        (workdir / "key.json").write_text(json.dumps(proofs.log_key(key_dir)))
        (workdir / "bundle.json").write_text(json.dumps(bundle))
        argv = ["--key", str(workdir / "key.json"), "--bundle", str(workdir / "bundle.json")]
        verify_ms = timed(lambda: tepat_verify(argv, io.StringIO(), io.StringIO()))
        rows.append(("tepat-verify on the bundle (ms)", f"{verify_ms:.1f}"))
        db.session.remove()
        db.engine.dispose()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--postgres", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        results = {"SQLite": bench("sqlite", f"sqlite:///{workdir / 'bench.sqlite'}", workdir)}
        if args.postgres:
            results["PostgreSQL"] = bench(
                "pg", fresh_postgres(args.postgres, "tepat_bench_public"), workdir
            )
    labels = list(results)
    print("| measure | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for i, (name, _) in enumerate(results[labels[0]]):
        print(f"| {name} | " + " | ".join(results[k][i][1] for k in labels) + " |")


if __name__ == "__main__":
    main()
