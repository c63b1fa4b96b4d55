"""``tepat-scan`` end to end: config, keys, fetch, run over images, status, sync."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import httpx
import pytest

from scanner import ClientHome, Outbox
from scanner.cli import EXIT_AUTH, EXIT_OK, main
from tests.scanner import stress
from tests.scanner.fakeserver import running_server
from tests.scanner.labelkit import LabelKit

ROOT = Path(__file__).resolve().parents[2]


def tepat_scan(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TEPAT_SCAN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "scanner.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
    )


def test_courier_day_end_to_end(tmp_path: Path) -> None:
    home = tmp_path / "home"
    kit = LabelKit.create()
    forger = LabelKit.create()  # same key id, different key: a forged label
    good = kit.label(destination="6210052016001", race="GUB", quantity=420)
    voided_serial = "V01D0000000000ZZ"
    voided = kit.label(serial=voided_serial, destination="6210052016001")
    astray = kit.label(destination="3604012001001")  # Kab. Serang's ballots
    forged = forger.label(destination="6210052016001")
    frames = tmp_path / "frames"
    frames.mkdir()
    # the good label is seen in two consecutive frames: one scan
    for i, text in enumerate([good, good, forged, voided, astray]):
        cv2.imwrite(str(frames / f"{i:03d}.png"), stress.render_frame("clean", i, [text]))
    (tmp_path / "keys.json").write_text(kit.keys_json)

    with running_server() as server:
        server.keys_json = kit.keys_json
        server.plan_slice = {
            "node": "62.10.05",
            "kind": "ppk",
            "parent": "62.10",
            "children": [],
            "destinations": ["6210052016001"],
            "voided": [voided_serial],
            "races": ["GUB", "BUP"],
            "allowed": [
                {
                    "destination": "6210052016001",
                    "item_type": "SURAT",
                    "race": "GUB",
                    "quantity": 420,
                }
            ],
        }
        server.reject_labels = {forged}

        configured = tepat_scan(
            home,
            "config",
            "--server",
            server.url,
            "--token",
            server.token,
            "--node",
            "62.10.05",
            "--action",
            "terima",
        )
        assert configured.returncode == 0, configured.stderr
        assert "62.10.05" in configured.stdout and server.token not in configured.stdout
        assert oct((home / "config.json").stat().st_mode & 0o777) == "0o600"

        imported = tepat_scan(home, "keys-import", str(tmp_path / "keys.json"))
        assert imported.returncode == 0 and "1 kunci" in imported.stdout
        fetched = tepat_scan(home, "fetch")
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        assert "1 tujuan" in fetched.stdout

        run = tepat_scan(
            home,
            "run",
            "--source",
            f"images:{frames}",
            "--count",
            "420",
            "--condition",
            "baik",
            "--seal",
            "S-001",
            "--seal",
            "S-002",
            "--counterpart",
            "PPS Tewang",
            "--dedupe-seconds",
            "60",
        )
        assert run.returncode == EXIT_OK, run.stdout + run.stderr
        lines = [ln for ln in run.stdout.splitlines() if ln[:2] in ("OK", "MA", "PE")]
        assert len(lines) == 4, run.stdout
        assert lines[0].startswith("OK") and "SURAT GUB x420 -> 6210052016001" in lines[0]
        assert lines[1].startswith("MASALAH") and "TIDAK SAH" in run.stdout
        assert lines[2].startswith("MASALAH") and "dibatalkan" in run.stdout
        assert lines[3].startswith("MASALAH") and "Salah alamat" in run.stdout
        assert "\a" not in run.stdout  # no bell when stdout is not a terminal

        status = tepat_scan(home, "status")
        assert status.returncode == 0
        assert "Menunggu  0 scan" in status.stdout
        assert "1 scan ditolak server" in status.stdout and "bad_signature" in status.stdout

    sent = sorted(server.events.values(), key=lambda e: e["device_seq"])
    assert [e["label"] for e in sent] == [good, voided, astray]
    assert sent[0]["seals"] == ["S-001", "S-002"] and sent[0]["quantity"] == 420
    assert sent[0]["condition"] == "baik" and sent[0]["counterpart"] == "PPS Tewang"
    assert sent[0]["node"] == "62.10.05" and sent[0]["action"] == "terima"


def test_sync_reports_queue_and_a_refused_token(tmp_path: Path) -> None:
    with running_server() as server:
        assert (
            tepat_scan(
                tmp_path, "config", "--server", server.url, "--token", "wrong", "--node", "62.10.05"
            ).returncode
            == 0
        )
        kit = LabelKit.create()
        stdin_run = subprocess.run(
            [sys.executable, "-m", "scanner.cli", "run", "--source", "stdin", "--no-sync"],
            input=f"{kit.label()}\n{kit.label()}\n",
            text=True,
            capture_output=True,
            env={**os.environ, "TEPAT_SCAN_HOME": str(tmp_path), "PYTHONPATH": str(ROOT)},
        )
        assert stdin_run.returncode == 0 and stdin_run.stdout.count("PERIKSA") == 2
        assert "Menunggu  2 scan" in tepat_scan(tmp_path, "status").stdout

        refused = tepat_scan(tmp_path, "sync")
        assert refused.returncode == EXIT_AUTH and "Token perangkat tidak sah" in refused.stdout

        assert tepat_scan(tmp_path, "config", "--token", server.token).returncode == 0
        synced = tepat_scan(tmp_path, "sync")
        assert synced.returncode == 0 and "diterima server 2" in synced.stdout
    assert len(server.events) == 2


def test_run_before_config_explains_what_to_do(tmp_path: Path) -> None:
    out = io.StringIO()
    code = main(["run", "--source", "stdin"], stdout=out, home=ClientHome(tmp_path))
    assert code == 1 and "tepat-scan config" in out.getvalue()


def test_fetch_uses_the_injected_transport(tmp_path: Path) -> None:
    home = ClientHome(tmp_path)
    home.configure(server="https://tepat.test", token="t", node="62.10.05")
    kit = LabelKit.create()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/v1/keys":
            return httpx.Response(200, text=kit.keys_json)
        assert request.url.path == "/api/v1/nodes/62.10.05/plan-slice"
        return httpx.Response(
            200,
            json={
                "node": "62.10.05",
                "kind": "ppk",
                "destinations": ["6210052016001"],
                "allowed": [],
            },
        )

    out = io.StringIO()
    assert main(["fetch"], transport=httpx.MockTransport(handler), stdout=out, home=home) == 0
    assert home.load_plan() is not None and json.loads(home.load_keys() or "")["keys"]


@pytest.mark.parametrize("spec", ["camera:x", "nothing", "images:/no/such/dir"])
def test_bad_source_is_reported(tmp_path: Path, spec: str) -> None:
    home = ClientHome(tmp_path)
    home.configure(server="https://tepat.test", token="t", node="62.10.05")
    out = io.StringIO()
    assert main(["run", "--source", spec, "--no-sync"], stdout=out, home=home) == 1
    assert out.getvalue().startswith("GAGAL")
    with Outbox(home.outbox_path) as box:
        assert box.count() == 0
