"""Closing at the TPS through the API: idempotent by client id, append-only, checked input."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.closing.models import ClosingRecord
from app.extensions import db
from tests.custody.conftest import Env


def record(env: Env, race: str = "GUB", **changes: Any) -> dict[str, Any]:
    """A balanced C.Hasil: 400 received = 300 used + 4 spoiled + 96 unused."""
    boxes = [i for i in env.items[env.tps] if i.item_type_code == "KOTAK"]
    box = next((b for b in boxes if b.race_kind == race), boxes[0])
    return {
        "client_id": str(uuid.uuid4()),
        "tps": env.tps,
        "race": race,
        "received": 400,
        "used": 300,
        "invalid": 7,
        "spoiled": 4,
        "unused": 96,
        "voters_signed": 301,
        "reserve_drawn": 4,
        "seals": ["KS-1", "KS-2"],
        "box": env.label(box),
        "device_time": "2024-11-27T12:30:00Z",
        **changes,
    }


def post(env: Env, records: list[dict[str, Any]], user: str = "kurir.tewah") -> Any:
    return env.client.post(
        "/api/v1/closings",
        json={"device_id": "hp-kpps", "records": records},
        headers={"Authorization": f"Bearer {env.tokens[user]}"},
    )


def statuses(response: Any) -> list[str]:
    return [r["status"] for r in response.get_json()["results"]]


def count() -> int:
    return db.session.scalar(select(func.count()).select_from(ClosingRecord)) or 0


def test_a_closing_is_stored_once_and_a_resend_is_a_duplicate(env: Env) -> None:
    first = record(env)
    response = post(env, [first, record(env, "BUP")])
    assert response.status_code == 200, response.get_json()
    assert statuses(response) == ["accepted", "accepted"]
    again = post(env, [first])
    assert statuses(again) == ["duplicate"]
    assert count() == 2
    stored = db.session.scalar(select(ClosingRecord).where(ClosingRecord.race_kind == "GUB"))
    assert stored is not None
    assert (stored.received, stored.used, stored.seals) == (400, 300, ["KS-1", "KS-2"])
    assert stored.box_serial is not None and stored.recorded_by is not None


def test_the_same_client_id_with_other_numbers_is_a_409_and_not_stored(env: Env) -> None:
    first = record(env)
    post(env, [first])
    response = post(env, [dict(first, used=290)])
    assert response.status_code == 409
    assert statuses(response) == ["conflict"]
    assert count() == 1


def test_a_correction_is_a_new_record_and_the_latest_counts(env: Env) -> None:
    first = record(env, unused=90)
    post(env, [first])
    fixed = record(env, corrects=first["client_id"], unused=96, note="salah hitung")
    assert statuses(post(env, [fixed])) == ["accepted"]
    response = env.client.get(
        f"/api/v1/tps/{env.tps}/closings",
        headers={"Authorization": f"Bearer {env.tokens['desk']}"},
    )
    records = response.get_json()["records"]
    assert [(r["unused"], r["corrects"]) for r in records] == [
        (90, None),
        (96, first["client_id"]),
    ]
    from app.closing.service import latest_closings

    latest = latest_closings(db.session, "pilkada-2024", [env.tps])
    assert latest[(env.tps, "GUB")].unused == 96


def test_a_record_and_its_correction_in_one_batch_the_correction_counts(env: Env) -> None:
    """Regression: both share recorded_at, and the random id used to pick either one."""
    from app.closing.service import latest_closings

    for round_ in range(4):  # the old tie-break passed four rounds by chance 1 time in 16
        first = record(env, unused=90 - round_)
        fixed = record(env, corrects=first["client_id"], unused=96)
        assert statuses(post(env, [first, fixed])) == ["accepted", "accepted"]
        latest = latest_closings(db.session, "pilkada-2024", [env.tps])
        assert latest[(env.tps, "GUB")].client_id == fixed["client_id"]


@pytest.mark.parametrize(
    ("changes", "code", "words"),
    [
        ({"used": -1}, "malformed", "surat suara digunakan"),
        ({"voters_signed": None}, "malformed", "pemilih yang hadir"),
        ({"client_id": "abc"}, "malformed", "client_id"),
        ({"race": "WAL"}, "race_not_held", "tidak diadakan"),
        ({"tps": "6210032003999"}, "unknown_tps", "tidak ada dalam rencana"),
        ({"seals": ["KS-1", ""]}, "malformed", "segel"),
        ({"corrects": str(uuid.uuid4())}, "unknown_record", "dikoreksi"),
        ({"photo": "bukan-gambar"}, "malformed", "foto"),
        ({"box": "TPT-bukan-label"}, "malformed", ""),
        ({"device_time": "0001-01-01T00:00:00+07:00"}, "malformed", "device_time"),
    ],
)
def test_bad_records_are_rejected_with_a_reason_and_the_rest_are_kept(
    env: Env, changes: dict[str, Any], code: str, words: str
) -> None:
    response = post(env, [record(env, **changes), record(env, "BUP")])
    assert response.status_code == 200
    bad, good = response.get_json()["results"]
    assert (bad["status"], bad["code"]) == ("rejected", code), bad
    assert words in bad["message"]
    assert good["status"] == "accepted"


def test_the_box_must_be_this_tps_and_race_box(env: Env) -> None:
    other_box = next(i for i in env.items[env.other_tps] if i.item_type_code == "KOTAK")
    response = post(env, [record(env, box=env.label(other_box))])
    (result,) = response.get_json()["results"]
    assert result["code"] == "wrong_box"


def test_a_courier_of_another_kecamatan_cannot_close_this_tps(env: Env) -> None:
    (result,) = post(env, [record(env)], user="kurir.kurun").get_json()["results"]
    assert (result["status"], result["code"]) == ("rejected", "out_of_scope")


def test_the_desk_cannot_file_closings_and_junk_bodies_are_4xx(env: Env) -> None:
    assert post(env, [record(env)], user="desk").status_code == 403
    headers = {"Authorization": f"Bearer {env.tokens['kurir.tewah']}"}
    assert env.client.post("/api/v1/closings", json=[1], headers=headers).status_code == 400
    assert env.client.post("/api/v1/closings", data="x", headers=headers).status_code == 400
    many = {"records": [{}] * 101}
    assert env.client.post("/api/v1/closings", json=many, headers=headers).status_code == 413
    bad_tps = env.client.get("/api/v1/tps/xyz/closings", headers=headers)
    assert bad_tps.status_code in (404, 422)  # outside every scope, or not a TPS
    kecamatan = env.client.get(
        "/api/v1/tps/62.10.03/closings", headers={"Authorization": f"Bearer {env.tokens['desk']}"}
    )
    assert kecamatan.status_code == 422


def test_a_photo_of_the_form_is_kept(env: Env) -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "white").save(buffer, "PNG")
    photo = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    assert statuses(post(env, [record(env, photo=photo)])) == ["accepted"]
    stored = db.session.scalar(select(ClosingRecord))
    assert stored is not None and stored.photo_type == "image/png"
    assert stored.photo == buffer.getvalue()


def test_closing_records_are_append_only_in_the_database(env: Env) -> None:
    post(env, [record(env)])
    with pytest.raises(DBAPIError):
        db.session.execute(text("UPDATE closing_record SET used = 1"))
        db.session.flush()
    db.session.rollback()
    with pytest.raises(DBAPIError):
        db.session.execute(text("DELETE FROM closing_record"))
        db.session.flush()
    db.session.rollback()
    assert count() == 1


def test_the_closing_page_offers_the_couriers_tps_and_is_linked_from_the_scan_page(
    env: Env,
) -> None:
    from tests.conftest import login

    login(env.client, "kurir.tewah")
    page = env.client.get("/kurir/tutup")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert f'value="{env.tps}"' in html and "C.Hasil" in html
    assert "kurir-tutup.js" in html
    assert "/kurir/tutup" in env.client.get("/kurir").get_data(as_text=True)


def test_a_record_stored_by_another_request_meanwhile_is_answered_not_a_500(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two phones send the same record at once: the loser's insert fails on the unique id."""
    from app.closing import service

    first = record(env)
    post(env, [first])
    real = service._store
    calls = []

    def blind_first_pass(session: Any, *args: Any) -> None:
        # The first pass does not see the stored row, as if it had not been committed yet.
        calls.append(1)
        if len(calls) > 1:
            real(session, *args)
            return
        session.scalars = _without_closings(session.scalars)
        try:
            real(session, *args)
        finally:
            del session.scalars

    monkeypatch.setattr(service, "_store", blind_first_pass)
    response = post(env, [first])
    assert response.status_code == 200
    assert statuses(response) == ["duplicate"] and len(calls) == 2
    assert count() == 1


def _without_closings(scalars: Any) -> Any:
    def wrapped(statement: Any, *args: Any, **kwargs: Any) -> Any:
        if "closing_record" in str(statement):
            return iter(())
        return scalars(statement, *args, **kwargs)

    return wrapped
