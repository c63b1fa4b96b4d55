"""The way back through the scan API, on SQLite and PostgreSQL (-m db)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from app.custody.models import ItemStateRow
from app.extensions import db
from app.plan import codes
from tests.custody.conftest import Env

#: Election night, 20.00 WIB: counting is done and the boxes are sealed.
ELECTION_NIGHT = datetime(2024, 11, 27, 13, 0, tzinfo=UTC)


def statuses(response: object) -> list[str]:
    return [r["status"] for r in response.get_json()["results"]]  # type: ignore[attr-defined]


def deliver_and_seal(env: Env, serial_type: str = "KOTAK") -> object:
    box = env.first(env.tps, serial_type)
    assert statuses(env.post(env.journey(box))) == ["accepted"] * 6
    env.clock[0] = ELECTION_NIGHT
    env.app.config["TEPAT_NOW"] = "2024-11-27T13:30:00Z"
    sealed = env.post(
        [
            env.event(box, "buka", env.tps),
            env.event(box, "segel", env.tps, seals=["KS-1", "KS-2"]),
        ]
    )
    assert statuses(sealed) == ["accepted", "accepted"]
    return box


def test_a_box_travels_back_to_the_gudang_through_the_api(env: Env) -> None:
    """Every return scan is stored (the stage column holds 'kembali_jalan') and clean."""
    box = deliver_and_seal(env)
    gudang, ppk, pps, tps = codes.route(box.destination)
    seals = ["KS-1", "KS-2"]
    sent = env.post([env.event(box, "kembali", tps, target=pps, seals=seals)])
    assert statuses(sent) == ["accepted"], sent.get_json()
    state = db.session.get(ItemStateRow, box.serial)
    assert (state.stage, state.holder, state.transit_to) == ("kembali_jalan", tps, pps)
    env.app.config["TEPAT_NOW"] = "2024-11-28T10:00:00Z"  # H+1 17.00 WIB
    rest = env.post(
        [
            env.event(box, "terima", pps, seals=seals, condition="baik"),
            env.event(box, "kembali", pps, target=ppk, seals=seals),
            env.event(box, "terima", ppk, seals=seals, condition="baik"),
            env.event(box, "kembali", ppk, target=gudang, seals=seals),
            env.event(box, "terima", gudang, seals=seals, condition="baik"),
        ]
    )
    assert statuses(rest) == ["accepted"] * 5
    assert all(r["findings"] == [] for r in rest.get_json()["results"]), rest.get_json()
    db.session.expire_all()
    state = db.session.get(ItemStateRow, box.serial)
    assert (state.stage, state.holder, state.transit_to) == ("kembali", gudang, None)


def test_a_box_that_skips_the_pps_and_arrives_late_is_flagged_through_the_api(env: Env) -> None:
    box = deliver_and_seal(env)
    _, ppk, pps, tps = codes.route(box.destination)
    env.clock[0] = datetime(2024, 11, 28, 14, 0, tzinfo=UTC)  # H+1 21.00 WIB: after 18.00
    env.app.config["TEPAT_NOW"] = "2024-11-28T14:30:00Z"
    response = env.post(
        [
            env.event(box, "kembali", tps, target=ppk),
            env.event(box, "terima", ppk, condition="baik"),
        ]
    )
    assert statuses(response) == ["accepted", "accepted"]
    codes_seen = [f["code"] for r in response.get_json()["results"] for f in r["findings"]]
    assert codes_seen == ["wrong_dispatch_target", "return_skipped_node", "late"]
    skipped = response.get_json()["results"][1]["findings"][0]
    assert "melewati PPS" in skipped["message"] and "Tewah" in skipped["message"]


def test_a_box_never_sent_back_is_overdue_on_the_desk_after_election_night(env: Env) -> None:
    box = deliver_and_seal(env)
    env.app.config["TEPAT_NOW"] = "2024-11-28T03:00:00Z"  # H+1 10.00 WIB
    response = env.client.get(
        "/api/v1/findings?kode=overdue&wilayah=62.10",
        headers={"Authorization": f"Bearer {env.tokens['desk']}"},
    )
    assert response.status_code == 200
    # Counted per destination and leg (the boxes waiting there), not item by item.
    found = response.get_json()["findings"]
    mine = [f for f in found if f["tps"] == box.destination and "dikembalikan" in f["message"]]
    assert len(mine) == 1, mine
    assert "belum dikembalikan dari TPS" in mine[0]["message"]
    assert (mine[0]["count"], mine[0]["node"]) == (1, codes.route(box.destination)[2])


def test_a_return_receipt_without_kembali_is_not_called_a_cloned_label(env: Env) -> None:
    box = deliver_and_seal(env)
    _, _, pps, _ = codes.route(box.destination)
    response = env.post([env.event(box, "terima", pps, condition="baik")])
    assert statuses(response) == ["accepted"]
    (finding,) = response.get_json()["results"][0]["findings"]
    assert finding["code"] == "received_without_dispatch"
    assert "tanpa catatan pengembalian" in finding["message"]
    state = db.session.scalar(select(ItemStateRow).where(ItemStateRow.serial == box.serial))
    assert (state.stage, state.holder) == ("kembali", pps)
