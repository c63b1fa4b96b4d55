"""Fixtures for the page tests: one demo world per module, clients signed in per account.

Building the Gunung Mas demo takes about a second, so the access matrix and the route sweep
share one world per module; each request still gets a fresh app context (FreshContextClient).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import Role
from app.extensions import db
from app.plan import codes
from app.plan.demo_loader import DEMO_ACCOUNTS, load
from app.plan.models import Region, RegionLevel, Tps
from tests.conftest import _wipe, make_app
from tests.web.helpers import (
    FreshContextClient,
    cheap_password_hashing,
    compile_translations,
    sign_in,
)

#: One scope per level: kabupaten, kecamatan, desa, TPS (all inside the Gunung Mas demo).
SCOPES = ("62.10", "62.10.03", "62.10.03.2003", "6210032003001")
TARGET_SCOPE = "6210032003001"  # inside every scope above
OUTSIDER_SCOPE = "62.11"  # another kabupaten: outside every scope above


@dataclass(frozen=True)
class Account:
    """A signed-in test account: who, with which role and scope."""

    username: str
    role: str
    scope: str
    user_id: Any


@dataclass
class World:
    """The demo plus one account per role x scope, and objects inside and outside scopes."""

    app: Flask
    accounts: list[Account]
    demo: dict[str, Account]
    target_id: Any  # a user inside every scope, with a device token
    target_token_id: Any
    outsider_id: Any  # a user outside every scope, with a device token
    outsider_token_id: Any
    outside: dict[str, str] = field(default_factory=dict)  # scope -> a code of its level outside
    _clients: dict[Any, FlaskClient] = field(default_factory=dict)

    def client(self, account: Account | None) -> FlaskClient:
        """A client signed in as ``account`` (None: anonymous), reused across calls."""
        key = account.user_id if account else None
        if key not in self._clients:
            client = self.app.test_client()
            self._clients[key] = sign_in(client, account.user_id) if account else client
        return self._clients[key]


def _outside_code(scope: str) -> str:
    """An existing code of the scope's level that lies outside it (kabupaten: the next one)."""
    if codes.TPS_ID.match(scope):
        query = select(Tps.id).where(Tps.id != scope)
    else:
        level = codes.region_level(scope)
        if level is RegionLevel.KABKOTA:
            return f"{scope[:2]}.{int(scope[3:]) + 1:02d}"
        query = select(Region.code).where(Region.level == level, Region.code != scope)
    return str(db.session.scalar(query.order_by(query.selected_columns[0])))


@pytest.fixture(scope="session", autouse=True)
def translations() -> None:
    """Compiled catalogues, so the English pages can be tested without ``make``."""
    compile_translations()


@pytest.fixture(scope="module")
def world(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo, 20 role x scope accounts, and a target and an outsider user with tokens."""
    app = make_app(database_url, tmp_path_factory.mktemp("world"))
    app.test_client_class = FreshContextClient
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        cheap_password_hashing(patch)
        _wipe()
        list(load(db.session))
        demo = {name: Account(name, role, scope, auth.find_user(db.session, name).id)
                for name, role, scope, _ in DEMO_ACCOUNTS}
        accounts = []
        for role in Role:
            for scope in SCOPES:
                name = f"{role.value}-{scope}"
                user = auth.create_user(db.session, name, "rahasia-uji-1", role.value, scope)
                accounts.append(Account(name, role.value, scope, user.id))
        target = auth.create_user(db.session, "sasaran", "rahasia-uji-1", "kurir", TARGET_SCOPE)
        outsider = auth.create_user(db.session, "orang-luar", "rahasia-uji-1", "kurir",
                                    OUTSIDER_SCOPE)
        _, target_token = auth.create_token(db.session, target, "HP sasaran")
        _, outsider_token = auth.create_token(db.session, outsider, "HP orang luar")
        scopes = {a.scope for a in [*accounts, *demo.values()]}
        built = World(app, accounts, demo, target.id, target_token.id, outsider.id,
                      outsider_token.id, {scope: _outside_code(scope) for scope in scopes})
    yield built
    with app.app_context():
        _wipe()
        db.engine.dispose()


@pytest.fixture
def web_app(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Flask:
    """Like ``demo_app`` (accounts' password 'rahasia-demo-1'), faster, and every request of
    its clients gets a fresh app context."""
    cheap_password_hashing(monkeypatch)
    list(load(db.session))
    for username, *_ in DEMO_ACCOUNTS:
        auth.set_password(db.session, auth.find_user(db.session, username), "rahasia-demo-1")
    app.test_client_class = FreshContextClient
    return app
