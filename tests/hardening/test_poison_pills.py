"""Poison pills: input no parser or column can hold is refused per event or with a 4xx.

Regression tests for issue 11: on PostgreSQL ``device_seq`` >= 2^31, years 9999 and 0001,
NUL characters answered 500 and sank the whole batch; on both databases JSON nested
100,000 deep and ``device_seq`` 2^63 did; a plan CSV field over 128 KB did too.
"""

from __future__ import annotations

import io
import json
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from app.custody.models import CustodyEvent
from app.errors import ValidationFailed
from app.extensions import db
from app.guard import json_depth_exceeds
from app.plan import service as plan_service
from tests.custody.conftest import Env


def _statuses(response: Any) -> list[tuple[str, str]]:
    return [(r["status"], r["code"]) for r in response.get_json()["results"]]


@pytest.mark.parametrize(
    ("case", "field", "value"),
    [
        ("device_seq 2^31 (PostgreSQL INTEGER)", "device_seq", 2**31),
        ("device_seq 2^63 (SQLite INTEGER)", "device_seq", 2**63),
        ("device_seq 10^40", "device_seq", 10**40),
        ("device_seq as float", "device_seq", 3.0),
        ("year 9999", "device_time", "9999-12-31T23:59:59Z"),
        ("year 0001 east of UTC", "device_time", "0001-01-01T00:00:00+07:00"),
        ("year 0001", "device_time", "0001-01-01T00:00:00Z"),
        ("device_time not text", "device_time", 1732500000),
        ("NUL in note", "note", "catatan\x00"),
        ("NUL in seals", "seals", ["S-1\x00"]),
        ("NUL in counterpart", "counterpart", "Pak\x00Budi"),
        ("NUL in node", "node", "62.10\x00"),
        ("note over 1000 characters", "note", "x" * 1001),
        ("seals not a list", "seals", {"a": 1}),
    ],
)
def test_one_poisoned_event_is_malformed_and_the_rest_of_the_batch_is_stored(
    env: Env, case: str, field: str, value: Any
) -> None:
    box = env.first(env.tps, "KOTAK")
    good = env.journey(box, stop=1)
    bad = dict(good[0], event_id="6f1c0c1e-8a1f-4a53-9d1a-000000000001", **{field: value})
    response = env.post([good[0], bad, good[1]])
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert _statuses(response) == [
        ("accepted", "ok"),
        ("rejected", "malformed"),
        ("accepted", "ok"),
    ], case
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 2


def test_a_device_clock_75_years_ahead_is_recorded_with_a_bounded_skew(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    response = env.post(env.journey(box, stop=1)[:1], sent_at="2099-12-31T00:00:00Z")
    assert _statuses(response) == [("accepted", "ok")]
    stored = db.session.scalar(select(CustodyEvent))
    assert stored.skew_seconds == 2**31 - 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"device_id": "hp\x00", "events": []}, 422),
        ({"device_id": 12, "events": []}, 422),
        ({"device_id": "x" * 65, "events": []}, 422),
        ({"events": [], "sent_at": "9999-12-31T23:59:59Z"}, 422),
        ({"events": [], "sent_at": "0001-01-01T00:00:00+07:00"}, 422),
        ({"events": [], "sent_at": 5}, 422),
        ({"events": "semua"}, 400),
    ],
)
def test_a_bad_batch_envelope_is_a_4xx(env: Env, body: dict[str, Any], status: int) -> None:
    response = env.client.post(
        "/api/v1/scans", json=body, headers={"Authorization": f"Bearer {env.tokens['gudang']}"}
    )
    assert response.status_code == status, response.get_json()
    assert response.get_json()["message"]


@pytest.mark.parametrize("where", ["body", "event", "note"])
def test_json_nested_100000_deep_is_a_400_not_a_recursion_error(env: Env, where: str) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    event = json.dumps(env.journey(env.first(env.tps, "KOTAK"), stop=1)[0])
    text = {
        "body": deep,
        "event": '{"events": [' + deep + "]}",
        "note": '{"events": [' + event[:-1] + ', "x": ' + deep + "}]}",
    }[where]
    response = env.client.post(
        "/api/v1/scans",
        data=text,
        content_type="application/json",
        headers={"Authorization": f"Bearer {env.tokens['gudang']}"},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 0


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    text = json.dumps({"note": "[" * 10_000, "seals": ["{" * 500]})
    assert not json_depth_exceeds(text)
    assert json_depth_exceeds("[" * 33 + "]" * 33)
    assert not json_depth_exceeds("[" * 32 + "]" * 32)
    # An unterminated string swallows the rest (the parser then fails without recursing).
    assert not json_depth_exceeds('"\\' + "[" * 100)


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/findings?kode=%00",
        "/api/v1/items/ABC%00",
        "/api/v1/ledger/inclusion/x?tree_size=99999999999999999999",
        "/api/v1/ledger/consistency?first=1&second=9223372036854775808",
        "/api/v1/ledger/consistency?first=-1&second=2",
        "/api/v1/regions/62.10%00/summary",
    ],
)
def test_query_and_path_poison_is_a_4xx(env: Env, url: str) -> None:
    response = env.client.get(url, headers={"Authorization": f"Bearer {env.tokens['desk']}"})
    assert 400 <= response.status_code < 500, (url, response.status_code)


def test_a_plan_csv_field_over_128_kb_is_a_422_naming_the_row(demo_app: Flask) -> None:
    data = (
        "kode desa,nomor tps,dpt,dptb\n62.10.03.2003,1,400,0\n"
        + '62.10.03.2003,2,"'
        + "9" * 200_000
        + '",0\n'
    ).encode()
    with pytest.raises(ValidationFailed, match="baris"):
        plan_service.import_tps(db.session, "pilkada-2024", "62.10", "tps.csv", data)


def test_a_plan_upload_with_a_huge_field_is_a_422_page(demo_app: Flask) -> None:
    from tests.conftest import login

    client = demo_app.test_client()
    login(client, "gudang")
    big = io.BytesIO(b"kode desa,nomor tps,dpt,dptb\n62.10.03.2003,1," + b"7" * 200_000 + b",0\n")
    response = client.post(
        "/rencana/impor",
        data={"berkas": (big, "tps.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
