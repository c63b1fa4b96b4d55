"""Fixtures for the page tests: one demo world per module, clients signed in per account.

The access matrix and the route sweep send hundreds of requests as about thirty accounts, so they
share one world per module (a private copy of the demo database); each request still gets a
fresh app context (FreshContextClient).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth import service as auth
from app.auth.models import Role
from app.extensions import db
from app.plan import codes
from app.plan.demo_loader import DEMO_ACCOUNTS
from app.plan.models import Region, RegionLevel, Tps
from tests.conftest import _pg_drop, fresh_database, make_app
from tests.web.helpers import (
    FreshContextClient,
    cheap_password_hashing,
    compile_translations,
    sign_in,
)

_worlds = itertools.count(1)

#: One scope per level: kabupaten, kecamatan, desa, TPS (all inside the Gunung Mas demo).
SCOPES = ("62.10", "62.10.03", "62.10.03.2003", "6210032003001")
#: Wider scopes held only by some roles: a province (its desk and Bawaslu) and the country.
WIDE_SCOPES = {
    "desk": ("62", codes.NATIONAL),
    "pengawas": ("62", codes.NATIONAL),
    "admin": (codes.NATIONAL,),
}
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
    database_url: str  # the world's own database, for apps with other settings
    accounts: list[Account]
    demo: dict[str, Account]
    target_id: Any  # a user inside every scope, with a device token
    target_token_id: Any
    outsider_id: Any  # a user outside every scope, with a device token
    outsider_token_id: Any
    outside: dict[str, str | None] = field(default_factory=dict)  # scope -> a code outside
    _clients: dict[Any, tuple[FlaskClient, str]] = field(default_factory=dict)

    def client(self, account: Account | None) -> FlaskClient:
        """A client signed in as ``account`` (None: anonymous), reused across calls."""
        return self._client(account)[0]

    def send(self, account: Account | None, url: str, method: str) -> Any:
        """Send a request the way the pages do: POSTs carry the session's CSRF token."""
        client, token = self._client(account)
        return client.open(url, method=method, headers={"X-CSRFToken": token})

    def _client(self, account: Account | None) -> tuple[FlaskClient, str]:
        key = account.user_id if account else None
        if key not in self._clients:
            client = self.app.test_client()
            if account:
                sign_in(client, account.user_id)
            form = client.get("/masuk").get_data(as_text=True)
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token, "the login form carries no CSRF token"
            self._clients[key] = (client, token.group(1))
        return self._clients[key]


def _outside_code(scope: str) -> str | None:
    """An existing code of the scope's level that lies outside it (kabupaten: the next one;
    the country: None, nothing lies outside it)."""
    if scope == codes.NATIONAL:
        return None
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
def world(demo_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The demo, 25 role x scope accounts, and a target and an outsider user with tokens."""
    folder = tmp_path_factory.mktemp("world")
    url = fresh_database(demo_database_url, folder)
    app = make_app(url, folder)
    app.test_client_class = FreshContextClient
    with app.app_context(), pytest.MonkeyPatch.context() as patch:
        cheap_password_hashing(patch)
        demo = {
            name: Account(name, role, scope, auth.find_user(db.session, name).id)
            for name, role, scope, _ in DEMO_ACCOUNTS
        }
        # A second province, so a province account has somewhere it must not see.
        db.session.add(Region(code="53", name="Nusa Tenggara Timur", level=RegionLevel.PROVINSI))
        db.session.commit()
        accounts = []
        for role in Role:
            for scope in (*SCOPES, *WIDE_SCOPES.get(role.value, ())):
                name = f"{role.value}-{scope}"
                user = auth.create_user(db.session, name, "rahasia-uji-1", role.value, scope)
                accounts.append(Account(name, role.value, scope, user.id))
        target = auth.create_user(db.session, "sasaran", "rahasia-uji-1", "kurir", TARGET_SCOPE)
        outsider = auth.create_user(
            db.session, "orang-luar", "rahasia-uji-1", "kurir", OUTSIDER_SCOPE
        )
        _, target_token = auth.create_token(db.session, target, "HP sasaran")
        _, outsider_token = auth.create_token(db.session, outsider, "HP orang luar")
        scopes = {a.scope for a in [*accounts, *demo.values()]}
        built = World(
            app,
            url,
            accounts,
            demo,
            target.id,
            target_token.id,
            outsider.id,
            outsider_token.id,
            {scope: _outside_code(scope) for scope in scopes},
        )
        db.session.remove()
    yield built
    with app.app_context():
        db.engine.dispose()
    if not url.startswith("sqlite"):
        _pg_drop(url)


@pytest.fixture
def web_app(demo_app: Flask) -> Flask:
    """``demo_app`` whose clients give every request a fresh app context."""
    demo_app.test_client_class = FreshContextClient
    return demo_app
