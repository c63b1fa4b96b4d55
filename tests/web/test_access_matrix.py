"""Every endpoint x role x scope: who gets in, who is refused, and nothing leaks across scopes.

The matrix is generated from ``app.url_map``, so endpoints added later are checked without
touching this file: each must be public (the allowlist below) or wrapped by
``require(ability)``. A new endpoint whose path arguments are region codes is checked for
scope leaks automatically; others may need a row in ``SAMPLES``.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from flask import url_for
from werkzeug.routing import Rule
from werkzeug.routing.converters import AnyConverter, IntegerConverter, UUIDConverter

from app import create_app
from app.auth.access import ABILITIES
from app.auth.models import Role
from tests.web.conftest import SCOPES, WIDE_SCOPES, Account, World

#: Reachable without signing in. Everything else must carry ``require(ability)``.
PUBLIC = {
    "static",
    "auth.login",
    "auth.set_language",
    "auth.logout",  # @login_required: signing out needs a session, not an ability
    "health",
    "api.health",
    "api.openapi",  # the API description is public documentation
    # Issue 16: the public, read-only side (aggregates, item journeys, the signed log).
    "label_link.open_label",  # a visitor holding the label gets the public item page
    "public.index",
    "public.region",
    "public.item",
    "public.log",
    "public_api.region_json",
    "public_api.item_proof",
    "public_api.log_key",
    "public_api.label_keys",
    "public_api.latest_checkpoint",
    "public_api.checkpoint",
    "public_api.checkpoints",
    "public_api.consistency",
}

# Placeholders in SAMPLES, resolved per account.
SCOPE = "<the account's scope>"
OUTSIDE = "<a code of the same level outside the scope>"
TARGET, TARGET_TOKEN = "<a user inside every scope>", "<its device token>"
OUTSIDER, OUTSIDER_TOKEN = "<a user outside every scope>", "<its device token>"

#: endpoint -> (arguments inside the account's scope, arguments outside it or None).
#: Arguments the rule does not name go to the query string. Endpoints not listed get
#: defaults from their converters (see ``default_arguments``).
SAMPLES: dict[str, tuple[dict[str, Any], dict[str, Any] | None]] = {
    "plan.needs": ({"wilayah": SCOPE}, {"wilayah": OUTSIDE}),
    "api.findings": ({"wilayah": SCOPE}, {"wilayah": OUTSIDE}),
    "admin.user": ({"user_id": TARGET}, {"user_id": OUTSIDER}),
    "admin.update_user": ({"user_id": TARGET}, {"user_id": OUTSIDER}),
    "admin.set_active": ({"user_id": TARGET}, {"user_id": OUTSIDER}),
    "admin.create_token": ({"user_id": TARGET}, {"user_id": OUTSIDER}),
    "admin.revoke_token": (
        {"user_id": TARGET, "token_id": TARGET_TOKEN},
        {"user_id": OUTSIDER, "token_id": OUTSIDER_TOKEN},
    ),
}

#: Path arguments with these names hold a region code, node code or TPS id.
REGION_ARGUMENTS = {
    "code",
    "kode",
    "node",
    "simpul",
    "region",
    "wilayah",
    "scope",
    "tps",
    "tps_id",
    "desa",
    "kecamatan",
    "kabupaten",
    "area",
}


def default_arguments(rule: Rule) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fill a rule's arguments from their converters; region-named ones get an outside twin."""
    inside: dict[str, Any] = {}
    outside: dict[str, Any] = {}
    for name in sorted(rule.arguments):
        converter = rule._converters[name]
        if name in REGION_ARGUMENTS:
            inside[name], outside[name] = SCOPE, OUTSIDE
        elif isinstance(converter, UUIDConverter):
            inside[name] = outside[name] = uuid.UUID(int=1)
        elif isinstance(converter, IntegerConverter):
            inside[name] = outside[name] = 1
        elif isinstance(converter, AnyConverter):
            inside[name] = outside[name] = sorted(converter.items)[0]
        else:
            inside[name] = outside[name] = "contoh"
    return inside, (outside if outside != inside else None)


def _rules() -> list[tuple[str, str, str]]:
    """(endpoint, method, path pattern) for every route of a freshly built app."""
    app = create_app({"SQLALCHEMY_DATABASE_URI": "sqlite://", "SECRET_KEY": "x", "TESTING": True})
    return sorted(
        {
            (rule.endpoint, method, rule.rule)
            for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}
        }
    )


