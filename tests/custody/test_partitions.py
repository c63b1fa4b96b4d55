"""Events, states and findings by province (migration 0011_partitions, issue 12).

On PostgreSQL the three tables are partitioned by LIST (province): rows land in their
province's partition, the hot queries read one partition, the log stays append-only in
every partition and a resend is still stored once. On both databases every row carries
its province (the item's for events and states, the finding's kabupaten's for findings),
and the migration goes down to plain tables and up again without changing an event.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import event, func, select, text, update
from sqlalchemy.exc import DBAPIError

from app.custody import ledger, overview
from app.custody.models import CustodyEvent, EventKey, FindingRow, ItemStateRow
from app.custody.partitions import PARTITIONED, PROVINCES, partitions
from app.extensions import db
from app.items.models import Item
from app.plan.models import Election
from tests.conftest import log_triggers_off
from tests.custody.conftest import SERVER_NOW, Env
from tests.custody.test_national_desk import KUPANG_TPS, plan_kupang


def postgres() -> bool:
    return db.engine.dialect.name == "postgresql"


@pytest.fixture
def two_provinces(env: Env) -> tuple[Item, Item]:
    """A Gunung Mas box on its way (62) and a Kota Kupang box received by mistake at the
    Gunung Mas warehouse (53: a tertukar carton, found in 62.10)."""
    plan_kupang(env)
    own = env.first(env.tps, "KOTAK")
    foreign = db.session.scalars(
        select(Item).where(Item.destination == KUPANG_TPS, Item.item_type_code == "KOTAK")
    ).first()
    assert foreign is not None
    assert {r["status"] for r in env.post(env.journey(own, stop=1)).get_json()["results"]} == {
        "accepted"
    }
    stray = env.event(foreign, "terima", "62.10", quantity=foreign.quantity, condition="baik")
    assert env.post([stray]).get_json()["results"][0]["status"] == "accepted"
    return own, foreign


def where_stored(model: Any, *criteria: Any) -> set[tuple[str, str]]:
    """(province column, partition holding the row) of the matching rows."""
    table = model.__table__
    place = text("tableoid::regclass::text") if postgres() else text("'-'")
    return {
        (province, partition)
        for province, partition in db.session.execute(
            select(table.c.province, place).select_from(table).where(*criteria)
        )
    }


def test_every_row_carries_its_province_and_lands_in_its_partition(
    env: Env, two_provinces: tuple[Item, Item]
) -> None:
    own, foreign = two_provinces
    expected = {
        (CustodyEvent, CustodyEvent.serial == own.serial): "62",
        (CustodyEvent, CustodyEvent.serial == foreign.serial): "53",  # the item's province
        (ItemStateRow, ItemStateRow.serial == own.serial): "62",
        (ItemStateRow, ItemStateRow.serial == foreign.serial): "53",
        (FindingRow, FindingRow.serial == foreign.serial): "62",  # where it was found
    }
    for (model, criterion), province in expected.items():
        stored = where_stored(model, criterion)
        assert {p for p, _ in stored} == {province}, (model.__tablename__, stored)
        if postgres():
            assert {part for _, part in stored} == {f"{model.__tablename__}_p{province}"}


def test_the_three_tables_are_partitioned_by_province_on_postgresql(env: Env) -> None:
    if not postgres():
        # SQLite has no partitions: the column and the keys are the same there.
        for table in PARTITIONED:
            columns = {c["name"] for c in db.inspect(db.engine).get_columns(table)}
            assert "province" in columns
        return
    for table in PARTITIONED:
        strategy, key = db.session.execute(
            text(
                "SELECT p.partstrat, a.attname FROM pg_partitioned_table p "
                "JOIN pg_attribute a ON a.attrelid = p.partrelid AND a.attnum = p.partattrs[0] "
                "WHERE p.partrelid = CAST(:t AS regclass)"
            ),
            {"t": table},
        ).one()
        assert (strategy, key) == ("l", "province")
        children = set(
            db.session.scalars(
                text(
                    "SELECT inhrelid::regclass::text FROM pg_inherits "
                    "WHERE inhparent = CAST(:t AS regclass)"
                ),
                {"t": table},
            )
        )
        assert children == set(partitions(table)) and len(children) == len(PROVINCES) + 1
        primary_key = db.session.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = CAST(:t AS regclass) AND contype = 'p'"
            ),
            {"t": table},
        )
        assert "province" in primary_key


@contextmanager
def statements() -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and parameters) the app runs inside the block."""
    seen: list[tuple[str, Any]] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def partitions_read(statement: str, parameters: Any, table: str) -> set[str]:
    """The partitions of ``table`` that PostgreSQL's plan of the statement reads."""
    with db.engine.connect() as conn:
        plan = "\n".join(row[0] for row in conn.exec_driver_sql("EXPLAIN " + statement, parameters))
    return set(re.findall(rf"\b{table}_(?:p\d\d|default)\b", plan))


