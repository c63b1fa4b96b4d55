"""Settings the app derives from the database URL."""

from __future__ import annotations

from pathlib import Path

from app.config import load_config


def test_postgresql_connections_run_without_jit_and_keep_given_options(tmp_path: Path) -> None:
    config = load_config(
        str(tmp_path),
        {
            "SECRET_KEY": "x",
            "SQLALCHEMY_DATABASE_URI": "postgres://tepat@db/tepat",
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 3, "connect_args": {"connect_timeout": 5}},
        },
    )
    assert config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://tepat@db/tepat"
    options = config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["pool_size"] == 3
    assert options["connect_args"] == {"connect_timeout": 5, "options": "-c jit=off"}
    sqlite = load_config(str(tmp_path), {"SECRET_KEY": "x"})
    assert sqlite["SQLALCHEMY_ENGINE_OPTIONS"] == {}
