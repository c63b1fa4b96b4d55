"""Events signed by the device that made them (issue 11).

Before: events carried no device signature and the chain had no secret, so a forged event
appended with a recomputed hash passed ``flask ledger verify``.
"""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from app.custody import ledger
from app.custody.models import CustodyEvent, FindingRow
from app.extensions import db
from scanner import NewScan, Outbox, ScanApi, Syncer
from scanner.signing import DeviceKey, b64, unb64, verify_event
from tests.conftest import log_triggers_off
from tests.custody.conftest import Env


def _register(env: Env, key: DeviceKey, device_id: str = "hp-sig", user: str = "gudang") -> Any:
    return env.client.post(
        "/api/v1/devices/key",
        json={"device_id": device_id, "public_key": key.public_text},
        headers={"Authorization": f"Bearer {env.tokens[user]}"},
    )


def test_a_device_key_is_registered_once(env: Env, tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path / "a.pem")
    assert _register(env, key).status_code == 201
    assert _register(env, key).status_code == 200
    other = DeviceKey.load_or_create(tmp_path / "b.pem")
    assert _register(env, other).status_code == 409
    # Another token naming the same device_id has a device of its own.
    assert _register(env, other, user="kurir.tewah").status_code == 201
    bad = env.client.post(
        "/api/v1/devices/key",
        json={"device_id": "hp-sig", "public_key": "bukan kunci"},
        headers={"Authorization": f"Bearer {env.tokens['gudang']}"},
    )
    assert bad.status_code == 422


def test_events_of_a_keyed_device_must_be_signed_by_it(env: Env, tmp_path: Path) -> None:
    key = DeviceKey.load_or_create(tmp_path / "a.pem")
    _register(env, key)
    box = env.first(env.tps, "KOTAK")
    signed, unsigned, altered = env.journey(box, stop=2)[:3]
    altered = key.sign(altered)
    altered["note"] = "diubah setelah ditandatangani"
    response = env.post([key.sign(signed), unsigned, altered], device_id="hp-sig")
    codes = [r["code"] for r in response.get_json()["results"]]
    assert codes == ["ok", "bad_device_signature", "bad_device_signature"]
    stored = db.session.scalar(select(CustodyEvent))
    assert stored.signature is not None and stored.signed_body
    finding = db.session.scalar(select(FindingRow).where(FindingRow.code == "forged_scan"))
    assert finding is not None and finding.detail["count"] == 2


def test_tepat_scan_signs_and_verify_catches_an_event_invented_in_the_database(
    env: Env, tmp_path: Path
) -> None:
    key = DeviceKey.load_or_create(tmp_path / "device-key.pem")
    api = ScanApi(
        "http://tepat.test",
        env.tokens["gudang"],
        "hp-scan",
        transport=httpx.WSGITransport(app=env.app),
        signer=key,
    )
    box = env.first(env.tps, "KOTAK")
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        outbox.add(
            NewScan(
                label=env.label(box),
                action="terima",
                node="62.10",
                quantity=box.quantity,
                condition="baik",
            )
        )
        report = Syncer(outbox, api, sleep=lambda _: None, rng=random.Random(1)).sync()
    assert report.acknowledged == 1
    stored = db.session.scalar(select(CustodyEvent))
    sent = json.loads(stored.signed_body)
    assert verify_event(unb64(key.public_text), {**sent, "signature": b64(stored.signature)})
    key_dir = env.app.config["TEPAT_KEY_DIR"]
    assert ledger.verify(db.session, key_dir, derived=False).ok

    # A database writer appends a "receipt" by this device, recomputing the chain hash.
    values = ledger.row_values(stored)
    values.update(
        event_id=uuid.uuid4(),
        item_seq=stored.item_seq + 1,
        prev_hash=stored.hash,
        action="terima",
        node="62.10.03",
        signature=None,
        signed_body=None,
    )
    values["hash"] = ledger.event_hash(stored.hash, stored.item_seq + 1, values)
    with log_triggers_off():
        db.session.execute(CustodyEvent.__table__.insert(), [values])
    problems = ledger.verify(db.session, key_dir, derived=False).problems
    assert any(str(values["event_id"]) in p and "tanpa tanda tangan" in p for p in problems)

    # Or edits what the device said: the signature no longer matches the stored columns.
    with log_triggers_off():
        db.session.execute(
            text("UPDATE custody_event SET note = 'x' WHERE event_id = :id"),
            {"id": stored.event_id.hex if db.engine.dialect.name == "sqlite" else stored.event_id},
        )
    problems = ledger.verify(db.session, key_dir, derived=False).problems
    assert any("note" in p and "ditandatangani" in p for p in problems), problems


def test_verify_names_a_device_whose_key_was_removed_from_the_database(
    env: Env, tmp_path: Path
) -> None:
    """The device table is not a log: a writer who clears a key to slip in unsigned events
    is named by the device's signed events already in the log."""
    key = DeviceKey.load_or_create(tmp_path / "a.pem")
    assert _register(env, key).status_code == 201
    box = env.first(env.tps, "KOTAK")
    first = env.journey(box, stop=1)[0]
    response = env.post([key.sign(first)], device_id="hp-sig")
    assert [r["code"] for r in response.get_json()["results"]] == ["ok"]
    key_dir = env.app.config["TEPAT_KEY_DIR"]
    assert ledger.verify(db.session, key_dir, derived=False).ok

    db.session.execute(text("UPDATE device SET public_key = NULL WHERE device_id = 'hp-sig'"))
    db.session.commit()
    problems = ledger.verify(db.session, key_dir, derived=False).problems
    assert any("hp-sig" in p and "kunci perangkat itu tidak ada lagi" in p for p in problems)

    db.session.execute(text("DELETE FROM device WHERE device_id = 'hp-sig'"))
    db.session.commit()
    problems = ledger.verify(db.session, key_dir, derived=False).problems
    assert sum("kunci perangkat itu tidak ada lagi" in p for p in problems) == 1
