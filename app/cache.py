"""A cache shared by every server process: Redis when ``TEPAT_REDIS_URL`` is set.

Gunicorn runs several workers; a desk answer computed by one is found by the others.
Without Redis (``make demo``, tests) each process keeps its own copy in memory only.
Values are JSON; every key carries what it depends on, so entries never go stale, they
expire (``ttl`` seconds).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

from flask import current_app, has_app_context

log = logging.getLogger(__name__)
PREFIX = "tepat:cache:"
_clients: dict[str, Any] = {}


def redis_url() -> str | None:
    """The shared Redis, from the app's config or the environment (None: no shared cache)."""
    if has_app_context() and current_app.config.get("TEPAT_REDIS_URL"):
        return str(current_app.config["TEPAT_REDIS_URL"])
    return os.environ.get("TEPAT_REDIS_URL") or None


def _client() -> Any:
    url = redis_url()
    if not url:
        return None
    if url not in _clients:
        from redis import Redis

        _clients[url] = Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    return _clients[url]


def get(key: str) -> Any:
    """The cached value, or None (no Redis, a miss, or Redis not answering)."""
    client = _client()
    if client is None:
        return None
    try:
        raw = client.get(PREFIX + key)
    except Exception as exc:  # noqa: BLE001 - a cache must never fail a request
        log.warning("shared cache unavailable: %s", exc)
        return None
    return json.loads(raw) if raw is not None else None


def put(key: str, value: Any, ttl: int = 120) -> None:
    """Store a JSON value for ``ttl`` seconds (nothing without Redis)."""
    client = _client()
    if client is None:
        return
    try:
        client.set(PREFIX + key, json.dumps(value, default=str), ex=ttl)
    except Exception as exc:  # noqa: BLE001 - a cache must never fail a request
        log.warning("shared cache unavailable: %s", exc)
