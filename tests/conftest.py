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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
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
        for copy in _reused.values():
            _pg_drop(copy.url)
        _reused.clear()
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


#: The catalog of a PostgreSQL database as one md5: every schema object a test could add, drop
#: or alter (tables, partitions, columns, defaults, constraints, indexes, triggers and whether
#: they fire, functions, types, views, sequences, privileges).
_CATALOG_MD5 = r"""
SELECT md5(string_agg(x, E'\n' ORDER BY x)) FROM (
  SELECT concat_ws(' ', 'c', c.oid::regclass, c.relkind, c.relpersistence, c.relacl,
                   c.reloptions, c.relispartition, pg_get_expr(c.relpartbound, c.oid))
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
     AND n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  UNION ALL
  SELECT concat_ws(' ', 'a', a.attrelid::regclass, a.attnum, a.attname, a.atttypid::regtype,
                   a.atttypmod, a.attnotnull, a.attisdropped, a.attidentity, a.attgenerated,
                   a.attacl)
    FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
   WHERE c.relnamespace = 'public'::regnamespace AND a.attnum > 0
  UNION ALL
  SELECT concat_ws(' ', 'd', d.adrelid::regclass, d.adnum, pg_get_expr(d.adbin, d.adrelid))
    FROM pg_attrdef d
  UNION ALL
  SELECT concat_ws(' ', 'k', k.conrelid::regclass, k.conname, k.convalidated,
                   pg_get_constraintdef(k.oid))
    FROM pg_constraint k WHERE k.connamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(' ', 'i', pg_get_indexdef(i.indexrelid), i.indisvalid)
    FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(' ', 't', t.tgrelid::regclass, t.tgname, t.tgenabled, t.tgtype,
                   t.tgfoid::regproc)
    FROM pg_trigger t
  UNION ALL
  SELECT concat_ws(' ', 'p', p.oid::regprocedure, md5(p.prosrc), p.proacl)
    FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(' ', 'n', n.nspname, n.nspacl) FROM pg_namespace n
   WHERE n.nspname NOT LIKE 'pg\_temp\_%' AND n.nspname NOT LIKE 'pg\_toast\_temp\_%'
  UNION ALL
  SELECT concat_ws(' ', 'y', y.typname, y.typtype) FROM pg_type y
   WHERE y.typnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(' ', 'e', e.enumtypid::regtype, e.enumsortorder, e.enumlabel) FROM pg_enum e
  UNION ALL
  SELECT concat_ws(' ', 'h', h.inhrelid::regclass, h.inhparent::regclass) FROM pg_inherits h
  UNION ALL
  SELECT concat_ws(' ', 'r', r.ev_class::regclass, r.rulename, md5(r.ev_action::text))
    FROM pg_rewrite r JOIN pg_class c ON c.oid = r.ev_class
   WHERE c.relnamespace = 'public'::regnamespace
  UNION ALL
  SELECT concat_ws(' ', 'b', b.partrelid::regclass, pg_get_partkeydef(b.partrelid))
    FROM pg_partitioned_table b
  UNION ALL
  SELECT concat_ws(' ', 'q', q.seqrelid::regclass, q.seqstart, q.seqincrement) FROM pg_sequence q
  UNION ALL
  SELECT concat_ws(' ', 'o', o.polrelid::regclass, o.polname) FROM pg_policy o
  UNION ALL
  SELECT concat_ws(' ', 'x', x.extname, x.extversion) FROM pg_extension x
  UNION ALL
  SELECT concat_ws(' ', 'g', g.datacl) FROM pg_database g WHERE g.datname = current_database()
  UNION ALL
  SELECT concat_ws(' ', 's', s.setrole, s.setconfig) FROM pg_db_role_setting s
   WHERE s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
) AS catalog(x)
"""


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@dataclass
class ReusedDatabase:
    """A worker's one copy of a PostgreSQL template, put back to the template's state before
    each test instead of copied anew.

    A copy of the template (CREATE DATABASE ... TEMPLATE) writes every file of its ~1,000
    relations (the province partitions of migration 0011) and takes 0.1-1 s, more while other
    processes write; putting a used copy back takes milliseconds. Before each test, the copy
    is checked against what was recorded when it was made, and whatever differs is restored:

    - rows: a table with more or fewer rows than the template, or with a row written after
      the last restore (its xmin is younger), is emptied and refilled from the template's rows
      (kept as COPY data); the append-only and foreign-key triggers stay off while doing so
      (``session_replication_role = replica``), as they would during a restore;
    - sequences are set back to the template's values;
    - the schema (``_CATALOG_MD5``: tables, columns, indexes, triggers and whether they fire,
      privileges ...): if a test changed it (a migration down and up, a GRANT), the copy is
      dropped and made again from the template.

    Connections a test left open (threads, servers, other engines) are ended first, as
    ``DROP DATABASE ... WITH (FORCE)`` did.
    """

    template_url: str
    url: str
    tables: list[str] = field(default_factory=list)
    rows: dict[str, bytes] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    sequences: dict[str, tuple[int | None, int]] = field(default_factory=dict)
    catalog: str = ""
    xid: str = ""  # rows with a younger xmin were written after the last restore

    def create(self) -> None:
        """(Re)make the copy from the template and record the template's state."""
        base = make_url(self.template_url).database
        _pg_create(self.template_url, make_url(self.url).database or "", template=base)
        with psycopg.connect(_libpq(self.url), autocommit=True) as conn:
            self.tables = [
                row[0]
                for row in conn.execute(
                    "SELECT c.relname FROM pg_class c"
                    " WHERE c.relnamespace = 'public'::regnamespace"
                    " AND c.relkind IN ('r', 'p') AND NOT c.relispartition ORDER BY c.relname"
                )
            ]
            self.counts, self.rows = {}, {}
            for table in self.tables:
                count = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]  # type: ignore[index]
                self.counts[table] = count
                if count:
                    data = bytearray()
                    with conn.cursor().copy(f'COPY "{table}" TO STDOUT (FORMAT BINARY)') as copy:
                        for chunk in copy:
                            data += chunk
                    self.rows[table] = bytes(data)
            self.sequences = {
                f'"{schema}"."{name}"': (last, start)
                for schema, name, last, start in conn.execute(
                    "SELECT schemaname, sequencename, last_value, start_value FROM pg_sequences"
                )
            }
            self.catalog = conn.execute(_CATALOG_MD5).fetchone()[0]  # type: ignore[index]
            self.xid = _current_xid(conn)

    def reset(self) -> None:
        """Put the copy back to the template's state (see the class docstring)."""
        name = make_url(self.url).database
        with psycopg.connect(_libpq(self.url), autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )
            if conn.execute(_CATALOG_MD5).fetchone()[0] != self.catalog:  # type: ignore[index]
                conn.close()
                self.create()
                return
            changed = self._changed_tables(conn)
            sequences = [
                (seq, self.sequences[f'"{schema}"."{seq_name}"'])
                for schema, seq_name, last in conn.execute(
                    "SELECT schemaname, sequencename, last_value FROM pg_sequences"
                )
                for seq in [f'"{schema}"."{seq_name}"']
                if self.sequences.get(seq, (last, 0))[0] != last
            ]
            if not changed and not sequences:
                return
            with conn.transaction():
                conn.execute("SET LOCAL session_replication_role = replica")
                for table in changed:
                    conn.execute(f'DELETE FROM "{table}"')
                    if table in self.rows:
                        restore = f'COPY "{table}" FROM STDIN (FORMAT BINARY)'
                        with conn.cursor().copy(restore) as copy:
                            copy.write(self.rows[table])
                for seq, (last, start) in sequences:
                    if last is None:
                        conn.execute("SELECT setval(%s, %s, false)", (seq, start))
                    else:
                        conn.execute("SELECT setval(%s, %s, true)", (seq, last))
                self.xid = _current_xid(conn)

    def _changed_tables(self, conn: psycopg.Connection[Any]) -> list[str]:
        probes = []
        for table in self.tables:
            quoted = table.replace("'", "''")
            probes.append(
                f"SELECT '{quoted}'"
                f' WHERE (SELECT count(*) FROM "{table}") <> {self.counts[table]}'
                f" OR EXISTS (SELECT 1 FROM \"{table}\" WHERE age(xmin) < age('{self.xid}'::xid))"
            )
        return [row[0] for row in conn.execute(" UNION ALL ".join(probes))]


