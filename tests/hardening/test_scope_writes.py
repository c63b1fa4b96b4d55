"""Nothing a caller cannot see can be written by that caller (issue 11).

Before: any device token could put findings into another region's desk (a reused event
id, device sequence gaps, a voided label scanned out of scope); device rows were global,
so a foreign token moved a courier's ``max_seq`` to 2,000,000,000; a gudang user scoped
to one kecamatan replaced another kecamatan's TPS rows, and every web import moved the
remote districts' H-2 deadlines to H-1.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from app.auth import service as auth
from app.custody.models import Device, FindingRow
from app.errors import PlanImportError
from app.extensions import db
from app.items.service import void_item
from app.plan import codes
from app.plan import service as plan_service
from app.plan.models import RouteLeg, Tps
from tests.conftest import DEMO_PASSWORD, login
from tests.custody.conftest import Env

KURUN = "62.10.02"  # kurir.kurun's scope; the env's TPS are in Tewah (62.10.03)


def _findings(code: str) -> list[FindingRow]:
    return list(db.session.scalars(select(FindingRow).where(FindingRow.code == code)))


def _in_kurun(finding: FindingRow) -> bool:
    return codes.within(finding.region_code, KURUN) and (
        finding.node is None or codes.within(finding.node, KURUN)
    )


def _forge(label: str) -> str:
    return label[:-3] + ("A" if label[-3] != "A" else "B") + label[-2:]


def test_a_reused_event_id_from_another_region_is_filed_in_the_senders_region(env: Env) -> None:
    event = env.journey(env.first(env.tps, "KOTAK"), stop=1)[0]
    env.post([event])
    clash = dict(event, note="lain")
    response = env.post([clash], user="kurir.kurun", device_id="hp-kurun")
    assert response.status_code == 409
    (finding,) = _findings("event_conflict")
    assert _in_kurun(finding) and finding.serial is None
    assert finding.detail["security"] == 1


def test_a_foreign_token_cannot_move_another_devices_sequence(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    journey = env.journey(box, stop=2)
    env.post(journey[:2], device_id="hp-gudang")
    foreign = dict(journey[2], device_seq=2_000_000_000, event_id=None)
    foreign["event_id"] = "0b0b0b0b-0000-4000-8000-000000000001"
    env.post([foreign], user="kurir.kurun", device_id="hp-gudang")
    devices = {d.owner: d for d in db.session.scalars(select(Device))}
    assert len(devices) == 2
    gudang_token = next(o for o, d in devices.items() if d.max_seq < 1000)
    assert devices[gudang_token].max_seq == 2
    # The real device goes on without a false gap accusation.
    env.post(journey[2:], device_id="hp-gudang")
    gaps = _findings("device_seq_gap")
    assert all(_in_kurun(g) for g in gaps)


def test_a_sequence_gap_out_of_scope_is_filed_in_the_senders_region(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    first, second = env.journey(box, stop=1)
    first["device_seq"], second["device_seq"] = 1, 500
    env.post([first], user="kurir.kurun", device_id="hp-kurun")
    env.post([second], user="kurir.kurun", device_id="hp-kurun")
    (gap,) = _findings("device_seq_gap")
    assert _in_kurun(gap)


def test_forged_labels_are_one_security_finding_per_batch_in_the_senders_region(
    env: Env,
) -> None:
    box = env.first(env.tps, "KOTAK")
    events = []
    for i in range(50):
        event = env.event(box, "kirim", "62.10", target="62.10.03")
        event["label"] = _forge(event["label"])
        event["device_seq"] = i + 1
        events.append(event)
    response = env.post(events, user="kurir.kurun", device_id="hp-kurun")
    assert {r["code"] for r in response.get_json()["results"]} == {"bad_signature"}
    (finding,) = _findings("forged_label_scanned")
    assert _in_kurun(finding) and finding.severity == "critical"
    assert finding.detail["count"] == 50 and len(finding.event_ids) == 20


def test_a_forged_label_in_scope_is_filed_at_the_node(env: Env) -> None:
    event = env.event(env.first(env.tps, "KOTAK"), "terima", "62.10.03", quantity=1)
    event["label"] = _forge(event["label"])
    env.post([event], user="kurir.tewah", device_id="hp-tewah")
    (finding,) = _findings("forged_label_scanned")
    assert finding.node == "62.10.03"


def test_a_voided_label_scanned_out_of_scope_is_filed_in_the_senders_region(env: Env) -> None:
    box = env.first(env.tps, "KOTAK")
    void_item(db.session, box, auth.find_user(db.session, "gudang").id, "rusak")
    db.session.commit()
    event = env.event(box, "terima", "62.10.03", quantity=1, condition="baik")
    response = env.post([event], user="kurir.kurun", device_id="hp-kurun")
    assert response.get_json()["results"][0]["code"] == "voided_label"
    (finding,) = _findings("voided_label_scanned")
    assert _in_kurun(finding) and finding.serial is None


def test_the_desk_of_the_senders_region_sees_the_security_finding(env: Env) -> None:
    event = env.event(env.first(env.tps, "KOTAK"), "terima", "62.10.03", quantity=1)
    event["label"] = _forge(event["label"])
    env.post([event], user="kurir.kurun", device_id="hp-kurun")
    listed = env.client.get(
        "/api/v1/findings?kode=forged_label_scanned",
        headers={"Authorization": f"Bearer {env.tokens['desk']}"},
    ).get_json()
    assert listed["count"] == 1


# --- plan import ---------------------------------------------------------------------


def _tps_csv(rows: list[Tps], change: dict[str, int] | None = None) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["tps id", "dpt", "dptb"])
    for tps in rows:
        writer.writerow([tps.id, (change or {}).get(tps.id, tps.dpt), tps.dptb])
    return out.getvalue().encode()


def _legs() -> list[tuple[Any, ...]]:
    return sorted(
        (leg.from_node, leg.to_node, leg.day_offset, leg.deadline_at)
        for leg in db.session.scalars(select(RouteLeg))
    )


def test_a_kecamatan_gudang_user_cannot_replace_another_kecamatans_tps(demo_app: Flask) -> None:
    auth.create_user(db.session, "gudang.tewah", DEMO_PASSWORD, "gudang", "62.10.03")
    kurun = list(db.session.scalars(select(Tps).where(Tps.id.like("621002%"))))
    before = {t.id: t.dpt for t in kurun}
    client = demo_app.test_client()
    login(client, "gudang.tewah")
    data = _tps_csv(kurun[:1], {kurun[0].id: 68})
    response = client.post(
        "/rencana/impor",
        data={"berkas": (io.BytesIO(data), "tps.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "di luar wilayah" in response.get_data(as_text=True)
    db.session.expire_all()
    assert {t.id: t.dpt for t in db.session.scalars(select(Tps).where(Tps.id.like("621002%")))} == (
        before
    )


def test_a_service_import_outside_the_scope_names_every_row(demo_app: Flask) -> None:
    kurun = list(db.session.scalars(select(Tps).where(Tps.id.like("621002%"))))[:3]
    with pytest.raises(PlanImportError) as caught:
        plan_service.import_tps(
            db.session, "pilkada-2024", "62.10", "t.csv", _tps_csv(kurun), scope="62.10.03"
        )
    assert [e.value for e in caught.value.errors] == [t.id for t in kurun]


def test_a_web_reimport_keeps_the_remote_districts_h2_deadlines(demo_app: Flask) -> None:
    every = list(db.session.scalars(select(Tps).where(Tps.id.like("6210%")).order_by(Tps.id)))
    legs = _legs()
    assert any(offset == -2 for _, _, offset, _ in legs)  # the demo's remote districts
    client = demo_app.test_client()
    login(client, "gudang")
    data = _tps_csv(every, {every[0].id: every[0].dpt - 1})
    response = client.post(
        "/rencana/impor",
        data={"berkas": (io.BytesIO(data), "tps.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert _legs() == legs
