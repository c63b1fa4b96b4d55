"""The app's notion of "now": real time, or ``TEPAT_NOW`` (the demo stands on H-1)."""

from __future__ import annotations

from datetime import datetime

from flask import current_app

from app.timeutil import parse_instant, utcnow


def now() -> datetime:
    """Return the current instant for rules and deadlines (aware UTC)."""
    fixed = current_app.config.get("TEPAT_NOW")
    return parse_instant(fixed) if fixed else utcnow()
