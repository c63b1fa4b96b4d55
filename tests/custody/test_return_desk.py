"""The desk's way back: stages, reconciliation per TPS and the download for the recap meeting."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from openpyxl import load_workbook

from app.plan import codes
from tests.conftest import login
from tests.custody.conftest import Env

ELECTION_NIGHT = datetime(2024, 11, 27, 13, 0, tzinfo=UTC)


def closing(env: Env, tps: str, race: str, box: Any, **changes: Any) -> dict[str, Any]:
    return {
        "client_id": str(uuid.uuid4()),
        "tps": tps,
        "race": race,
        "received": box_sheets(env, tps, race),
        "used": 300,
        "invalid": 5,
        "spoiled": 2,
        "unused": box_sheets(env, tps, race) - 302,
        "voters_signed": 300,
        "reserve_drawn": 2,
        "seals": ["KS-1", "KS-2"],
        "box": env.label(box),
        "device_time": "2024-11-27T12:30:00Z",
        **changes,
    }


def box_sheets(env: Env, tps: str, race: str) -> int:
    return sum(
        i.quantity for i in env.items[tps] if i.item_type_code == "SURAT" and i.race_kind == race
    )


def deliver(env: Env, tps: str) -> None:
    """Every item for the TPS travels out and is received there (ballots counted)."""
    events = []
    for item in env.items[tps]:
        events += env.journey(item)
    response = env.post(events)
    assert response.status_code == 200


def test_the_way_back_page_shows_stages_statuses_and_findings(env: Env) -> None:
    deliver(env, env.tps)
    boxes = {i.race_kind: i for i in env.items[env.tps] if i.item_type_code == "KOTAK"}
    races = sorted(boxes)
    env.clock[0] = ELECTION_NIGHT
    env.app.config["TEPAT_NOW"] = "2024-11-28T03:00:00Z"
    records = [closing(env, env.tps, races[0], boxes[races[0]])]
    if len(races) > 1:  # the second race's sheets do not add up
        records.append(closing(env, env.tps, races[1], boxes[races[1]], unused=1))
    headers = {"Authorization": f"Bearer {env.tokens['kurir.tewah']}"}
    answer = env.client.post("/api/v1/closings", json={"records": records}, headers=headers)
    assert answer.get_json()["accepted"] == len(records)
    _, _, pps, tps = codes.route(env.tps)
    first = boxes[races[0]]
    moved = env.post(
        [
            env.event(first, "kembali", tps, target=pps, seals=["KS-1", "KS-2"]),
            env.event(first, "terima", pps, seals=["KS-1", "KS-9"]),  # a seal changed
        ]
    )
    assert moved.status_code == 200

    login(env.client, "desk")
    # The kecamatan: rolled up per desa from the counters, with its download.
    page = env.client.get("/desk/kembali?wilayah=62.10.03")
    assert page.status_code == 200
    kecamatan = page.get_data(as_text=True)
    assert 'data-stage="di_pps"><b>1</b>' in kecamatan
    assert f'data-race="{races[0]}"><b>1</b>' in kecamatan
    assert f'data-code="{codes.desa_of_tps(env.tps)}"' in kecamatan
    assert "rekonsiliasi.xlsx?wilayah=62.10.03" in kecamatan
    assert f'data-tps="{env.tps}"' not in kecamatan  # no row per TPS above a desa
    if len(races) > 1:  # the stored finding of the unbalanced sheet is counted
        assert 'data-recon="1"' in kecamatan
    # The desa: every TPS, its status and the live findings with their evidence.
    desa = env.client.get(f"/desk/kembali?wilayah={codes.desa_of_tps(env.tps)}")
    html = desa.get_data(as_text=True)
    assert f'data-tps="{env.tps}"' in html
    assert 'data-stage="di_pps"><b>1</b>' in html
    assert "return_seal_changed" in html and "KS-1, KS-9" in html
    assert 'data-status="selisih"><b>1</b>' in html
    if len(races) > 1:
        assert "sheets_unbalanced" in html
    # The kabupaten links each kecamatan's download and refuses one of its own.
    kabupaten = env.client.get("/desk/kembali?wilayah=62.10").get_data(as_text=True)
    assert "rekonsiliasi.xlsx?wilayah=62.10.03" in kabupaten
    refused = env.client.get("/desk/kembali/rekonsiliasi.xlsx?wilayah=62.10")
    assert refused.status_code == 422
    assert "Pilih satu kecamatan" in refused.get_data(as_text=True)

    sheet = env.client.get("/desk/kembali/rekonsiliasi.xlsx?wilayah=62.10.03")
    assert sheet.status_code == 200
    rows = list(load_workbook(io.BytesIO(sheet.data)).active.iter_rows(values_only=True))
    assert rows[2][:4] == ("Kecamatan", "TPS", "Pemilihan", "Diterima (C.Hasil)")
    mine = [r for r in rows[3:] if r[2] == races[0] and r[1] and "TPS" in r[1]]
    assert mine and mine[0][3] == box_sheets(env, env.tps, races[0])
    assert mine[0][13] == "Selisih" and "KS-9" in mine[0][14]
    assert any(str(r[0]).startswith("Jumlah Kecamatan") for r in rows[3:])
    pdf = env.client.get("/desk/kembali/rekonsiliasi.pdf?wilayah=62.10.03")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_psu_reserve_is_shown_apart_on_the_kabupaten_page(env: Env) -> None:
    from app.extensions import db
    from app.items.service import issue_items

    issue_items(db.session, "pilkada-2024", "62.10", ["SURAT"], env.signer, None)
    login(env.client, "desk")
    page = env.client.get("/desk/kembali?wilayah=62.10")
    assert page.status_code == 200, page.get_data(as_text=True)[:3000]
    html = page.get_data(as_text=True)
    psu = html[html.index('id="psu-reserve"') :]
    assert 'data-race="GUB"><td>GUB</td><td>2.000</td>' in psu
    tps_page = env.client.get(f"/desk/kembali?wilayah={env.tps}")
    assert tps_page.status_code == 200 and 'id="psu-reserve"' not in tps_page.get_data(as_text=True)


def test_the_way_back_keeps_to_the_users_scope(env: Env) -> None:
    login(env.client, "desk")
    assert env.client.get("/desk/kembali?wilayah=63.01").status_code == 404
    assert env.client.get("/desk/kembali?wilayah=bukan-kode").status_code == 404
    login(env.client, "kurir.tewah")
    assert env.client.get("/desk/kembali").status_code == 403


def test_the_reconciliation_api_gives_statuses_numbers_and_evidence(env: Env) -> None:
    deliver(env, env.tps)
    box = next(i for i in env.items[env.tps] if i.item_type_code == "KOTAK")
    headers = {"Authorization": f"Bearer {env.tokens['kurir.tewah']}"}
    record = closing(env, env.tps, box.race_kind, box, unused=1)
    env.client.post("/api/v1/closings", json={"records": [record]}, headers=headers)
    desk = {"Authorization": f"Bearer {env.tokens['desk']}"}
    body = env.client.get(f"/api/v1/regions/{env.tps}/reconciliation", headers=desk).get_json()
    (tps,) = body["tps"]
    assert tps["status"] in ("selisih", "belum")
    race = tps["races"][box.race_kind]
    assert race["closing"]["unused"] == 1 and race["arrived"] == record["received"]
    (finding,) = [f for f in tps["findings"] if f["code"] == "sheets_unbalanced"]
    assert finding["detail"]["record"] == race["closing"]["id"]
    assert body["stages"]["ditutup"] >= 1
    # Above a desa the API rolls up from the counters: per child region, no TPS list.
    kab = env.client.get("/api/v1/regions/62.10/reconciliation", headers=desk).get_json()
    assert "tps" not in kab and kab["area"] == "62.10"
    assert kab["closed"] == {box.race_kind: 1}
    assert kab["recon_findings"] >= 1 and kab["stages"]["tps"] >= 1
    (tewah,) = [c for c in kab["children"] if c["code"] == "62.10.03"]
    assert tewah["closed"] == {box.race_kind: 1} and tewah["name"] == "Kecamatan Tewah"
    bad = env.client.get("/api/v1/regions/62.10.03.x/reconciliation", headers=desk)
    assert bad.status_code in (404, 422)
    outside = env.client.get("/api/v1/regions/63.01/reconciliation", headers=desk)
    assert outside.status_code == 404


def test_the_way_back_rolls_up_for_a_province_and_the_country(env: Env) -> None:
    """A province (per kabupaten) and the national desk (per province) see the boxes on
    the way back, the closings filed and the reconciliation findings, from the counters:
    the same numbers the kabupaten's own page counts from its boxes."""
    from app.auth import service as auth
    from app.custody import counts, overview
    from app.extensions import db

    deliver(env, env.tps)
    boxes = {i.race_kind: i for i in env.items[env.tps] if i.item_type_code == "KOTAK"}
    races = sorted(boxes)
    env.clock[0] = ELECTION_NIGHT
    env.app.config["TEPAT_NOW"] = "2024-11-28T03:00:00Z"
    records = [closing(env, env.tps, races[0], boxes[races[0]], unused=1)]  # does not add up
    records.append(dict(records[0], client_id=str(uuid.uuid4()), unused=0))  # sent twice
    headers = {"Authorization": f"Bearer {env.tokens['kurir.tewah']}"}
    answer = env.client.post("/api/v1/closings", json={"records": records}, headers=headers)
    assert answer.status_code == 200
    _, _, pps, tps = codes.route(env.tps)
    first = boxes[races[0]]
    env.post(
        [
            env.event(first, "kembali", tps, target=pps, seals=["KS-1", "KS-2"]),
            env.event(first, "terima", pps, seals=["KS-1", "KS-2"]),
        ]
    )
    password = "rahasia-kembali-1"
    auth.create_user(db.session, "desk.kalteng", password, "desk", "62", "KPU Provinsi")
    auth.create_user(db.session, "desk.ri", password, "desk", codes.NATIONAL, "KPU RI")
    login(env.client, "desk")
    own = env.client.get("/desk/kembali").get_data(as_text=True)  # the kabupaten, per box
    assert 'data-stage="di_pps"><b>1</b>' in own
    for user, area, child in (("desk.kalteng", "62", "62.10"), ("desk.ri", "ID", "62")):
        login(env.client, user, password)
        page = env.client.get("/desk/kembali")
        html = page.get_data(as_text=True)
        assert page.status_code == 200, (user, html[:300])
        assert f"({area})" in html and f'data-code="{child}"' in html
        assert 'data-stage="di_pps"><b>1</b>' in html
        assert f'data-race="{races[0]}"><b>1</b>' in html  # one TPS closed that race, once
        assert 'data-recon="0"' not in html  # the unbalanced sheet is counted
        refused = env.client.get("/desk/kembali/rekonsiliasi.csv")
        assert refused.status_code == 422
    # The counters equal a recount (closings and the way back included).
    db.session.expire_all()
    kept = counts.read(db.session, ["62.10"])["62.10"]
    counts.rebuild(db.session, "62.10")
    again = counts.read(db.session, ["62.10"])["62.10"]
    wanted = ("kembali:", "closed:")
    assert {k: n for k, n in kept.items() if k.startswith(wanted) and n} == {
        k: n for k, n in again.items() if k.startswith(wanted) and n
    }
    assert again[f"closed:{races[0]}"] == 1
    db.session.rollback()
    overview.clear_caches()
