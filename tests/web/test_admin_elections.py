"""The admin page for elections and races: any region, inside the admin's scope."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.plan.models import Election
from tests.conftest import login


def _client(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    login(client, username)
    return client


def test_an_admin_creates_an_election_and_adds_a_race_of_their_region(web_app: Flask) -> None:
    admin = _client(web_app, "admin")
    assert "Pilkada" in admin.get("/admin/pemilihan").get_data(as_text=True)
    created = admin.post(
        "/admin/pemilihan", data={"code": "psu-2025", "name": "PSU 2025", "day": "2025-02-22"}
    )
    assert created.status_code == 302
    wrong = admin.post(
        "/admin/pemilihan/psu-2025/pemilihan-daerah", data={"kind": "WAL", "region": "62.10"}
    )
    assert wrong.status_code == 422 and "gunakan BUP" in wrong.get_data(as_text=True)
    added = admin.post(
        "/admin/pemilihan/psu-2025/pemilihan-daerah", data={"kind": "BUP", "region": "62.10"}
    )
    assert added.status_code == 302
    page = admin.get("/admin/pemilihan").get_data(as_text=True)
    assert "Bupati Gunung Mas" in page
    with web_app.app_context():
        election = db.session.get(Election, "psu-2025")
        assert [(r.kind.value, r.region_code) for r in election.races] == [("BUP", "62.10")]


def test_bad_input_and_regions_outside_the_scope_are_refused_in_words(web_app: Flask) -> None:
    admin = _client(web_app, "admin")
    for form, said in (
        ({"code": "x y", "name": "X", "day": "2025-01-01"}, "Kode pemilihan"),
        ({"code": "ok", "name": "X", "day": "besok"}, "Hari H harus tanggal"),
        ({"code": "pilkada-2024", "name": "X", "day": "2024-11-27"}, "sudah ada"),
    ):
        response = admin.post("/admin/pemilihan", data=form)
        assert response.status_code == 422 and said in response.get_data(as_text=True), form
    outside = admin.post(
        "/admin/pemilihan/pilkada-2024/pemilihan-daerah", data={"kind": "WAL", "region": "53.71"}
    )
    assert outside.status_code == 422 and "di luar cakupan" in outside.get_data(as_text=True)
    unknown = admin.post(
        "/admin/pemilihan/tidak-ada/pemilihan-daerah", data={"kind": "BUP", "region": "62.10"}
    )
    assert unknown.status_code == 404


def test_only_admins_see_the_election_page(web_app: Flask) -> None:
    for username in ("desk", "gudang", "kurir.tewah"):
        assert _client(web_app, username).get("/admin/pemilihan").status_code == 403
