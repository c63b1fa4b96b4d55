"""Each role lands on its own first page after signing in (issue 13: all landed on the plan)."""

from __future__ import annotations

import pytest
from flask import Flask

from tests.conftest import DEMO_PASSWORD

pytestmark = pytest.mark.db


@pytest.mark.parametrize(
    ("username", "home"),
    [
        ("kurir.tewah", "/kurir"),
        ("gudang", "/gudang/"),
        ("desk", "/desk"),
        ("bawaslu", "/desk"),
        ("admin", "/desk"),
    ],
)
def test_each_role_lands_on_its_own_page(demo_app: Flask, username: str, home: str) -> None:
    client = demo_app.test_client()
    signed_in = client.post("/masuk", data={"username": username, "password": DEMO_PASSWORD})
    assert signed_in.status_code == 302
    landing = client.get(signed_in.location)
    assert landing.status_code == 302 and landing.location == home
    assert client.get(home, follow_redirects=True).status_code == 200


def test_a_page_asked_for_before_signing_in_still_wins(demo_app: Flask) -> None:
    client = demo_app.test_client()
    signed_in = client.post(
        "/masuk?next=/rencana", data={"username": "kurir.tewah", "password": DEMO_PASSWORD}
    )
    assert signed_in.location == "/rencana"
