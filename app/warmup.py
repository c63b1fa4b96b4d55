"""Warm a server process before it takes traffic (gunicorn's ``post_worker_init``).

The first request a fresh worker serves used to pay for the process itself: every
template it renders compiled, the translation catalogue read, the first database
connection opened (0.4-1.0 s of a province desk page's first request, docs/SCALE.md).
Doing that here, once per worker and before the worker accepts connections, leaves a
first request with only its own work.
"""

from __future__ import annotations

import logging

from flask import Flask
from sqlalchemy import text

from app.extensions import db

log = logging.getLogger(__name__)


def warm_up(app: Flask) -> int:
    """Compile every template, read both catalogues, open a database connection; return
    how many templates were compiled. Never raises: a cold worker still serves."""
    compiled = 0
    try:
        env = app.jinja_env
        for name in env.list_templates(filter_func=lambda n: n.endswith((".html", ".txt"))):
            env.get_template(name)
            compiled += 1
        with app.app_context():
            db.session.execute(text("SELECT 1"))
            db.session.remove()
        client = app.test_client()
        for lang in ("id", "en"):  # the sign-in page in each language: catalogues loaded
            client.get(f"/bahasa/{lang}")
            client.get("/masuk")
    except Exception:  # noqa: BLE001 - warming is an optimisation, never a failure
        log.exception("warm-up of the worker failed; it serves cold")
    return compiled
