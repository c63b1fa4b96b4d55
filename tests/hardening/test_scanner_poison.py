"""tepat-scan never blocks its queue behind one scan the server cannot take (issue 11).

Before: a batch answered 500 (a return scan on PostgreSQL) was retried forever and every
scan queued behind it waited; a 400/422 stopped the client with a protocol error.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import httpx
import pytest

from scanner import NewScan, Outbox, ScanApi, ServerUnavailable, Syncer


def _scan(i: int) -> NewScan:
    return NewScan(label=f"TP1:LABEL{i}", action="terima", node="62.10.05", quantity=1)


class PoisonServer:
    """Answers ``status`` to any batch holding a poisoned label; accepts the rest."""

    def __init__(self, poison: set[str], status: int = 500) -> None:
        self.poison, self.status = poison, status
        self.stored: set[str] = set()
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        events = json.loads(request.content)["events"]
        if any(e["label"] in self.poison for e in events):
            return httpx.Response(self.status, json={"message": "device_seq terlalu besar"})
        self.stored.update(e["event_id"] for e in events)
        return httpx.Response(
            200,
            json={
                "results": [
                    {"event_id": e["event_id"], "status": "accepted", "findings": []}
                    for e in events
                ]
            },
        )


def _syncer(outbox: Outbox, server: PoisonServer) -> Syncer:
    api = ScanApi("http://tepat.test", "tok", "hp-1", transport=httpx.MockTransport(server))
    return Syncer(outbox, api, sleep=lambda _: None, rng=random.Random(1), max_attempts=2)


@pytest.mark.parametrize("status", [500, 400, 422])
def test_one_poisoned_scan_is_set_aside_and_shown_and_the_rest_are_delivered(
    tmp_path: Path, status: int
) -> None:
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        scans = [outbox.add(_scan(i)) for i in range(40)]
        server = PoisonServer({"TP1:LABEL17"}, status)
        report = _syncer(outbox, server).sync()
        assert outbox.count() == 0
        assert server.stored == {s.event_id for i, s in enumerate(scans) if i != 17}
        assert report.refused == 1
        (problem,) = outbox.problems()
        assert problem.event.event_id == scans[17].event_id
        assert problem.message  # the person sees why
        assert server.requests < 40  # halving, not one request per scan


def test_a_server_failing_on_everything_sets_nothing_aside(tmp_path: Path) -> None:
    with Outbox(tmp_path / "outbox.sqlite3") as outbox:
        for i in range(10):
            outbox.add(_scan(i))
        server = PoisonServer({f"TP1:LABEL{i}" for i in range(10)})
        with pytest.raises(ServerUnavailable):
            _syncer(outbox, server).sync()
        assert outbox.count() == 10 and outbox.problems() == []