def hot(seen: list[tuple[str, Any]], pattern: str) -> list[tuple[str, Any]]:
    found = [(s, p) for s, p in seen if re.search(pattern, s, re.S)]
    assert found, pattern
    return found


@pytest.mark.parametrize(
    "query", ["ingest state read", "ingest resend lookup", "item history", "findings page"]
)
def test_a_hot_query_reads_only_its_provinces_partition(
    env: Env, two_provinces: tuple[Item, Item], query: str
) -> None:
    own, _ = two_provinces
    resend = env.journey(own, stop=2)[2:]
    run: dict[str, tuple[Callable[[], Any], str, str]] = {
        "ingest state read": (
            lambda: env.post(env.journey(own, stop=2)[2:]),
            r"FROM item_state\s+WHERE item_state\.province IN",
            "item_state",
        ),
        "ingest resend lookup": (
            lambda: [env.post(resend) for _ in range(2)],  # the second: found, not redone
            r"FROM custody_event\s+WHERE custody_event\.province = ",
            "custody_event",
        ),
        "item history": (
            lambda: env.client.get(
                f"/api/v1/items/{own.serial}",
                headers={"Authorization": f"Bearer {env.tokens['kurir.tewah']}"},
            ),
            r"FROM custody_event\s+WHERE custody_event\.serial = .* ORDER BY",
            "custody_event",
        ),
        "findings page": (
            lambda: overview.findings_page(
                db.session, db.session.get(Election, "pilkada-2024"), "62.10", SERVER_NOW
            ),
            r"FROM finding\s+WHERE .* ORDER BY finding\.created_at DESC",
            "finding",
        ),
    }
    action, pattern, table = run[query]
    with statements() as seen:
        action()
    found = hot(seen, pattern)
    if postgres():
        for statement, parameters in found:
            assert partitions_read(statement, parameters, table) == {f"{table}_p62"}, statement


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE custody_event_p62 SET note = 'x'",
        "DELETE FROM custody_event_p62",
        "TRUNCATE custody_event_p62",
        "TRUNCATE custody_event_default",
        "UPDATE custody_event SET note = 'x' WHERE province = '53'",
    ],
)
def test_every_partition_of_the_log_refuses_changes(
    env: Env, two_provinces: tuple[Item, Item], statement: str
) -> None:
    if not postgres():
        return  # SQLite has no partitions; its triggers are tested in tests/hardening
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 3


def test_a_resend_is_stored_once_and_an_id_reused_in_another_province_is_a_conflict(
    env: Env, two_provinces: tuple[Item, Item]
) -> None:
    own, foreign = two_provinces
    batch = env.journey(own, stop=2)[2:]
    assert [r["status"] for r in env.post(batch).get_json()["results"]] == ["accepted"] * 2
    assert [r["status"] for r in env.post(batch).get_json()["results"]] == ["duplicate"] * 2
    # The same event id for an item of another province: its partition holds no such
    # key, but event_key holds every id once, across the provinces.
    reused = env.event(foreign, "kirim", "62.10", target="62.10.03")
    reused["event_id"] = batch[0]["event_id"]
    response = env.post([reused])
    assert response.status_code == 409
    stored = db.session.scalars(
        select(CustodyEvent.province).where(
            CustodyEvent.event_id == uuid.UUID(batch[0]["event_id"])
        )
    ).all()
    assert stored == ["62"]
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 5


