"""``tepat-verify``: an observer's saved checkpoints and an item's bundle, checked offline.

The files are fetched from the public URLs as an observer would (before and after the log
grows); then they are tampered with in each way that matters and the command must fail
with a message naming the problem.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.custody import ledger, merkle
from app.extensions import db
from app.plan import codes
from app.plan.service import get_election
from scanner.logcli import run
from tests.desk import scenario
from tests.public.conftest import Public

pytestmark = pytest.mark.db


@pytest.fixture(scope="module")
def saved(public: Public, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Key, first checkpoint, the log grows, second checkpoint, proof, bundle: as files."""
    folder = tmp_path_factory.mktemp("observer")
    client = public.client
    (folder / "key.json").write_text(client.get("/api/v1/public/log/key").get_data(as_text=True))
    history = folder / "history"
    history.mkdir()
    first = client.get("/api/v1/public/log/checkpoint").get_data(as_text=True)
    (history / "checkpoint-1.txt").write_text(first)
    size1 = int(first.split("\n")[1])
    # The TPS 003 kit leaves the gudang later: more events, a second checkpoint.
    kit_b = public.story.first(scenario.TPS_B, "KIT")
    gudang, ppk, *_ = codes.route(scenario.TPS_B)
    scenario._play(
        db.session,
        public.story.keyring,
        get_election(db.session, scenario.ELECTION),
        "gudang",
        [(kit_b, "kirim", gudang, datetime(2024, 11, 26, 6, 0, tzinfo=UTC), {"target": ppk})],
    )
    ledger.integrate(db.session, public.app.config["TEPAT_KEY_DIR"], "tepat.test/log")
    second = client.get("/api/v1/public/log/checkpoint").get_data(as_text=True)
    size2 = int(second.split("\n")[1])
    assert size2 > size1
    (history / "checkpoint-2.txt").write_text(second)
    consistency = client.get(f"/api/v1/public/log/consistency?first={size1}&second={size2}")
    (history / "consistency.json").write_text(consistency.get_data(as_text=True))
    code = public.code(public.kit)
    bundle = client.get(f"/api/v1/public/items/{code}/proof?since={size1}").get_json()
    assert bundle["consistency"]["first"] == size1
    (folder / "bundle.json").write_text(json.dumps(bundle))
    return {"folder": folder, "size1": size1, "size2": size2, "bundle": bundle}


def verify(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(list(args), out, err)
    return code, out.getvalue() + err.getvalue()


def test_the_saved_history_and_the_bundle_verify(saved: dict[str, Any]) -> None:
    folder: Path = saved["folder"]
    code, text = verify(
        "--key",
        str(folder / "key.json"),
        "--history",
        str(folder / "history"),
        "--bundle",
        str(folder / "bundle.json"),
    )
    assert code == 0, text
    assert f"konsisten dari ukuran {saved['size1']} sampai {saved['size2']}" in text
    assert "6 pindaian ada di log" in text


def test_the_bundle_alone_extends_an_older_kept_checkpoint(saved: dict[str, Any]) -> None:
    folder: Path = saved["folder"]
    key = json.loads((folder / "key.json").read_text())["verifier_key"]
    code, text = verify(
        "--key",
        key,
        "--history",
        str(folder / "history" / "checkpoint-1.txt"),
        "--bundle",
        str(folder / "bundle.json"),
    )
    assert code == 0, text


def _tampered(saved: dict[str, Any], tmp_path: Path, change: Any) -> Path:
    bundle = json.loads(json.dumps(saved["bundle"]))
    change(bundle)
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    return path


def _flip(digest: str) -> str:
    return ("0" if digest[0] != "0" else "1") + digest[1:]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: b["events"][1]["proof"].__setitem__(0, _flip(b["events"][1]["proof"][0])),
            "scan 2: inclusion proof does not lead",
        ),
        (
            lambda b: b["events"][2].__setitem__("event_hash", _flip(b["events"][2]["event_hash"])),
            "scan 3: the leaf does not match the event",
        ),
        (lambda b: b["events"].pop(2), "scan 4: the hash chain is broken"),
        (
            lambda b: b.__setitem__(
                "checkpoint", b["checkpoint"].replace("tepat.test", "tepat.fake")
            ),
            "checkpoint of size 9: the signature does not verify",
        ),
        (
            lambda b: b.pop("consistency"),
            "the bundle does not prove it extends the kept checkpoint of size 8",
        ),
        (lambda b: b.__setitem__("format", "other"), "not a tepat-proof/v1 bundle"),
    ],
    ids=["proof-hash", "event-digest", "event-removed", "checkpoint", "no-consistency", "format"],
)
def test_a_tampered_bundle_fails_with_a_clear_message(
    saved: dict[str, Any], tmp_path: Path, change: Any, message: str
) -> None:
    folder: Path = saved["folder"]
    path = _tampered(saved, tmp_path, change)
    code, text = verify(
        "--key",
        str(folder / "key.json"),
        "--history",
        str(folder / "history" / "checkpoint-1.txt"),
        "--bundle",
        str(path),
    )
    assert code == 1 and f"GAGAL: {message}" in text, text


def test_a_rewritten_log_fails_the_history(
    saved: dict[str, Any], public: Public, tmp_path: Path
) -> None:
    """The server signs a bigger checkpoint over other leaves: consistency cannot hold."""
    folder: Path = saved["folder"]
    key = ledger.ledger_key(public.app.config["TEPAT_KEY_DIR"])
    forged = merkle.sign_checkpoint(
        "tepat.test/log", saved["size2"] + 1, bytes(32), key, ledger.KEY_NAME
    )
    proof = json.loads((folder / "history" / "consistency.json").read_text())
    (tmp_path / "1.txt").write_text((folder / "history" / "checkpoint-1.txt").read_text())
    (tmp_path / "2.txt").write_text(forged)
    proof.update({"second": saved["size2"] + 1, "second_checkpoint": forged})
    (tmp_path / "p.json").write_text(json.dumps(proof))
    code, text = verify("--key", str(folder / "key.json"), "--history", str(tmp_path))
    assert code == 1 and "the log was rewritten" in text, text
    (tmp_path / "p.json").unlink()
    code, text = verify("--key", str(folder / "key.json"), "--history", str(tmp_path))
    assert code == 1 and "no consistency proof from size" in text, text


def test_a_fork_and_a_foreign_key_fail(saved: dict[str, Any], tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    folder: Path = saved["folder"]
    stranger = merkle.verifier_key(ledger.KEY_NAME, Ed25519PrivateKey.generate().public_key())
    code, text = verify("--key", stranger, "--history", str(folder / "history"))
    assert code == 1 and "no signature from the trusted key" in text, text
    code, text = verify("--key", "not-a-key", "--history", str(folder / "history"))
    assert code == 1 and "GAGAL" in text
    code, text = verify("--key", str(folder / "key.json"))
    assert code == 2
    (tmp_path / "junk.json").write_text("[1, 2]")
    code, text = verify("--key", str(folder / "key.json"), "--history", str(tmp_path))
    assert code == 1 and "unknown kind of JSON" in text, text
