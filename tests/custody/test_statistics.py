"""Planner statistics kept current by ingest (``app.custody.statistics``): a table that
doubled since its last analysis is analysed after a batch, at most once per interval per
process; SQLite has nothing to analyse."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text

from app.custody import statistics
from app.extensions import db
from tests.custody.conftest import Env


@pytest.fixture(autouse=True)
def _look_now() -> Any:
    """Every test starts as if the process had never looked."""
    statistics._last[0] = float("-inf")
    yield
    statistics._last[0] = float("-inf")


def _postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _flush_stats() -> None:
    """Make this backend's table counts visible to the statistics views now."""
    db.session.execute(text("SELECT pg_stat_force_next_flush()"))
    db.session.commit()


def test_looks_at_most_once_per_interval() -> None:
    assert statistics.due(100.0)
    assert not statistics.due(100.0 + statistics.EVERY / 2)
    assert statistics.due(100.0 + statistics.EVERY)


def test_a_table_that_doubled_is_analysed_once(app: Flask) -> None:
    with app.app_context():
        if not _postgres():
            assert statistics.refresh(db.session) == []
            return
        rows = [
            {"region_code": f"=stat.{i:05d}", "metric": "probe", "n": 1}
            for i in range(statistics.BASE * 3)
        ]
        db.session.execute(text("ANALYZE"))  # what other tests left behind is current
        _flush_stats()
        db.session.execute(
            text(
                "INSERT INTO region_count (region_code, metric, n) "
                "VALUES (:region_code, :metric, :n)"
            ),
            rows,
        )
        _flush_stats()
        assert "region_count" in statistics.stale(db.session)

        assert "region_count" in statistics.refresh(db.session)
        # Analysed: PostgreSQL now knows the rows (and the same process does not look again).
        known = db.session.scalar(
            text("SELECT reltuples FROM pg_class WHERE relname = 'region_count'")
        )
        assert known >= len(rows)
        assert statistics.refresh(db.session) == []
        _flush_stats()
        assert "region_count" not in statistics.stale(db.session)


def test_every_ingest_batch_looks_after_its_commit(env: Env, monkeypatch: Any) -> None:
    """The look happens after the batch is stored (a failed ANALYZE never loses a scan)."""
    looked: list[int] = []

    def spy(session: Any) -> list[str]:
        looked.append(db.session.scalar(text("SELECT count(*) FROM custody_event")))
        return []

    monkeypatch.setattr(statistics, "refresh", spy)
    box = env.first(env.tps, "KOTAK")
    assert env.post(env.journey(box, stop=1)).status_code == 200
    assert looked == [2]


def test_an_analyze_that_fails_loses_nothing(env: Env, monkeypatch: Any) -> None:
    """A table the app may not analyse (or a lock it gives way to) is skipped."""
    with env.app.app_context():
        if not _postgres():
            return
    monkeypatch.setattr(statistics, "stale", lambda session: ["no_such_table"])
    box = env.first(env.tps, "KOTAK")
    response = env.post(env.journey(box, stop=1))
    assert response.status_code == 200
    assert [r["status"] for r in response.get_json()["results"]] == ["accepted"] * 2


def test_a_batch_never_plans_a_scan_of_a_table(env: Env, monkeypatch: Any) -> None:
    """PostgreSQL: inside a batch's transaction sequential scans are off (its reads are key
    lookups; the closure's keys mostly hold nothing, which the planner cannot know), and
    only there: the setting ends with the batch."""
    from app.custody.service import Ingestor

    seen: list[str] = []
    real = Ingestor._ingest_all

    def spy(self: Ingestor, *args: Any) -> None:
        postgres = self.session.get_bind().dialect.name == "postgresql"
        seen.append(self.session.scalar(text("SHOW enable_seqscan")) if postgres else "-")
        real(self, *args)

    monkeypatch.setattr(Ingestor, "_ingest_all", spy)
    box = env.first(env.tps, "KOTAK")
    assert env.post(env.journey(box, stop=1)).status_code == 200
    with env.app.app_context():
        if not _postgres():
            assert len(seen) == 1
            return
        assert seen == ["off"]
        assert db.session.scalar(text("SHOW enable_seqscan")) == "on"
