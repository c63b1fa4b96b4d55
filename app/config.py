"""Configuration defaults and environment overrides.

Nothing here is read at import time: :func:`load_config` is called by
``create_app`` so tests and CLI runs can each build their own settings.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

#: Environment variables that override a setting, with the setting they set.
ENV_OVERRIDES: dict[str, str] = {
    "DATABASE_URL": "SQLALCHEMY_DATABASE_URI",
    "TEPAT_SECRET_KEY": "SECRET_KEY",
    "TEPAT_KEY_DIR": "TEPAT_KEY_DIR",
    "TEPAT_LABEL_BASE_URL": "TEPAT_LABEL_BASE_URL",
    "TEPAT_NOW": "TEPAT_NOW",
    "TEPAT_RATELIMIT_STORAGE_URI": "RATELIMIT_STORAGE_URI",
    "TEPAT_SHARED_DATA": "TEPAT_SHARED_DATA",
    "TEPAT_PROXY_FIX": "TEPAT_PROXY_FIX",
    "TEPAT_PUBLIC_RATE_LIMIT": "TEPAT_PUBLIC_RATE_LIMIT",
}


def _secret_key(instance_path: Path) -> str:
    """Return a per-instance secret, created once and kept outside the repository."""
    path = instance_path / "secret_key"
    if path.exists():
        return path.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load_config(instance_path: str, test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the settings dict: defaults, then environment, then ``test_config``."""
    instance = Path(instance_path)
    config: dict[str, Any] = {
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'tepat.sqlite'}",
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
        "TEPAT_KEY_DIR": str(instance / "keys"),
        "TEPAT_LABEL_BASE_URL": "https://tepat.local",
        # ISO-8601 instant the app treats as "now" (the demo stands on H-1 afternoon).
        "TEPAT_NOW": None,
        "TEPAT_SHARED_DATA": str(Path(__file__).resolve().parent.parent.parent / "shared" / "data"),
        # Label print jobs larger than this run in the background with a progress bar.
        "TEPAT_LABEL_SYNC_LIMIT": 300,
        "TEPAT_JOB_DIR": str(instance / "jobs"),
        "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Secure cookies need HTTPS end to end (TEPAT_HTTPS=1); fixed per app, never per request.
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_SECURE": False,
        # Number of reverse proxies whose X-Forwarded-* headers are trusted (0: none).
        "TEPAT_PROXY_FIX": 0,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "WTF_CSRF_TIME_LIMIT": None,
        "BABEL_DEFAULT_LOCALE": "id",
        "BABEL_DEFAULT_TIMEZONE": "Asia/Jakarta",
        "LANGUAGES": ["id", "en"],
        "RATELIMIT_STORAGE_URI": "memory://",
        "RATELIMIT_HEADERS_ENABLED": True,
        "LOGIN_RATE_LIMIT": "10 per minute",
        # Failed sign-ins per account (any address): a guesser spread over many addresses.
        "LOGIN_ACCOUNT_RATE_LIMIT": "5 per minute;20 per hour",
        "SCAN_BATCH_LIMIT": 500,
        "CLOCK_SKEW_WARNING_SECONDS": 600,
    }
    for env_name, key in ENV_OVERRIDES.items():
        if os.environ.get(env_name):
            config[key] = os.environ[env_name]
    if os.environ.get("TEPAT_REDIS_URL") and not os.environ.get("TEPAT_RATELIMIT_STORAGE_URI"):
        # Every worker counts sign-in attempts in the same place.
        config["RATELIMIT_STORAGE_URI"] = os.environ["TEPAT_REDIS_URL"]
    if os.environ.get("TEPAT_HTTPS") == "1":
        config["SESSION_COOKIE_SECURE"] = config["REMEMBER_COOKIE_SECURE"] = True
    if test_config:
        config.update(test_config)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _secret_key(instance)
    uri = str(config["SQLALCHEMY_DATABASE_URI"])
    if uri.startswith("postgres://"):
        uri = "postgresql://" + uri.removeprefix("postgres://")
    if uri.startswith("postgresql://"):
        # psycopg 3 is the driver we ship.
        uri = "postgresql+psycopg://" + uri.removeprefix("postgresql://")
    config["SQLALCHEMY_DATABASE_URI"] = uri
    if uri.startswith("sqlite"):
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {}
    elif uri.startswith("postgresql"):
        # No JIT: every statement of a request is a short indexed read or a batch write,
        # and on stale statistics PostgreSQL spent 0.75 s compiling one (docs/SCALE.md).
        options = dict(config["SQLALCHEMY_ENGINE_OPTIONS"])
        connect = dict(options.get("connect_args", {}))
        connect.setdefault("options", "-c jit=off")
        options["connect_args"] = connect
        config["SQLALCHEMY_ENGINE_OPTIONS"] = options
    return config
