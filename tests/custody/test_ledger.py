"""Tamper evidence: hash chains, the RFC 9162 log, checkpoints and `flask ledger verify`."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.custody import ledger, merkle
from app.custody.errors import CheckpointError, ProofError
from app.custody.models import CustodyEvent
from app.extensions import db
from tests.conftest import log_triggers_off
from tests.custody.conftest import Env


@contextmanager
def triggers_off() -> Iterator[None]:
    """Let a test play the attacker: switch the append-only triggers off for one edit."""
    with log_triggers_off():
        yield


def integrate(env: Env) -> None:
    assert ledger.integrate(db.session, env.app.config["TEPAT_KEY_DIR"], "tepat.test/ledger")


@pytest.fixture
def logged(env: Env) -> Env:
    """Three items with full journeys, integrated into the log in two checkpoints."""
    for tps, item_type in ((env.tps, "KOTAK"), (env.tps, "SURAT"), (env.other_tps, "KOTAK")):
        assert env.post(env.journey(env.first(tps, item_type))).status_code == 200
        integrate(env)
    return env


def events() -> list[CustodyEvent]:
    """Events in receipt order (the first item's six events come first)."""
    return list(db.session.scalars(select(CustodyEvent).order_by(CustodyEvent.server_time)))


def verify_cli(env: Env) -> tuple[int, str]:
    result = (
        env.app.test_cli_runner(mix_stderr=False).invoke(args=["ledger", "verify"])
        if "mix_stderr" in env.app.test_cli_runner.__code__.co_varnames
        else env.app.test_cli_runner().invoke(args=["ledger", "verify"])
    )
    return result.exit_code, result.output + (
        result.stderr if hasattr(result, "stderr_bytes") and result.stderr_bytes else ""
    )


def test_an_untouched_ledger_verifies(logged: Env) -> None:
    report = ledger.verify(db.session, logged.app.config["TEPAT_KEY_DIR"])
    assert report.ok, report.problems
    assert (report.events, report.leaves, report.checkpoints) == (18, 18, 3)
    code, output = verify_cli(logged)
    assert code == 0 and "OK" in output


def test_the_database_refuses_update_and_delete_of_events(logged: Env) -> None:
    target = events()[0].event_id
    for statement in (
        "UPDATE custody_event SET quantity = 99 WHERE event_id = :id",
        "DELETE FROM custody_event WHERE event_id = :id",
    ):
        with pytest.raises(DBAPIError):
            db.session.execute(text(statement), {"id": _param(target)})
        db.session.rollback()


def _param(event_id: uuid.UUID) -> object:
    return event_id if db.engine.dialect.name == "postgresql" else event_id.hex


@pytest.mark.parametrize(
    ("tamper", "expect"),
    [
        ("edit", "diubah"),
        ("delete", "terputus"),
        ("insert", "urutan 7"),
        ("reorder", "urutan"),
    ],
)
def test_any_direct_change_to_one_event_row_is_detected_and_named(
    logged: Env, tamper: str, expect: str
) -> None:
    rows = events()
    victim = rows[4]  # the 5th event: mid-chain of the first item
    victim_id = victim.event_id
    inserted = uuid.uuid4()
    with triggers_off():
        if tamper == "edit":
            db.session.execute(
                text("UPDATE custody_event SET quantity = 0 WHERE event_id = :id"),
                {"id": _param(victim_id)},
            )
        elif tamper == "delete":
            db.session.execute(
                text("DELETE FROM ledger_entry WHERE event_id = :id"), {"id": _param(victim_id)}
            )
            db.session.execute(
                text("DELETE FROM custody_event WHERE event_id = :id"), {"id": _param(victim_id)}
            )
        elif tamper == "insert":
            first = rows[0]
            clone = {c.name: getattr(first, c.key) for c in CustodyEvent.__table__.columns}
            clone.update(event_id=inserted, item_seq=7, node="62.10.02")
            db.session.execute(CustodyEvent.__table__.insert(), [clone])
        else:
            a, b = rows[4], rows[5]
            db.session.execute(
                text("UPDATE custody_event SET item_seq = -1 WHERE event_id = :id"),
                {"id": _param(a.event_id)},
            )
            db.session.execute(
                text("UPDATE custody_event SET item_seq = :s WHERE event_id = :id"),
                {"s": a.item_seq, "id": _param(b.event_id)},
            )
            db.session.execute(
                text("UPDATE custody_event SET item_seq = :s WHERE event_id = :id"),
                {"s": b.item_seq, "id": _param(a.event_id)},
            )
    db.session.expire_all()
    report = ledger.verify(db.session, logged.app.config["TEPAT_KEY_DIR"])
    assert not report.ok
    assert expect in " ".join(report.problems)
    named = {"edit": victim_id, "delete": None, "insert": inserted, "reorder": None}[tamper]
    if named:
        assert str(named) in report.problems[0]
    code, output = verify_cli(logged)
    assert code == 1 and "GAGAL" in output


def test_a_forged_checkpoint_signature_is_rejected(logged: Env) -> None:
    with triggers_off():
        db.session.execute(
            text("UPDATE ledger_checkpoint SET note = replace(note, '\n18\n', '\n17\n')")
        )
    report = ledger.verify(db.session, logged.app.config["TEPAT_KEY_DIR"])
    assert any("checkpoint" in p for p in report.problems)


def _public_key(body: dict) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(base64.b64decode(body["public_key"]))


def test_anyone_can_check_inclusion_and_consistency_without_the_database(logged: Env) -> None:
    headers = {"Authorization": f"Bearer {logged.tokens['kurir.tewah']}"}
    head = logged.client.get("/api/v1/ledger/checkpoint", headers=headers).get_json()
    key = _public_key(head)
    checkpoint = merkle.verify_checkpoint(head["checkpoint"], key, head["key_name"])
    assert checkpoint.size == 18
    event = events()[3]
    proof = logged.client.get(
        f"/api/v1/ledger/inclusion/{event.event_id}", headers=headers
    ).get_json()
    leaf = merkle.leaf_hash(ledger.leaf_data(event.event_id, bytes.fromhex(proof["event_hash"])))
    path = [bytes.fromhex(h) for h in proof["proof"]]
    merkle.verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"], path, checkpoint.root)
    with pytest.raises(ProofError):  # a flipped byte
        bad = [bytes([path[0][0] ^ 1]) + path[0][1:]] + path[1:]
        merkle.verify_inclusion(leaf, proof["leaf_index"], proof["tree_size"], bad, checkpoint.root)
    with pytest.raises(ProofError):  # a missing element
        merkle.verify_inclusion(
            leaf, proof["leaf_index"], proof["tree_size"], path[:-1], checkpoint.root
        )
    with pytest.raises(ProofError):  # an index beyond the tree
        merkle.verify_inclusion(leaf, 18, 18, path, checkpoint.root)

    consistency = logged.client.get(
        "/api/v1/ledger/consistency?first=6&second=18", headers=headers
    ).get_json()
    old = merkle.verify_checkpoint(consistency["first_checkpoint"], key)
    new = merkle.verify_checkpoint(consistency["second_checkpoint"], key)
    cproof = [bytes.fromhex(h) for h in consistency["proof"]]
    merkle.verify_consistency(6, 18, old.root, new.root, cproof)
    with pytest.raises(ProofError):
        merkle.verify_consistency(6, 18, old.root, new.root, cproof[1:])
    with pytest.raises(ProofError):
        merkle.verify_consistency(18, 6, new.root, old.root, cproof)
    with pytest.raises(CheckpointError):
        merkle.verify_checkpoint(head["checkpoint"].replace("18", "19", 1), key)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/api/v1/ledger/consistency?first=0&second=6", 422),
        ("/api/v1/ledger/consistency?first=6", 422),
        ("/api/v1/ledger/consistency?first=7&second=18", 404),
        ("/api/v1/ledger/inclusion/not-a-uuid", 404),
        ("/api/v1/ledger/inclusion/6f1c2b9e-0d3a-4c55-9b7e-2a41d8e0c9f3", 404),  # unknown id
    ],
)
def test_bad_proof_requests_get_clear_errors(logged: Env, url: str, status: int) -> None:
    headers = {"Authorization": f"Bearer {logged.tokens['kurir.tewah']}"}
    response = logged.client.get(url, headers=headers)
    assert response.status_code == status
    assert response.get_json()["message"]
