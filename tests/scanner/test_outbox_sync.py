"""The outbox keeps every scan until the server acknowledges it; the sync loop delivers."""

from __future__ import annotations

import json
import random
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from scanner import (
    AuthError,
    Backoff,
    NewScan,
    Outbox,
    ProtocolError,
    ScanApi,
    ServerUnavailable,
    Settlement,
    Syncer,
)


@pytest.fixture
def outbox(tmp_path: Path) -> Outbox:
    box = Outbox(tmp_path / "outbox.sqlite3")
    yield box
    box.close()


def scan(i: int = 0) -> NewScan:
    return NewScan(
        label=f"TP1:LABEL{i}",
        action="terima",
        node="62.10.05",
        quantity=20,
        condition="baik",
        seals=("A123",),
        counterpart="PPS Kuala Kurun",
    )


def test_add_assigns_uuid_sequence_and_utc_time(outbox: Outbox) -> None:
    first, second = outbox.add(scan(1)), outbox.add(scan(2))
    assert (first.device_seq, second.device_seq) == (1, 2)
    assert len({first.event_id, second.event_id}) == 2 and len(first.event_id) == 36
    assert first.device_time.endswith("+00:00")
    assert first.to_json()["seals"] == ["A123"] and first.to_json()["container"] is None


def test_device_seq_is_never_reused_even_after_deletes_and_reopen(tmp_path: Path) -> None:
    path = tmp_path / "outbox.sqlite3"
    with Outbox(path) as box:
        events = [box.add(scan(i)) for i in range(3)]
        box.settle([Settlement(e.event_id, "accepted") for e in events])
        assert box.count() == 0
    with Outbox(path) as box:
        assert box.add(scan(9)).device_seq == 4
        assert box.last_seq() == 4


