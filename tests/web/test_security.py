"""Security hardening a user or an attacker would notice: limits, cookies, CSRF, headers, errors.

Every test here runs on the module's demo ``world``; apps with other settings are built on
the same database (never the per-test ``app`` fixture, which would empty it).
"""

from __future__ import annotations

import io
import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.conftest import DEMO_PASSWORD, make_app
from tests.web.conftest import World
from tests.web.helpers import FreshContextClient, sign_in
from tests.web.test_access_matrix import ROUTES, call, samples, url

GUDANG = {"username": "gudang", "password": DEMO_PASSWORD}


def _app(world: World, tmp_path: Path, **config: Any) -> Flask:
    """An app on the world's database with other settings."""
    app = make_app(world.database_url, tmp_path, **config)
    app.test_client_class = FreshContextClient
    return app


def test_login_is_rate_limited_with_an_indonesian_message(world: World, tmp_path: Path) -> None:
    app = _app(world, tmp_path, RATELIMIT_ENABLED=True, LOGIN_RATE_LIMIT="3 per minute")
    client = app.test_client()
    for _ in range(3):
        assert client.post("/masuk", data={"username": "x", "password": "salah"}).status_code == 401
    blocked = client.post("/masuk", data={"username": "x", "password": "salah"})
    assert blocked.status_code == 429
    assert "Terlalu banyak percobaan" in blocked.get_data(as_text=True)
    assert client.get("/masuk").status_code == 200  # only attempts are limited, not the form


def _session_cookie(response: Any) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


def test_session_cookie_is_httponly_and_samesite_lax(world: World) -> None:
    response = world.app.test_client().post("/masuk", data=GUDANG)
    assert response.status_code == 302
    cookie = _session_cookie(response)
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1 must still work for the demo


