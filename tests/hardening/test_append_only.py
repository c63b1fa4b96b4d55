"""The log is append-only in the database itself (issue 11): triggers on every log table
refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL), and the app's role lacks the rights."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.custody import ledger
from app.extensions import db
from tests.conftest import log_triggers_off
from tests.desk import scenario

STATEMENTS = {
    "custody_event": ("UPDATE custody_event SET note = 'x'", "DELETE FROM custody_event"),
    "ledger_entry": ("UPDATE ledger_entry SET idx = idx + 1000", "DELETE FROM ledger_entry"),
    "ledger_checkpoint": (
        "UPDATE ledger_checkpoint SET note = 'x'",
        "DELETE FROM ledger_checkpoint",
    ),
}


@contextmanager
def triggers_dropped() -> Iterator[None]:
    """For the tamper suite: an attacker who can switch the triggers off."""
    with log_triggers_off():
        yield


@pytest.fixture
def story(demo_app: Flask) -> scenario.Scenario:
    return scenario.build(db.session, demo_app.config["TEPAT_KEY_DIR"])


@pytest.mark.parametrize("table", sorted(STATEMENTS))
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE", "TRUNCATE"])
def test_every_log_table_refuses_changes(story: scenario.Scenario, table: str, verb: str) -> None:
    if verb == "TRUNCATE":
        if db.engine.dialect.name != "postgresql":
            return  # SQLite has no TRUNCATE (DELETE without WHERE is refused above)
        statement = f"TRUNCATE {table} CASCADE"
    else:
        statement = STATEMENTS[table][verb == "DELETE"]
    with pytest.raises(DBAPIError, match="append-only"):
        db.session.execute(text(statement))
    db.session.rollback()


def test_the_apps_role_cannot_change_the_log_but_can_ingest(
    demo_app: Flask, story: scenario.Scenario
) -> None:
    if db.engine.dialect.name != "postgresql":
        return  # roles are PostgreSQL's; SQLite relies on its triggers
    role = f"tepat_app_{uuid.uuid4().hex[:8]}"
    db.session.execute(text(f"CREATE ROLE {role} LOGIN"))
    for statement in ledger.app_role_sql(role):
        db.session.execute(text(statement))
    db.session.commit()
    url = make_url(demo_app.config["SQLALCHEMY_DATABASE_URI"]).set(username=role, password=None)
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            for table, (update, delete) in STATEMENTS.items():
                for statement in (update, delete, f"TRUNCATE {table} CASCADE"):
                    with pytest.raises(DBAPIError, match="permission denied"):
                        conn.execute(text(statement))
                    conn.rollback()
            assert conn.execute(text("SELECT count(*) FROM custody_event")).scalar()
            conn.execute(text("UPDATE item_state SET stage = stage"))  # derived rows: allowed
            conn.rollback()
    finally:
        engine.dispose()
        with db.engine.connect() as conn:
            conn.execute(text(f"DROP OWNED BY {role}"))
            conn.execute(text(f"DROP ROLE {role}"))
            conn.commit()