def test_database_is_wal_with_full_sync(outbox: Outbox) -> None:
    db = sqlite3.connect(outbox.path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    assert outbox._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_settle_deletes_acknowledged_and_moves_refusals_to_problems(outbox: Outbox) -> None:
    a, b, c, d, e = (outbox.add(scan(i)) for i in range(5))
    finding = {"code": "wrong_route", "severity": "error", "message": "salah alamat"}
    acked, refused = outbox.settle(
        [
            Settlement(a.event_id, "accepted"),
            Settlement(b.event_id, "duplicate"),
            Settlement(c.event_id, "rejected", "bad_signature", "palsu"),
            Settlement(d.event_id, "conflict", "double_receipt", "sudah diterima", (finding,)),
        ]
    )
    assert (acked, refused) == (2, 2)
    assert [x.event_id for x in outbox.pending()] == [e.event_id]
    problems = outbox.problems()
    assert [(p.event.event_id, p.status, p.code) for p in problems] == [
        (c.event_id, "rejected", "bad_signature"),
        (d.event_id, "conflict", "double_receipt"),
    ]
    assert problems[1].findings == (finding,)


class Server:
    """A MockTransport handler that dedups by event_id like the real server."""

    def __init__(self) -> None:
        self.stored: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.script: list[int | Exception] = []  # status codes or errors, consumed per POST
        self.max_events: int | None = None
        self.refuse: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        body = json.loads(request.content)
        if self.max_events is not None and len(body["events"]) > self.max_events:
            return httpx.Response(413)
        if self.script:
            step = self.script.pop(0)
            if isinstance(step, Exception):
                raise step
            if step != 200:
                return httpx.Response(step, json={"error": "x"})
        results = []
        for event in body["events"]:
            if event["label"] in self.refuse:
                results.append(
                    {
                        "event_id": event["event_id"],
                        "status": "rejected",
                        "code": "bad_signature",
                        "message": "palsu",
                        "findings": [],
                    }
                )
                continue
            status = "duplicate" if event["event_id"] in self.stored else "accepted"
            self.stored.setdefault(event["event_id"], event)
            results.append(
                {
                    "event_id": event["event_id"],
                    "status": status,
                    "code": "",
                    "message": "",
                    "findings": [],
                }
            )
        return httpx.Response(200, json={"results": results})


def make_syncer(outbox: Outbox, server: Server, **kwargs: Any) -> tuple[Syncer, list[float]]:
    sleeps: list[float] = []
    api = ScanApi("http://tepat.test", "tok", "device-1", transport=httpx.MockTransport(server))
    syncer = Syncer(outbox, api, sleep=sleeps.append, rng=random.Random(7), **kwargs)
    return syncer, sleeps


def test_sync_sends_batches_of_at_most_500_with_token_and_device(outbox: Outbox) -> None:
    events = [outbox.add(scan(i)) for i in range(1203)]
    server = Server()
    syncer, _ = make_syncer(outbox, server)
    report = syncer.sync()
    assert (report.sent, report.acknowledged, report.remaining) == (1203, 1203, 0)
    sizes = [len(json.loads(r.content)["events"]) for r in server.requests]
    assert sizes == [500, 500, 203]
    first = server.requests[0]
    assert first.headers["Authorization"] == "Bearer tok"
    assert first.url.path == "/api/v1/scans"
    assert json.loads(first.content)["device_id"] == "device-1"
    assert set(server.stored) == {e.event_id for e in events}


def test_network_errors_and_5xx_are_retried_with_growing_jittered_backoff(
    outbox: Outbox,
) -> None:
    outbox.add(scan())
    server = Server()
    server.script = [httpx.ConnectError("refused"), 503, httpx.ReadTimeout("slow"), 502]
    syncer, sleeps = make_syncer(outbox, server, backoff=Backoff(base=1.0, cap=60.0))
    assert syncer.sync().acknowledged == 1
    assert len(sleeps) == 4
    for attempt, delay in enumerate(sleeps):
        assert 2**attempt / 2 <= delay <= 2**attempt
    assert outbox.count() == 0


def test_server_gone_keeps_scans_queued_and_says_so(outbox: Outbox) -> None:
    outbox.add(scan())
    server = Server()
    server.script = [503] * 10
    syncer, sleeps = make_syncer(outbox, server, max_attempts=3)
    with pytest.raises(ServerUnavailable) as caught:
        syncer.sync()
    assert caught.value.attempts == 3 and len(sleeps) == 2
    assert outbox.count() == 1


@pytest.mark.parametrize("status", [401, 403])
def test_refused_token_stops_at_once_without_retry(outbox: Outbox, status: int) -> None:
    outbox.add(scan())
    server = Server()
    server.script = [status]
    syncer, sleeps = make_syncer(outbox, server)
    with pytest.raises(AuthError) as caught:
        syncer.sync()
    assert caught.value.status_code == status and "Token" in str(caught.value)
    assert sleeps == [] and len(server.requests) == 1 and outbox.count() == 1


def test_413_splits_the_batch_until_it_fits(outbox: Outbox) -> None:
    for i in range(10):
        outbox.add(scan(i))
    server = Server()
    server.max_events = 3
    syncer, _ = make_syncer(outbox, server)
    assert syncer.sync().acknowledged == 10
    assert len(server.stored) == 10 and outbox.count() == 0


def test_final_refusals_go_to_problems_and_are_not_resent(outbox: Outbox) -> None:
    forged = outbox.add(scan(666))
    outbox.add(scan(1))
    server = Server()
    server.refuse = {forged.label}
    syncer, _ = make_syncer(outbox, server)
    report = syncer.sync()
    assert (report.acknowledged, report.refused, report.remaining) == (1, 1, 0)
    assert [p.event.event_id for p in outbox.problems()] == [forged.event_id]
    syncer.sync()
    assert len(server.requests) == 1


def test_answer_missing_an_event_leaves_it_queued(outbox: Outbox) -> None:
    a, b = outbox.add(scan(1)), outbox.add(scan(2))

    def partial(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "results": [
                    {
                        "event_id": a.event_id,
                        "status": "accepted",
                        "code": "",
                        "message": "",
                        "findings": [],
                    }
                ]
            },
        )

    api = ScanApi("http://tepat.test", "tok", "d", transport=httpx.MockTransport(partial))
    report = Syncer(outbox, api).sync()
    assert report.remaining == 1 and [e.event_id for e in outbox.pending()] == [b.event_id]


def test_answer_breaking_the_contract_is_a_protocol_error(outbox: Outbox) -> None:
    outbox.add(scan())
    api = ScanApi(
        "http://tepat.test",
        "tok",
        "d",
        transport=httpx.MockTransport(
            lambda r: httpx.Response(200, json={"results": [{"event_id": "x", "status": "ok"}]})
        ),
    )
    with pytest.raises(ProtocolError):
        Syncer(outbox, api).sync()
    assert outbox.count() == 1


def test_every_batch_carries_the_device_clock_so_the_server_can_measure_it(
    outbox: Outbox,
) -> None:
    """Issue 10: tepat-scan never sent sent_at, so a phone 3 h fast made false lateness."""
    outbox.add(scan(1))
    server = Server()
    fast = datetime(2024, 11, 26, 11, 0, tzinfo=UTC)
    api = ScanApi(
        "http://tepat.test",
        "tok",
        "device-1",
        transport=httpx.MockTransport(server),
        clock=lambda: fast,
    )
    Syncer(outbox, api, sleep=lambda _: None, rng=random.Random(7)).sync()
    body = json.loads(server.requests[0].content)
    assert datetime.fromisoformat(body["sent_at"]) == fast