def test_session_cookie_is_secure_when_served_over_https(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEPAT_HTTPS", "1")
    client = _app(world, tmp_path).test_client()
    response = client.post("/masuk", data=GUDANG, base_url="https://tepat.example")
    cookie = _session_cookie(response)
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_forwarded_https_is_trusted_only_behind_a_configured_proxy(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    direct = _app(world, tmp_path).test_client().get("/masuk", headers=forwarded)
    assert "Strict-Transport-Security" not in direct.headers  # anyone can send the header
    monkeypatch.setenv("TEPAT_PROXY_FIX", "1")
    proxied = _app(world, tmp_path).test_client().get("/masuk", headers=forwarded)
    assert proxied.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.fixture
def csrf_app(world: World, tmp_path: Path) -> Flask:
    """An app with CSRF protection on, as in production."""
    return _app(world, tmp_path, WTF_CSRF_ENABLED=True)


def test_login_without_csrf_token_is_400_in_indonesian(csrf_app: Flask) -> None:
    client = csrf_app.test_client()
    response = client.post("/masuk", data=GUDANG)
    assert response.status_code == 400
    assert "Formulir kedaluwarsa" in response.get_data(as_text=True)
    form = client.get("/masuk").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    signed_in = client.post("/masuk", data={**GUDANG, "csrf_token": token})
    assert signed_in.status_code == 302


def test_every_post_route_refuses_a_session_request_without_csrf_token(
    csrf_app: Flask, world: World
) -> None:
    """Forms and session-authenticated API calls alike; never a 500, never accepted."""
    admin = world.demo["admin"]
    client = sign_in(csrf_app.test_client(), admin.user_id)
    posts = [(endpoint, pattern) for endpoint, method, pattern in ROUTES if method == "POST"]
    assert posts
    for endpoint, pattern in posts:
        inside, _ = samples(world, endpoint, pattern)
        response = client.post(url(world, endpoint, inside, admin))
        assert response.status_code == 400, (pattern, response.status_code)
        if not pattern.startswith("/api/"):
            assert "Formulir kedaluwarsa" in response.get_data(as_text=True), pattern


def _assert_security_headers(response: Any) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in (
        "same-origin",
        "strict-origin-when-cross-origin",
        "no-referrer",
    )


def test_security_headers_on_pages_errors_static_files_and_api(world: World) -> None:
    client = world.client(None)
    for path in ("/masuk", "/tidak-ada", "/static/css/tepat.css", "/api/v1/tidak-ada", "/"):
        with client.get(path) as response:
            _assert_security_headers(response)


def test_upload_over_the_limit_is_413_with_a_clear_message(world: World, tmp_path: Path) -> None:
    app = _app(world, tmp_path, MAX_CONTENT_LENGTH=1024 * 1024)
    client = sign_in(app.test_client(), world.demo["gudang"].user_id)
    rows = b"kode desa,nomor tps,dpt,dptb\n" + b"62.10.03.2003,1,300,0\n" * 60_000  # 1.3 MB
    big = (io.BytesIO(rows), "tps.csv")
    response = client.post(
        "/rencana/impor", data={"berkas": big}, content_type="multipart/form-data"
    )
    assert response.status_code == 413
    assert "terlalu besar (paling besar 1 MB)" in response.get_data(as_text=True)


def test_unknown_urls_are_404_pages_in_indonesian(world: World) -> None:
    client = world.client(None)
    page = client.get("/tidak-ada")
    assert page.status_code == 404
    text = page.get_data(as_text=True)
    assert '<html lang="id">' in text and "Halaman atau data tidak ditemukan." in text
    api = client.get("/api/v1/tidak-ada")
    assert api.status_code == 404 and api.json["error"] == "not_found"


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
INLINE_STYLE = re.compile(r"<[^>]+\sstyle=|<style", re.I)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+=", re.I)


def test_no_get_route_ends_in_500_for_any_demo_role(world: World) -> None:
    """Also: no inline script, style or handler, which the CSP would silently block."""
    problems = []
    for endpoint, method, pattern in ROUTES:
        if method != "GET":
            continue
        inside, outside = samples(world, endpoint, pattern)
        for account in [None, *world.demo.values()]:
            as_ = account or world.demo["admin"]
            for arguments in filter(None, (inside, outside)):
                response = call(world, account, endpoint, method, arguments, as_=as_)
                who = account.username if account else "anonim"
                if response.status_code >= 500:
                    problems.append(f"{who} {pattern}: {response.status_code}")
                if response.mimetype == "text/html":
                    html = response.get_data(as_text=True)
                    for rule in (INLINE_SCRIPT, INLINE_STYLE, INLINE_HANDLER):
                        if rule.search(html):
                            problems.append(f"{who} {pattern}: inline {rule.pattern}")
    assert not problems, "\n".join(problems)


JUNK_FORMS = (
    {},
    {
        "wilayah": "bukan-kode",
        "jenis": "NOPE",
        "tata_letak": "besar",
        "seri": "???",
        "berkas": "teks",
        "mode": "x",
        "alasan": "",
        "username": "a" * 500,
        "role": "raja",
    },
    {
        "wilayah": "62.10.99.9999",
        "seri": "0000-0000-0000-0000",
        "label": "TP1:%%%",
        "jumlah": "-5",
        "tanggal": "kemarin",
        "scope_code": "99",
    },
)
JUNK_JSON = ({"events": [{"event_id": "x"}]}, [1, 2], {"events": None}, "teks")


def test_no_post_route_ends_in_500_whatever_it_is_sent(world: World) -> None:
    """Junk forms and junk JSON to every POST route, as every demo role: clear 4xx, never 500."""
    problems = []
    for endpoint, method, pattern in ROUTES:
        if method != "POST":
            continue
        inside, outside = samples(world, endpoint, pattern)
        for account in world.demo.values():
            client, token = world._client(account)
            for arguments in filter(None, (inside, outside)):
                target = url(world, endpoint, arguments, account)
                for form in JUNK_FORMS:
                    response = client.post(target, data=form, headers={"X-CSRFToken": token})
                    if response.status_code >= 500:
                        problems.append(
                            f"{account.username} {pattern} form {form}: {response.status_code}"
                        )
                for body in JUNK_JSON:
                    response = client.post(target, json=body, headers={"X-CSRFToken": token})
                    if response.status_code >= 500:
                        problems.append(
                            f"{account.username} {pattern} json {body!r}: {response.status_code}"
                        )
    assert not problems, "\n".join(problems)
