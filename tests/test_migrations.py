"""`flask db upgrade` on an empty database gives exactly the schema of the models."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask import Flask

from app.custody.partitions import include_object
from app.extensions import db


def test_migrations_match_the_models(app: Flask) -> None:
    """The session database was built by running every migration (see conftest)."""
    with db.engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": True, "include_object": include_object}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []
