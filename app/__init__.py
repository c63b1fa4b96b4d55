"""Tepat: election logistics chain of custody. ``create_app`` wires the application."""

from __future__ import annotations

from typing import Any

from flask import Flask


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the Flask application (flaskr style: one fresh app per test)."""
    app = Flask(__name__, instance_relative_config=True)
    from app.config import load_config

    app.config.from_mapping(load_config(app.instance_path, test_config))

    from app import guard, web
    from app.auth import cli as auth_cli
    from app.custody import cli as custody_cli
    from app.extensions import babel, csrf, db, limiter, login_manager, migrate
    from app.items import cli as items_cli
    from app.items import queue as items_queue
    from app.plan import cli as plan_cli

    db.init_app(app)
    from app import models as _models  # noqa: F401  (registers every table)

    migrate.init_app(
        app,
        db,
        directory=str(app.root_path + "/migrations"),
        render_as_batch=True,
        compare_type=True,
    )
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    babel.init_app(app, locale_selector=web.select_locale, timezone_selector=web.select_timezone)
    web.init_app(app)
    guard.init_app(app)
    auth_cli.init_app(app)
    plan_cli.init_app(app)
    items_cli.init_app(app)
    items_queue.init_app(app)
    custody_cli.init_app(app)
    return app
