"""The scan API: batches, duplicates, conflicts, rejections and findings (SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth import service as auth
from app.custody.models import CustodyEvent, FindingRow, ItemStateRow
from app.extensions import db
from app.items.service import void_item
from app.plan import codes
from tests.custody.conftest import SERVER_NOW, Env


def statuses(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [r["status"] for r in response.get_json()["results"]]


def test_a_full_forward_journey_is_accepted_without_findings(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    response = env.post(env.journey(box))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert statuses(response) == ["accepted"] * 6
    assert all(r["findings"] == [] for r in body["results"])
    state = db.session.get(ItemStateRow, box.serial)
    assert (state.holder, state.stage, state.item_seq) == (env.tps, "kpps", 6)
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 6


def test_resending_a_batch_is_acknowledged_as_duplicate_and_stored_once(env: Env) -> None:
    events = env.journey(env.first(env.tps, "KOTAK"), stop=1)
    assert statuses(env.post(events)) == ["accepted", "accepted"]
    again = env.post(events)
    assert again.status_code == 200
    assert statuses(again) == ["duplicate", "duplicate"]
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 2


def test_same_event_id_with_other_content_is_a_409_conflict_and_a_security_finding(
    env: Env,
) -> None:
    event = env.journey(env.first(env.tps, "KOTAK"), stop=1)[0]
    env.post([event])
    forged = dict(event, node="62.10")
    forged["target"] = "62.10.02"
    response = env.post([forged])
    assert response.status_code == 409
    assert statuses(response) == ["conflict"]
    assert db.session.scalar(select(func.count()).select_from(CustodyEvent)) == 1
    finding = db.session.scalar(select(FindingRow).where(FindingRow.code == "event_conflict"))
    assert finding is not None and finding.severity == "critical"


@pytest.mark.parametrize(
    ("case", "mutate", "code"),
    [
        (
            "forged label: one character changed",
            lambda e, env: e.update(
                label=e["label"][:-3] + ("A" if e["label"][-3] != "A" else "B") + e["label"][-2:]
            ),
            "bad_signature",
        ),
        ("not a Tepat label", lambda e, env: e.update(label="HELLO WORLD"), "malformed"),
        ("unknown node", lambda e, env: e.update(node="62.10.99"), "unknown_node"),
        ("not a node code", lambda e, env: e.update(node="kantor"), "unknown_node"),
        ("missing action", lambda e, env: e.pop("action"), "malformed"),
        ("bad condition", lambda e, env: e.update(condition="hancur"), "malformed"),
        ("negative count", lambda e, env: e.update(quantity=-3), "malformed"),
        ("bad time", lambda e, env: e.update(device_time="kemarin"), "malformed"),
        ("event id not a UUID", lambda e, env: e.update(event_id="123"), "malformed"),
    ],
)
def test_bad_events_are_rejected_with_a_code_and_the_rest_of_the_batch_is_kept(
    env: Env,
    case: str,
    mutate,
    code: str,  # type: ignore[no-untyped-def]
) -> None:
    good, bad = (
        env.journey(env.first(env.tps, "KOTAK"), stop=1)[0],
        env.event(env.first(env.tps, "BILIK"), "kirim", "62.10", target="62.10.03"),
    )
    mutate(bad, env)
    response = env.post([good, bad])
    assert response.status_code == 200, case
    results = response.get_json()["results"]
    assert results[0]["status"] == "accepted"
    assert (results[1]["status"], results[1]["code"]) == ("rejected", code), case
    assert results[1]["message"]


def test_a_voided_label_is_rejected_and_flagged(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    void_item(
        db.session, box, auth.find_user(db.session, "gudang").id, "Label rusak, dicetak ulang"
    )
    response = env.post([env.event(box, "terima", "62.10")])
    result = response.get_json()["results"][0]
    assert (result["status"], result["code"]) == ("rejected", "voided_label")
    assert db.session.scalar(select(FindingRow).where(FindingRow.code == "voided_label_scanned"))


def test_a_scan_outside_the_couriers_kecamatan_is_rejected(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    response = env.post([env.event(box, "terima", "62.10.03")], user="kurir.kurun")
    assert response.get_json()["results"][0]["code"] == "out_of_scope"


def test_access_needs_a_valid_token_and_a_scanning_role(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    event = env.event(box, "terima", "62.10")
    assert env.client.post("/api/v1/scans", json={"events": [event]}).status_code == 401
    bad = env.client.post(
        "/api/v1/scans", json={"events": [event]}, headers={"Authorization": "Bearer tpt_palsu"}
    )
    assert bad.status_code == 401 and bad.get_json()["message"]
    assert env.post([event], user="desk").status_code == 403
    token = auth.find_user(db.session, "gudang").tokens[0]
    auth.revoke_token(db.session, token.id)
    assert env.post([event]).status_code == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"events": "semua"}, 400),
        ({}, 400),
        ({"events": [{}] * 501}, 413),
        ({"events": [], "device_id": "x" * 65}, 422),
        ({"events": [], "sent_at": "besok"}, 422),
    ],
)
def test_malformed_batches_get_a_clear_error(env: Env, body: dict, status: int) -> None:
    response = env.client.post(
        "/api/v1/scans", json=body, headers={"Authorization": f"Bearer {env.tokens['gudang']}"}
    )
    assert response.status_code == status
    assert response.get_json()["message"]


def test_non_json_body_is_a_400_not_a_500(env: Env) -> None:
    response = env.client.post(
        "/api/v1/scans",
        data=b"\xff\xfe",
        content_type="application/json",
        headers={"Authorization": f"Bearer {env.tokens['gudang']}"},
    )
    assert response.status_code == 400


def test_a_gap_in_device_sequence_numbers_is_reported(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    first, second = env.journey(box, stop=1)
    first["device_seq"], second["device_seq"] = 1, 5
    env.post([first])
    env.post([second])
    gap = db.session.scalar(select(FindingRow).where(FindingRow.code == "device_seq_gap"))
    assert gap is not None and "2–4" in gap.message


def test_a_device_clock_days_off_is_recorded_and_flagged_but_never_dropped(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    event = env.event(box, "terima", "62.10")
    wrong = SERVER_NOW + timedelta(days=3)
    event["device_time"] = wrong.isoformat()
    response = env.post([event], sent_at=wrong.isoformat())
    assert statuses(response) == ["accepted"]
    stored = db.session.get(CustodyEvent, uuid.UUID(event["event_id"]))
    assert stored.skew_seconds > 2 * 86400
    assert db.session.scalar(select(FindingRow).where(FindingRow.code == "clock_skew"))


def test_ballots_at_the_wrong_tps_are_a_sasaran_finding_in_plain_words(env: Env) -> None:
    bundle = env.first(env.tps, "SURAT")
    events = env.journey(bundle, stop=2)
    pps = codes.desa_of_tps(env.other_tps)
    events.append(env.event(bundle, "kirim", pps, target=env.other_tps))
    events.append(env.event(bundle, "terima", env.other_tps, quantity=bundle.quantity))
    results = env.post(events).get_json()["results"]
    codes_found = {f["code"] for r in results for f in r["findings"]}
    assert {"wrong_tps"} <= codes_found or {"wrong_dispatch_target"} <= codes_found
    messages = " ".join(f["message"] for r in results for f in r["findings"])
    assert env.tps in messages or env.tps[-3:] in messages


def test_packing_a_kit_then_moving_it_moves_its_contents(env: Env) -> None:
    kit = env.first(env.tps, "KIT")
    contents = [i for i in env.items[env.tps] if i.item_type_code != "KIT"][:5]
    packing = [env.event(i, "kemas", "62.10", container=env.label(kit)) for i in contents]
    assert set(statuses(env.post(packing))) == {"accepted"}
    assert set(statuses(env.post(env.journey(kit, stop=1)))) == {"accepted"}
    for item in contents:
        state = db.session.get(ItemStateRow, item.serial)
        assert (state.holder, state.container) == ("62.10.03", kit.serial)


def test_item_history_and_scope_over_the_api(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    env.post(env.journey(box, stop=1))
    headers = {"Authorization": f"Bearer {env.tokens['kurir.tewah']}"}
    history = env.client.get(f"/api/v1/items/{box.serial}", headers=headers).get_json()
    assert [e["seq"] for e in history["events"]] == [1, 2]
    assert history["events"][1]["prev_hash"] == history["events"][0]["hash"]
    other = {"Authorization": f"Bearer {env.tokens['kurir.kurun']}"}
    assert env.client.get(f"/api/v1/items/{box.serial}", headers=other).status_code == 404
    slice_ = env.client.get("/api/v1/nodes/62.10.03/plan-slice", headers=headers).get_json()
    assert env.tps in slice_["destinations"]
    assert env.client.get("/api/v1/nodes/62.10.02/plan-slice", headers=headers).status_code == 404


def test_the_https_form_of_a_label_opens_the_item_page(env: Env) -> None:
    from app.items.service import label_text
    from tests.conftest import login

    box = env.first(env.tps, "KOTAK")
    url = label_text(box, env.signer, "https://tepat.local")
    path = url[url.index("/L/") :]
    assert env.client.get(path).status_code == 302  # sign in first
    login(env.client, "desk")
    response = env.client.get(path)
    assert response.status_code == 302 and box.serial in response.headers["Location"]
    forged = path[:-2] + ("AA" if not path.endswith("AA") else "BB")
    assert env.client.get(forged).status_code == 404
