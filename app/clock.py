"""The app's notion of "now": real time, or a clock started at ``TEPAT_NOW``.

The demo stands on the afternoon of H-1: with ``TEPAT_NOW`` set, the app's clock starts
there when the app starts and then runs at normal speed, so receipts keep their order.
"""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.timeutil import parse_instant, utcnow


def now() -> datetime:
    """Return the current instant for rules and deadlines (aware UTC)."""
    fixed = current_app.config.get("TEPAT_NOW")
    if not fixed:
        return utcnow()
    started = current_app.extensions.setdefault("tepat_clock_started", utcnow())
    return parse_instant(fixed) + (utcnow() - started)