def test_the_migration_goes_down_to_plain_tables_and_up_again_unchanged(
    env: Env, two_provinces: tuple[Item, Item]
) -> None:
    before = {
        (str(e.event_id), e.hash, e.province) for e in db.session.scalars(select(CustodyEvent))
    }
    states = dict(db.session.execute(select(ItemStateRow.serial, ItemStateRow.province)).all())
    db.session.commit()
    db.session.remove()
    downgrade(revision="0010_public")
    columns = {c["name"] for c in db.inspect(db.engine).get_columns("custody_event")}
    assert "province" not in columns
    if postgres():
        assert not db.session.scalar(text("SELECT count(*) FROM pg_partitioned_table"))
    db.session.remove()
    upgrade(revision="heads")
    after = {
        (str(e.event_id), e.hash, e.province) for e in db.session.scalars(select(CustodyEvent))
    }
    assert after == before  # backfilled from the items: the same provinces, the same hashes
    assert dict(db.session.execute(select(ItemStateRow.serial, ItemStateRow.province)).all()) == (
        states
    )
    report = ledger.verify(db.session, env.app.config["TEPAT_KEY_DIR"], derived=False)
    assert report.problems == []
    if postgres():
        assert db.session.scalar(text("SELECT count(*) FROM pg_partitioned_table")) == 3


def test_verify_names_an_event_moved_to_another_province(
    env: Env, two_provinces: tuple[Item, Item]
) -> None:
    own, _ = two_provinces
    table = CustodyEvent.__table__
    with log_triggers_off():  # an attacker with database access; the hash does not cover it
        db.session.execute(
            update(table)
            .where(table.c.serial == own.serial, table.c.item_seq == 1)
            .values(province="53")
        )
    problems = ledger.verify(db.session, env.app.config["TEPAT_KEY_DIR"], derived=False).problems
    assert [p for p in problems if "bukan provinsi barangnya" in p and own.serial in p]
    # The item's history reads its own province: the moved event is missing there.
    assert (
        db.session.scalar(
            select(func.count()).where(
                CustodyEvent.serial == own.serial, CustodyEvent.province == "62"
            )
        )
        == 1
    )


def test_event_key_holds_every_event_id_once_append_only_and_verify_checks_it(
    env: Env, two_provinces: tuple[Item, Item]
) -> None:
    """A unique key of a partitioned table must hold the province: event_key keeps event
    ids unique across provinces (migration 0012_event_key)."""
    own, _ = two_provinces
    events = set(db.session.execute(select(CustodyEvent.event_id, CustodyEvent.province)))
    keys = set(db.session.execute(select(EventKey.event_id, EventKey.province)))
    assert keys == events and {p for _, p in keys} == {"62", "53"}
    for statement in ("UPDATE event_key SET province = '11'", "DELETE FROM event_key"):
        with pytest.raises(DBAPIError, match="append-only"):
            db.session.execute(text(statement))
        db.session.rollback()
    first = db.session.scalar(
        select(CustodyEvent.event_id).where(CustodyEvent.serial == own.serial)
    )
    key_dir = env.app.config["TEPAT_KEY_DIR"]
    assert ledger.verify(db.session, key_dir, derived=False).problems == []
    with log_triggers_off():  # an attacker frees the id for a second event elsewhere
        db.session.execute(EventKey.__table__.delete().where(EventKey.event_id == first))
    problems = ledger.verify(db.session, key_dir, derived=False).problems
    assert problems == [f"event {first} (seri {own.serial}): tidak tercatat di event_key"]
