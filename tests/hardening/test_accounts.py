"""Accounts (issue 11): sessions end on the server, sign-in limits shared by every worker,
no timing hint about who exists, and a password policy after NIST SP 800-63B.

Before: a copied session cookie stayed valid 31 days after sign-out or a password reset;
the login limit was per process (37 tries under gunicorn -w 4); an unknown user answered
in 7 ms against 167 ms; any 10 characters passed as a password.
"""

from __future__ import annotations

import statistics
import time
import uuid
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.auth import service as auth
from app.errors import Unauthorized, ValidationFailed
from app.extensions import db
from tests.conftest import DEMO_PASSWORD, login, make_app

REDIS = "redis://127.0.0.1:6379/11"


def _copy_of(client: FlaskClient, app: Flask) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie."""
    other = app.test_client()
    cookie = client.get_cookie("session")
    assert cookie is not None
    other.set_cookie("session", cookie.value)
    return other


def _signed_in(client: FlaskClient) -> bool:
    return client.get("/rencana").status_code == 200


@pytest.mark.parametrize("how", ["sign-out", "password change", "deactivation"])
def test_a_copied_session_cookie_dies_with_the_session(demo_app: Flask, how: str) -> None:
    client = demo_app.test_client()
    login(client, "gudang")
    copy = _copy_of(client, demo_app)
    assert _signed_in(copy)
    user = auth.find_user(db.session, "gudang")
    if how == "sign-out":
        client.post("/keluar")
    elif how == "password change":
        auth.set_password(db.session, user, "kalimat sandi baru yang panjang")
    else:
        auth.set_active(db.session, user, False)
    assert not _signed_in(copy)
    assert not _signed_in(client)


def test_signing_in_again_gives_a_new_session(demo_app: Flask) -> None:
    first, second = demo_app.test_client(), demo_app.test_client()
    login(first, "gudang")
    login(second, "gudang")
    first.post("/keluar")
    assert _signed_in(second)  # another browser's session is its own


def _limited_app(demo_app: Flask, tmp_path: Path) -> Flask:
    """A second worker on the same database, counting sign-ins in Redis."""
    return make_app(
        demo_app.config["SQLALCHEMY_DATABASE_URI"],
        tmp_path,
        RATELIMIT_ENABLED=True,
        RATELIMIT_STORAGE_URI=REDIS,
        LOGIN_ACCOUNT_RATE_LIMIT="5 per minute",
        LOGIN_RATE_LIMIT="50 per minute",
    )


@pytest.fixture
def account(demo_app: Flask) -> str:
    """A fresh account name, so counts in the shared Redis never carry over between runs."""
    name = f"uji-{uuid.uuid4().hex[:12]}"
    auth.create_user(db.session, name, DEMO_PASSWORD, "gudang", "62.10")
    return name


def _try(client: FlaskClient, username: str, password: str, address: str) -> int:
    response = client.post(
        "/masuk",
        data={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )
    return response.status_code


def _address() -> str:
    return f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}"


def test_failed_sign_ins_are_limited_per_account_across_workers_and_addresses(
    demo_app: Flask, tmp_path: Path, account: str
) -> None:
    workers = [_limited_app(demo_app, tmp_path / str(i)) for i in range(2)]
    codes = [
        _try(workers[i % 2].test_client(), account, "salah-sekali-lagi", _address())
        for i in range(5)
    ]
    assert codes == [401] * 5
    # The right password from a fresh address and another worker: the account waits.
    assert _try(workers[1].test_client(), account, DEMO_PASSWORD, _address()) == 429


def test_successful_sign_ins_do_not_count(demo_app: Flask, tmp_path: Path, account: str) -> None:
    worker = _limited_app(demo_app, tmp_path)
    address = _address()
    assert [_try(worker.test_client(), account, DEMO_PASSWORD, address) for _ in range(8)] == (
        [302] * 8
    )


def test_the_limiter_store_is_redis_when_tepat_redis_url_is_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.config import load_config

    monkeypatch.setenv("TEPAT_REDIS_URL", REDIS)
    monkeypatch.delenv("TEPAT_RATELIMIT_STORAGE_URI", raising=False)
    assert load_config("/tmp/tepat-instance")["RATELIMIT_STORAGE_URI"] == REDIS
    monkeypatch.delenv("TEPAT_REDIS_URL")
    assert load_config("/tmp/tepat-instance")["RATELIMIT_STORAGE_URI"] == "memory://"


def _median_seconds(username: str) -> float:
    times = []
    for _ in range(5):
        start = time.perf_counter()
        with pytest.raises(Unauthorized):
            auth.authenticate(db.session, username, "bukan-kata-sandinya")
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def test_an_unknown_user_takes_as_long_as_a_wrong_password(demo_app: Flask) -> None:
    auth.authenticate.__globals__["_dummy_hash"]()  # made once, on first use
    known, unknown = _median_seconds("gudang"), _median_seconds("tidak-ada-orangnya")
    assert 0.5 < unknown / known < 2, (known, unknown)


@pytest.mark.parametrize(
    "password",
    [
        "password123",  # on the blocklist
        "Bismillah123",  # on the blocklist, any case
        "aaaaaaaaaaaa",  # one character repeated
        "abababababab",  # two characters repeated
        "pendekkk",  # under the minimum length
        "x" * 60 + "yz" * 40,  # over 128 characters
        "penjaga.tewah-2024",  # holds the user name
    ],
)
def test_weak_passwords_are_refused(demo_app: Flask, password: str) -> None:
    with pytest.raises(ValidationFailed):
        auth.create_user(db.session, "penjaga.tewah", password, "gudang", "62.10.03")


@pytest.mark.parametrize(
    "password",
    [
        "kuda makan rumput di tepi sungai",  # a passphrase with spaces
        "correcthorsebatterystaple",  # no composition rules
        "Ω≈ç√∫˜µ≤≥÷ kata",  # any Unicode
        "k" + "ata sandi panjang " * 7,  # 127 characters
    ],
)
def test_long_and_plain_passphrases_are_accepted(demo_app: Flask, password: str) -> None:
    user = auth.create_user(db.session, "penjaga.tewah", password, "gudang", "62.10.03")
    assert auth.authenticate(db.session, "penjaga.tewah", password) == user
