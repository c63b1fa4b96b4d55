"""Shared fixtures: one fresh app per test on SQLite or PostgreSQL.

``TEPAT_TEST_DATABASE_URL`` picks the database (default: a SQLite file per session).
``.ci/run`` runs the suite once on each, so every database test runs on both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db

DB_FIXTURES = {"app", "client", "session", "demo_app", "demo_client"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the database so a run can select them (-m db)."""
    for item in items:
        if DB_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.db)


def pytest_configure(config: pytest.Config) -> None:
    """Register the db marker."""
    config.addinivalue_line("markers", "db: touches the database (runs on SQLite and PostgreSQL)")


def _database_url(tmp_root: Path) -> str:
    url = os.environ.get("TEPAT_TEST_DATABASE_URL", "").strip()
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    if not url or url == "sqlite":
        return f"sqlite:///{tmp_root / f'tepat-test-{worker}.sqlite'}"
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{parsed.database}_{worker}"
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The test database for this session, created empty and migrated once."""
    url = _database_url(tmp_path_factory.mktemp("db"))
    flask_app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "test",
                            "TESTING": True})
    with flask_app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    return url


def _wipe() -> None:
    """Empty every table (fast on both databases; TRUNCATE skips row triggers on PostgreSQL)."""
    tables = [t.name for t in reversed(db.metadata.sorted_tables)]
    if db.engine.dialect.name == "postgresql":
        db.session.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " CASCADE"))
    else:
        for table in tables:
            db.session.execute(text(f'DELETE FROM "{table}"'))
    db.session.commit()


def make_app(database_url: str, tmp_path: Path, **overrides: Any) -> Flask:
    """Build a test app on the session's database with a per-test instance folder."""
    config = {"SQLALCHEMY_DATABASE_URI": database_url, "SECRET_KEY": "test", "TESTING": True,
              "WTF_CSRF_ENABLED": False, "TEPAT_KEY_DIR": str(tmp_path / "keys"),
              "RATELIMIT_ENABLED": False}
    config.update(overrides)
    return create_app(config)


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """A fresh app on an empty database."""
    flask_app = make_app(database_url, tmp_path)
    with flask_app.app_context():
        _wipe()
        yield flask_app
        db.session.rollback()
        _wipe()
        db.engine.dispose()


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
    """A fresh app with the Gunung Mas demo loaded (accounts get the password 'rahasia-demo-1')."""
    from app.auth import service as auth
    from app.plan.demo_loader import DEMO_ACCOUNTS, load

    list(load(db.session))
    for username, *_ in DEMO_ACCOUNTS:
        auth.set_password(db.session, auth.find_user(db.session, username), "rahasia-demo-1")
    return app


def login(client: FlaskClient, username: str, password: str = "rahasia-demo-1") -> None:
    """Sign a test client in."""
    response = client.post("/masuk", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
