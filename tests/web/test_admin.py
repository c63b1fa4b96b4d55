"""The admin pages: users inside the admin's scope, roles, scopes, status and device tokens."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.auth import service as auth
from app.errors import Forbidden, Unauthorized
from app.extensions import db
from tests.conftest import login

PASSWORD = "rahasia-demo-1"


def _id(username: str) -> Any:
    return auth.find_user(db.session, username).id


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


@pytest.fixture
def tewah_admin(web_app: Flask) -> FlaskClient:
    """An admin of kecamatan Tewah (62.10.03) only."""
    auth.create_user(db.session, "admin.tewah", PASSWORD, "admin", "62.10.03", "Admin PPK Tewah")
    return _client(web_app, "admin.tewah")


def _users_listed(client: FlaskClient) -> set[str]:
    page = client.get("/admin/pengguna")
    assert page.status_code == 200
    return set(
        re.findall(
            r'<a href="/admin/pengguna/[0-9a-f-]{36}">([^<]+)</a>', page.get_data(as_text=True)
        )
    )


def test_admin_sees_only_users_inside_their_scope(web_app: Flask, tewah_admin: FlaskClient) -> None:
    assert _users_listed(_client(web_app, "admin")) >= {
        "admin",
        "gudang",
        "kurir.tewah",
        "kurir.kurun",
        "admin.tewah",
    }
    assert _users_listed(tewah_admin) == {"admin.tewah", "kurir.tewah"}
    assert tewah_admin.get(f"/admin/pengguna/{_id('kurir.kurun')}").status_code == 404
    assert tewah_admin.get(f"/admin/pengguna/{_id('admin')}").status_code == 404
    deactivate = tewah_admin.post(
        f"/admin/pengguna/{_id('kurir.kurun')}/status", data={"active": "0"}
    )
    assert deactivate.status_code == 404
    db.session.expire_all()
    assert auth.find_user(db.session, "kurir.kurun").active


def test_admin_creates_a_user_who_can_sign_in(web_app: Flask, tewah_admin: FlaskClient) -> None:
    form = {
        "username": "pps.kasintu",
        "full_name": "PPS Kasintu",
        "role": "kurir",
        "scope": "62.10.03.2003",
        "password": "kata-sandi-panjang",
    }
    created = tewah_admin.post("/admin/pengguna/baru", data=form)
    assert created.status_code == 302
    page = tewah_admin.get(created.location).get_data(as_text=True)
    assert "Pengguna pps.kasintu dibuat." in page and "62.10.03.2003" in page
    login(web_app.test_client(), "pps.kasintu", "kata-sandi-panjang")


BAD_INPUT = [
    ({"scope": "62.10.02"}, "berada di luar cakupan Anda (62.10.03)"),
    ({"scope": "62.10.03.9999"}, "tidak dikenal"),
    ({"scope": "62"}, "paling luas adalah kabupaten/kota"),
    ({"password": "pendek"}, "minimal 10 karakter"),
    ({"role": "raja"}, "Peran tidak dikenal"),
    ({"username": "kurir.tewah"}, "sudah dipakai"),
    ({"username": "ada spasi"}, "Nama pengguna 2-60 karakter"),
]


def test_new_user_form_refuses_bad_input_and_keeps_what_was_typed(tewah_admin: FlaskClient) -> None:
    for change, message in BAD_INPUT:
        form = {
            "username": "baru",
            "full_name": "Nama Tetap",
            "role": "kurir",
            "scope": "62.10.03.2003",
            "password": "kata-sandi-panjang",
            **change,
        }
        response = tewah_admin.post("/admin/pengguna/baru", data=form)
        assert response.status_code == 422, change
        page = response.get_data(as_text=True)
        assert message in page and 'value="Nama Tetap"' in page, change
    assert auth.users_in_scope(db.session, "62.10.03.2003") == []


def test_admin_changes_role_and_scope_within_their_own(tewah_admin: FlaskClient) -> None:
    url = f"/admin/pengguna/{_id('kurir.tewah')}"
    saved = tewah_admin.post(
        url, data={"role": "pengawas", "scope": "62.10.03.2003", "full_name": "Pengawas Kasintu"}
    )
    assert saved.status_code == 302
    db.session.expire_all()
    user = auth.find_user(db.session, "kurir.tewah")
    assert (user.role.value, user.scope_code, user.full_name) == (
        "pengawas",
        "62.10.03.2003",
        "Pengawas Kasintu",
    )
    widen = tewah_admin.post(url, data={"role": "kurir", "scope": "62.10", "full_name": ""})
    assert widen.status_code == 422 and "di luar cakupan Anda" in widen.get_data(as_text=True)


def test_admin_cannot_lock_themself_out(web_app: Flask) -> None:
    admin = _client(web_app, "admin")
    url = f"/admin/pengguna/{_id('admin')}"
    assert admin.post(url + "/status", data={"active": "0"}).status_code == 422
    demote = admin.post(url, data={"role": "kurir", "scope": "62.10", "full_name": "x"})
    assert demote.status_code == 422
    assert "sendiri" in demote.get_data(as_text=True)
    rename = admin.post(url, data={"role": "admin", "scope": "62.10", "full_name": "Admin Baru"})
    assert rename.status_code == 302


def test_deactivation_ends_sessions_and_tokens_until_reactivated(web_app: Flask) -> None:
    admin = _client(web_app, "admin")
    courier = _client(web_app, "kurir.tewah")
    plain, _ = auth.create_token(db.session, auth.find_user(db.session, "kurir.tewah"), "HP")
    url = f"/admin/pengguna/{_id('kurir.tewah')}/status"
    assert admin.post(url, data={"active": "0"}).status_code == 302
    assert courier.get("/rencana").status_code == 302  # the open session is gone
    refused = web_app.test_client().post(
        "/masuk", data={"username": "kurir.tewah", "password": PASSWORD}
    )
    assert refused.status_code == 401
    db.session.expire_all()
    with pytest.raises(Forbidden):
        auth.user_for_token(db.session, plain)
    assert admin.post(url, data={"active": "1"}).status_code == 302
    login(web_app.test_client(), "kurir.tewah")


def test_device_token_is_shown_once_and_can_be_revoked(web_app: Flask) -> None:
    admin = _client(web_app, "admin")
    url = f"/admin/pengguna/{_id('kurir.tewah')}"
    created = admin.post(url + "/token", data={"name": "HP kurir PPK Tewah"})
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    page = created.get_data(as_text=True)
    plain = re.search(r'id="new-token" value="(tpt_[A-Za-z0-9_-]+)"', page).group(1)
    assert "tidak akan ditampilkan lagi" in page and "data-copy" in page
    user, token = auth.user_for_token(db.session, plain)
    assert user.username == "kurir.tewah"
    db.session.rollback()  # user_for_token stamps last_used_at; keep SQLite's write lock free

    later = admin.get(url).get_data(as_text=True)
    assert plain not in later and token.prefix in later and "HP kurir PPK Tewah" in later

    other = f"/admin/pengguna/{_id('kurir.kurun')}/token/{token.id}/cabut"
    assert admin.post(other).status_code == 404  # a token is revoked through its owner only
    revoked = admin.post(f"{url}/token/{token.id}/cabut")
    assert revoked.status_code == 302
    assert "dicabut" in admin.get(revoked.location).get_data(as_text=True)
    db.session.expire_all()
    with pytest.raises(Unauthorized):
        auth.user_for_token(db.session, plain)


def test_token_needs_a_device_name(web_app: Flask) -> None:
    admin = _client(web_app, "admin")
    response = admin.post(f"/admin/pengguna/{_id('kurir.tewah')}/token", data={"name": "  "})
    assert response.status_code == 422
    assert "Nama perangkat wajib diisi." in response.get_data(as_text=True)
