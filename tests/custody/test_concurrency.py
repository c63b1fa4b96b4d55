"""Parallel clients sending the same batches leave no duplicates and no forked chains."""

from __future__ import annotations

import random
import threading
from collections import Counter

from sqlalchemy import func, select

from app.custody import ledger
from app.custody.models import CustodyEvent
from app.extensions import db
from tests.custody.conftest import Env


def test_the_same_batches_from_parallel_clients_are_stored_exactly_once(env: Env) -> None:
    batches = [env.journey(env.first(env.tps, t)) for t in ("KOTAK", "SURAT", "BILIK", "TINTA")]
    headers = {"Authorization": f"Bearer {env.tokens['gudang']}"}
    statuses: Counter[str] = Counter()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def client_run(seed: int) -> None:
        order = batches[:]
        random.Random(seed).shuffle(order)
        try:
            with env.app.app_context():
                client = env.app.test_client()
                for batch in order:
                    response = client.post(
                        "/api/v1/scans",
                        headers=headers,
                        json={"device_id": "hp-1", "events": batch},
                    )
                    assert response.status_code == 200, response.get_json()
                    with lock:
                        statuses.update(r["status"] for r in response.get_json()["results"])
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=client_run, args=(seed,)) for seed in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    total = sum(len(b) for b in batches)
    assert statuses["accepted"] == total
    assert statuses["duplicate"] == total * 5
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == total
    seqs = db.session.execute(
        select(CustodyEvent.serial, func.max(CustodyEvent.item_seq), func.count()).group_by(
            CustodyEvent.serial
        )
    ).all()
    assert all(top == count == 6 for _, top, count in seqs)
    assert ledger.integrate(db.session, env.app.config["TEPAT_KEY_DIR"], "tepat.test/ledger")
    assert ledger.verify(db.session, env.app.config["TEPAT_KEY_DIR"]).ok
