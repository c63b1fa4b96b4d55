"""Helpers shared by the web and browser tests: clients, sign-in, accounts, translations."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import pytest
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from tests.conftest import FreshContextClient  # noqa: F401  (re-exported for the web tests)

TRANSLATIONS = Path(__file__).resolve().parents[2] / "app" / "translations"


def sign_in(client: FlaskClient, user_id: uuid.UUID) -> FlaskClient:
    """Put a user in the client's session the way the sign-in form does (no password check):
    Flask-Login's user id and an open server-side session."""
    from app.auth import sessions
    from app.auth.models import User
    from app.extensions import db

    with client.application.app_context():
        sid = sessions.start(db.session, db.session.get(User, user_id))
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
        session[sessions.SESSION_KEY] = sid
    return client


def cheap_password_hashing(patch: pytest.MonkeyPatch) -> None:
    """Hash with one PBKDF2 round from now on (tests only: scrypt takes 0.15 s a password)."""
    patch.setattr(
        "app.auth.models.generate_password_hash",
        lambda password: generate_password_hash(password, "pbkdf2:sha256:1"),
    )


def compile_translations() -> None:
    """Compile each catalogue whose .mo is missing or older than its .po (``make translations``).

    Lets ``pytest tests/web`` run on its own; the .mo files are build output, ignored by git.
    """
    for po_path in TRANSLATIONS.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as po_file:
            catalog = read_po(po_file)
        # Write aside and rename, so parallel workers never read half a file.
        fd, temp = tempfile.mkstemp(dir=mo_path.parent, suffix=".mo.tmp")
        with os.fdopen(fd, "wb") as mo_file:
            write_mo(mo_file, catalog)
        os.replace(temp, mo_path)
