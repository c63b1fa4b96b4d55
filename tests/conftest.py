"""Shared fixtures: one fresh app per test on SQLite or PostgreSQL.

``TEPAT_TEST_DATABASE_URL`` picks the database (default: a SQLite file per session).
``.ci/run`` runs the suite once on each, so every database test runs on both.
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db

#: Browser fixtures for every folder: one Playwright session per run.
pytest_plugins = ["tests.browser.fixtures"]

DB_FIXTURES = {"database_url", "demo_database_url", "app", "client", "session", "demo_app"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the database so a run can select them (-m db)."""
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_configure(config: pytest.Config) -> None:
    """Register the db marker."""
    config.addinivalue_line("markers", "db: touches the database (runs on SQLite and PostgreSQL)")


_copies = itertools.count(1)


def _admin(url: str) -> Any:
    """An AUTOCOMMIT engine on the server's maintenance database (for CREATE/DROP DATABASE)."""
    return create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")


def _pg_create(url: str, name: str, template: str | None = None) -> str:
    """(Re)create a PostgreSQL database, optionally as a copy of ``template``."""
    engine = _admin(url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(
            text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        )
    engine.dispose()
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _pg_drop(url: str) -> None:
    engine = _admin(url)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("TEPAT_TEST_DATABASE_URL", "").strip()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if not url or url == "sqlite":
        return f"sqlite:///{tmp_root / f'tepat-test-{worker}.sqlite'}"
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    # The process id keeps two runs on one server (two developers, a benchmark) apart.
    name = f"{parsed.database}_{worker}_{os.getpid()}"
    return _pg_create(parsed.render_as_string(hide_password=False), name)


def _migrate(url: str) -> None:
    flask_app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test", "TESTING": True})
    with flask_app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The empty template database for this session, migrated once (tests get copies)."""
    url = _database_url(tmp_path_factory.mktemp("db"))
    _migrate(url)
    yield url
    if not url.startswith("sqlite"):
        _pg_drop(url)


DEMO_PASSWORD = "rahasia-demo-1"


@pytest.fixture(scope="session")
def demo_database_url(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second template with the Gunung Mas demo and known demo passwords, built once."""
    url = fresh_database(database_url, tmp_path_factory.mktemp("demo"), name="demo")
    flask_app = make_app(url, tmp_path_factory.mktemp("demo-instance"))
    with flask_app.app_context():
        from app.auth import service as auth
        from app.plan.demo_loader import DEMO_ACCOUNTS, load

        list(load(db.session))
        for username, *_ in DEMO_ACCOUNTS:
            auth.set_password(db.session, auth.find_user(db.session, username), DEMO_PASSWORD)
        db.session.remove()
        db.engine.dispose()
    yield url
    if not url.startswith("sqlite"):
        _pg_drop(url)


#: The append-only log tables (migrations 0002 and 0006_hardening).
LOG_TABLES = ("custody_event", "ledger_entry", "ledger_checkpoint", "event_key")
SQLITE_TRIGGERS = {
    f"{table}_no_{verb.lower()}": f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} "
    f"ON {table} BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
    for table in LOG_TABLES
    for verb in ("UPDATE", "DELETE")
}


def _wipe() -> None:
    """Empty every table (TRUNCATE skips PostgreSQL's append-only row triggers)."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    else:
        with sqlite_triggers_off():
            for table in tables:
                db.session.execute(text(f'DELETE FROM "{table}"'))
    db.session.commit()


@contextmanager
def sqlite_triggers_off() -> Iterator[None]:
    """Drop SQLite's append-only triggers for a test's direct edits, then restore them."""
    for name in SQLITE_TRIGGERS:
        db.session.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    try:
        yield
    finally:
        for ddl in SQLITE_TRIGGERS.values():
            db.session.execute(text(ddl))


@contextmanager
def log_triggers_off() -> Iterator[None]:
    """Let a test play an attacker with database access: the append-only triggers of every
    log table off for its direct edits (both databases), then on again; commits."""
    if db.engine.dialect.name == "postgresql":
        for table in LOG_TABLES:
            db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        try:
            yield
        finally:
            for table in LOG_TABLES:
                db.session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
    else:
        with sqlite_triggers_off():
            yield
    db.session.commit()


def fresh_database(template_url: str, tmp_path: Path, name: str | None = None) -> str:
    """A private copy of a template database: a file copy on SQLite, TEMPLATE on PostgreSQL."""
    if template_url.startswith("sqlite"):
        template = Path(template_url.removeprefix("sqlite:///"))
        copy = tmp_path / f"tepat-{name or next(_copies)}.sqlite"
        shutil.copyfile(template, copy)
        return f"sqlite:///{copy}"
    base = make_url(template_url).database
    return _pg_create(template_url, f"{base}_{name or next(_copies)}", template=base)


class FreshContextClient(FlaskClient):
    """A test client that gives every request its own app context, as a real server does.

    The ``app`` fixture keeps one app context pushed for the whole test and Flask would
    reuse it for each request, so ``g`` (the signed-in user, a device token's user, the
    locale) would leak from one request, and one client, to the next.
    """

    def open(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Send a request inside a fresh app context (buffered, so it closes inside it)."""
        kwargs.setdefault("buffered", True)
        with self.application.app_context():
            return super().open(*args, **kwargs)


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """Build a test app on the session's database with a per-test instance folder."""
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test",
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "TEPAT_KEY_DIR": str(tmp_path / "keys"),
        "RATELIMIT_ENABLED": False,
    }
    config.update(overrides)
    flask_app = create_app(config)
    flask_app.test_client_class = FreshContextClient
    return flask_app


@pytest.fixture
def app(request: pytest.FixtureRequest, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app on its own copy of the migrated database (with the demo for demo_app)."""
    template = (
        request.getfixturevalue("demo_database_url")
        if "demo_app" in request.fixturenames
        else database_url
    )
    url = fresh_database(template, tmp_path)
    flask_app = make_app(url, tmp_path)
    with flask_app.app_context():
        yield flask_app
        db.session.rollback()
        db.session.remove()
        db.engine.dispose()
    if not url.startswith("sqlite"):
        _pg_drop(url)


@pytest.fixture
def session(app: Flask) -> Any:
    """The app's database session."""
    return db.session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of a fresh app."""
    return app.test_client()


@pytest.fixture
def demo_app(app: Flask) -> Flask:
    """A fresh app with the Gunung Mas demo loaded (accounts' password is DEMO_PASSWORD)."""
    return app


def login(client: FlaskClient, username: str, password: str = "rahasia-demo-1") -> None:
    """Sign a test client in."""
    response = client.post("/masuk", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