def _current_xid(conn: psycopg.Connection[Any]) -> str:
    """This transaction's id (one is assigned), as the 32-bit xid that rows' xmin holds."""
    full = conn.execute("SELECT pg_current_xact_id()::text").fetchone()[0]  # type: ignore[index]
    return str(int(full) % 2**32)


#: One reused copy per template database (the empty one, the demo), per test process.
_reused: dict[str, ReusedDatabase] = {}


def reused_database(template_url: str) -> str:
    """A copy of a PostgreSQL template in the template's state, made once per process and put
    back before each use (``ReusedDatabase``); the caller ends its connections when done."""
    copy = _reused.get(template_url)
    if copy is None:
        url = make_url(template_url)
        name = f"{url.database}_r"
        copy = ReusedDatabase(
            template_url, url.set(database=name).render_as_string(hide_password=False)
        )
        copy.create()
        _reused[template_url] = copy
    else:
        copy.reset()
    return copy.url


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
    """A fresh app on its own copy of the migrated database (with the demo for demo_app).

    On SQLite the copy is a file copy per test; on PostgreSQL it is the process's reused copy,
    put back to the template's state first (``reused_database``).
    """
    template = (
        request.getfixturevalue("demo_database_url")
        if "demo_app" in request.fixturenames
        else database_url
    )
    if template.startswith("sqlite"):
        url = fresh_database(template, tmp_path)
    else:
        url = reused_database(template)
    flask_app = make_app(url, tmp_path)
    with flask_app.app_context():
        yield flask_app
        db.session.rollback()
        db.session.remove()
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
    """A fresh app with the Gunung Mas demo loaded (accounts' password is DEMO_PASSWORD)."""
    return app


def login(client: FlaskClient, username: str, password: str = "rahasia-demo-1") -> None:
    """Sign a test client in."""
    response = client.post("/masuk", data={"username": username, "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