ROUTES = _rules()


def _resolve(value: Any, world: World, account: Account) -> Any:
    return (
        {
            SCOPE: account.scope,
            OUTSIDE: world.outside[account.scope],
            TARGET: world.target_id,
            TARGET_TOKEN: world.target_token_id,
            OUTSIDER: world.outsider_id,
            OUTSIDER_TOKEN: world.outsider_token_id,
        }.get(value, value)
        if isinstance(value, str)
        else value
    )


def url(world: World, endpoint: str, arguments: dict[str, Any], account: Account) -> str:
    """The URL of ``endpoint`` with the placeholders in ``arguments`` resolved for ``account``."""
    resolved = {k: _resolve(v, world, account) for k, v in arguments.items()}
    with world.app.test_request_context():
        return url_for(endpoint, **resolved)


def call(
    world: World,
    account: Account | None,
    endpoint: str,
    method: str,
    arguments: dict[str, Any],
    as_: Account,
) -> Any:
    """Send ``method`` to ``endpoint`` as ``account`` (None: anonymous); resolve for ``as_``."""
    return world.send(account, url(world, endpoint, arguments, as_), method)


def samples(
    world: World, endpoint: str, pattern: str
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Arguments inside and outside the scope for one route: SAMPLES, else the defaults."""
    if endpoint in SAMPLES:
        return SAMPLES[endpoint]
    rule = next(r for r in world.app.url_map.iter_rules(endpoint) if r.rule == pattern)
    return default_arguments(rule)


def test_every_endpoint_is_public_or_requires_an_ability(world: World) -> None:
    """Fails when someone adds an endpoint without ``require(...)`` (or to PUBLIC on purpose)."""
    unguarded = sorted(
        endpoint
        for endpoint, view in world.app.view_functions.items()
        if endpoint not in PUBLIC and not hasattr(view, "required_ability")
    )
    assert unguarded == [], f"endpoints without require(ability): {unguarded}"
    abilities = {
        getattr(view, "required_ability", None) for view in world.app.view_functions.values()
    }
    assert abilities - {None} <= set(ABILITIES)


def test_matrix_covers_every_role_at_every_scope_level(world: World) -> None:
    assert {(a.role, a.scope) for a in world.accounts} == {
        (role.value, scope)
        for role in Role
        for scope in (*SCOPES, *WIDE_SCOPES.get(role.value, ()))
    }


@pytest.mark.parametrize(
    ("endpoint", "method", "pattern"), ROUTES, ids=[f"{m} {p}" for _, m, p in ROUTES]
)
def test_endpoint_access(world: World, endpoint: str, method: str, pattern: str) -> None:
    """Anonymous -> login; role without the ability -> 403; with it -> in; outside scope -> 404."""
    inside, outside = samples(world, endpoint, pattern)
    kabupaten_admin = world.demo["admin"]
    anonymous = call(world, None, endpoint, method, inside, as_=kabupaten_admin)
    assert anonymous.status_code != 500
    if endpoint in PUBLIC:
        return
    if pattern.startswith("/api/"):
        assert anonymous.status_code == 401, anonymous.get_data(as_text=True)[:300]
        assert anonymous.is_json
    else:
        assert anonymous.status_code == 302, anonymous.get_data(as_text=True)[:300]
        assert anonymous.location.startswith("/masuk")

    ability = world.app.view_functions[endpoint].required_ability
    problems = []
    for account in world.accounts:
        allowed = Role(account.role) in ABILITIES[ability]
        response = call(world, account, endpoint, method, inside, as_=account)
        status = response.status_code
        if not allowed and status != 403:
            problems.append(f"{account.username}: {status}, expected 403 (no '{ability}')")
        if allowed and status in (401, 403, 500):
            problems.append(f"{account.username}: {status}, expected to get in ('{ability}')")
        if allowed and outside is not None and world.outside[account.scope] is not None:
            leak = call(world, account, endpoint, method, outside, as_=account)
            if leak.status_code != 404:
                problems.append(
                    f"{account.username}: {leak.status_code} for an object outside "
                    f"the scope, expected 404"
                )
    assert not problems, "\n".join(problems)
