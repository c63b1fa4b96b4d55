"""Killing the client at any moment loses no queued or acknowledged scan, and the server
ends up with every scan exactly once (it dedups by event_id, like the real one)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from scanner import ClientHome, NewScan, Outbox
from tests.scanner.fakeserver import FakeScanServer, running_server
from tests.scanner.labelkit import LabelKit

ROOT = Path(__file__).resolve().parents[2]


def _client(home: Path, *args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "TEPAT_SCAN_HOME": str(home), "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "scanner.cli", *args],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        **kwargs,
    )  # type: ignore[call-overload]


def _configure(home: Path, server: FakeScanServer) -> None:
    ClientHome(home).configure(
        server=server.url, token=server.token, node="62.10.05", action="terima"
    )


def test_killed_mid_sync_then_dropped_connections_then_resent(tmp_path: Path) -> None:
    with running_server() as server:
        _configure(tmp_path, server)
        with Outbox(ClientHome(tmp_path).outbox_path) as box:
            queued = {
                box.add(NewScan(f"TP1:ITEM{i:05d}", "terima", "62.10.05")).event_id
                for i in range(1200)
            }

        # 1. The server stores the first batch of 500 but holds its answer; kill -9 then.
        server.hold = threading.Event()
        first = _client(tmp_path, "sync")
        assert server.wait_recorded(500)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        server.hold.set()
        server.hold = None
        with Outbox(ClientHome(tmp_path).outbox_path) as box:
            assert box.count() == 1200  # nothing acknowledged, nothing lost

        # 2. Restart; the server records the next two POSTs and drops the connection.
        server.drop_after_record = 2
        second = _client(tmp_path, "sync")
        out, err = second.communicate(timeout=60)
        assert second.returncode == 0, out + err
        assert "masih menunggu 0" in out

    assert set(server.events) == queued and len(server.events) == 1200
    assert max(server.deliveries.values()) >= 2  # the same batch really went twice
    seqs = sorted(e["device_seq"] for e in server.events.values())
    assert seqs == list(range(1, 1201))
    with Outbox(ClientHome(tmp_path).outbox_path) as box:
        assert box.count() == 0 and box.problems() == []


def test_killed_while_scanning_keeps_every_scan_it_reported(tmp_path: Path) -> None:
    kit = LabelKit.create()
    labels = [kit.label() for _ in range(40)]
    with running_server() as server:
        _configure(tmp_path, server)
        server.drop_after_record = 3
        run = _client(
            tmp_path, "run", "--source", "stdin", "--sync-interval", "0.05", stdin=subprocess.PIPE
        )
        assert run.stdin is not None and run.stdout is not None
        reported = 0
        for label in labels[:25]:
            run.stdin.write(label + "\n")
            run.stdin.flush()
            while not run.stdout.readline().startswith(("OK", "PERIKSA", "MASALAH")):
                pass
            reported += 1
        time.sleep(0.3)  # let the sync thread get going, then pull the plug
        run.send_signal(signal.SIGKILL)
        run.wait(10)
        with Outbox(ClientHome(tmp_path).outbox_path) as box:
            waiting = {e.label for e in box.pending()}
        assert waiting | {e["label"] for e in server.events.values()} >= set(labels[:reported])

        resumed = _client(tmp_path, "sync")
        out, err = resumed.communicate(timeout=60)
        assert resumed.returncode == 0, out + err

    assert sorted(e["label"] for e in server.events.values()) == sorted(labels[:25])
