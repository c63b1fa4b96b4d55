"""The warehouse pages: print jobs with progress, reprint, void, packing, dispatch, scopes."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

import labels
from app.auth import service as auth
from app.custody.models import CustodyEvent
from app.extensions import db
from app.items import jobs
from app.items.models import Item, LabelAction, LabelLog
from app.items.service import payload_of
from app.plan.models import RouteLeg
from tests.items.conftest import Warehouse, pdf_pages, pdf_text, qr_texts, wait_for_job

PRINT = "/gudang/label"


def test_label_page_offers_scope_types_and_layouts(warehouse: Warehouse) -> None:
    page = warehouse.client("gudang").get(PRINT)
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'name="csrf_token"' in html and 'value="62.10.02"' in html  # a kecamatan to choose
    assert 'value="KOTAK"' in html and 'value="thermal-100x150"' in html
    assert 'value="DPT"' not in html  # voter lists carry no label


def test_a_big_print_job_runs_in_the_background_and_its_pdf_scans_back(
    warehouse: Warehouse,
) -> None:
    warehouse.app.config["TEPAT_LABEL_SYNC_LIMIT"] = 0  # every job goes to a thread
    client = warehouse.client("gudang")
    started = client.post(
        PRINT,
        data={
            "wilayah": warehouse.tps,
            "jenis": ["KIT", "KOTAK"],
            "tata_letak": "a4-sticker",
            "mode": "baru",
        },
    )
    assert started.status_code == 303
    page = client.get(started.location).get_data(as_text=True)
    assert "<progress" in page and "js/gudang-label.js" in page
    job = wait_for_job(client, started.location)
    assert job["state"] == "done", job
    assert job["count"] == job["total"] == job["done"] == 3 and job["percent"] == 100
    pdf = client.get(job["download_url"])
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    gudang = auth.find_user(db.session, "gudang")
    items = {i.serial: i for i in warehouse.items(warehouse.tps)}
    assert len(items) == 3 and all(i.issued_by == gudang.id for i in items.values())
    scanned = [labels.decode(text, warehouse.keyring) for text in qr_texts(pdf.data)]
    assert sorted(p.serial for p in scanned) == sorted(items)
    assert all(p == payload_of(items[p.serial]) for p in scanned)
    assert job["id"] in client.get(PRINT).get_data(as_text=True)  # in the recent jobs


def test_a_small_job_finishes_in_the_request_and_nothing_is_issued_twice(
    warehouse: Warehouse,
) -> None:
    client = warehouse.client("gudang")
    form = {"wilayah": warehouse.tps, "jenis": ["KOTAK"], "tata_letak": "thermal-100x150"}
    started = client.post(PRINT, data=form)
    job = client.get(started.location, headers={"Accept": "application/json"}).get_json()
    assert job["state"] == "done" and job["count"] == 2
    assert pdf_pages(client.get(job["download_url"]).data) == 2
    again = client.post(PRINT, data=form)
    assert again.status_code == 409 and "sudah diterbitkan" in again.get_data(as_text=True)
    assert len(warehouse.items(warehouse.tps)) == 2
    none_chosen = client.post(PRINT, data={"wilayah": warehouse.tps})
    assert none_chosen.status_code == 422


def test_reprint_keeps_the_serial_and_counts_each_copy(warehouse: Warehouse) -> None:
    box = warehouse.issue(warehouse.tps, ["KOTAK"])[0]
    client = warehouse.client("gudang")
    one = client.post(
        PRINT,
        data={"seri": labels.format_serial(box.serial).lower(), "tata_letak": "thermal-100x50"},
    )
    job = wait_for_job(client, one.location)
    assert job["state"] == "done" and job["count"] == 1
    pdf = client.get(job["download_url"]).data
    assert labels.decode(qr_texts(pdf, dpi=300)[0], warehouse.keyring).serial == box.serial
    region = client.post(
        PRINT, data={"wilayah": warehouse.tps, "jenis": ["KOTAK"], "mode": "ulang"}
    )
    assert wait_for_job(client, region.location)["count"] == 2
    db.session.expire_all()
    boxes = {i.serial: i.reprint_count for i in warehouse.items(warehouse.tps, "KOTAK")}
    assert boxes[box.serial] == 2 and sorted(boxes.values()) == [1, 2]
    logs = db.session.scalars(
        select(LabelLog).where(LabelLog.serial == box.serial).order_by(LabelLog.at)
    ).all()
    assert [log.action for log in logs] == [
        LabelAction.ISSUE,
        LabelAction.REPRINT,
        LabelAction.REPRINT,
    ]
    history = client.get("/gudang/seri", query_string={"serial": box.serial})
    text = history.get_data(as_text=True)
    assert "dicetak ulang" in text and "2 ×" in text and "Petugas Gudang" in text


def test_void_is_for_good_and_later_scans_are_rejected(warehouse: Warehouse) -> None:
    box = warehouse.issue(warehouse.tps, ["KOTAK"])[0]
    client = warehouse.client("gudang")
    url = f"/gudang/seri/{box.serial}/batal"
    assert client.post(url, data={"alasan": "  "}).status_code == 422
    voided = client.post(url, data={"alasan": "Label tergores, QR tidak terbaca"})
    assert voided.status_code == 303
    db.session.expire_all()
    assert box.voided_at is not None
    page = client.get(voided.location).get_data(as_text=True)
    assert "dibatalkan" in page and "QR tidak terbaca" in page
    assert client.post(url, data={"alasan": "lagi"}).status_code == 409
    reprint = client.post(PRINT, data={"seri": box.serial})
    job = wait_for_job(client, reprint.location)
    assert job["state"] == "failed" and "sudah dibatalkan" in job["message"]

    plain, _ = auth.create_token(db.session, auth.find_user(db.session, "gudang"), "HP gudang")
    scan = {
        "event_id": "5d3d1f0e-8a4c-4f51-9a55-2f1f3c1e0a01",
        "device_seq": 1,
        "device_time": "2024-11-25T23:00:00Z",
        "label": warehouse.label(box),
        "action": "kirim",
        "node": "62.10",
        "target": "62.10.02",
    }
    answer = warehouse.app.test_client().post(
        "/api/v1/scans",
        json={"device_id": "hp-gudang", "events": [scan]},
        headers={"Authorization": f"Bearer {plain}"},
    )
    result = answer.get_json()["results"][0]
    assert (result["status"], result["code"]) == ("rejected", "voided_label")


def test_void_with_a_replacement_prints_a_new_serial_for_the_same_unit(
    warehouse: Warehouse,
) -> None:
    box = warehouse.issue(warehouse.tps, ["KOTAK"])[0]
    client = warehouse.client("gudang")
    done = client.post(
        f"/gudang/seri/{box.serial}/batal",
        data={"alasan": "hilang", "pengganti": "1", "tata_letak": "thermal-100x50"},
    )
    job = wait_for_job(client, done.location)
    assert job["state"] == "done" and job["count"] == 1
    fresh = labels.decode(
        qr_texts(client.get(job["download_url"]).data, dpi=300)[0], warehouse.keyring
    )
    replacement = db.session.get(Item, fresh.serial)
    assert fresh.serial != box.serial and replacement.voided_at is None
    assert (replacement.item_type_code, replacement.race_kind, replacement.destination) == (
        box.item_type_code,
        box.race_kind,
        box.destination,
    )
    note = db.session.scalar(select(LabelLog.note).where(LabelLog.serial == fresh.serial))
    assert note == f"pengganti {labels.format_serial(box.serial)}"
    assert (
        warehouse.issue(warehouse.tps, ["KOTAK"])
        and len(warehouse.items(warehouse.tps, "KOTAK")) == 3
    )  # nothing more was issued


def test_kit_packing_ticks_off_the_planned_contents(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps)
    warehouse.issue(warehouse.other_tps, ["KOTAK", "KIT"])
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    client = warehouse.client("gudang")
    page = client.get("/gudang/kemas", query_string={"paket": warehouse.label(kit)})
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "js/gudang-kemas.js" in html
    contents = [i for i in warehouse.items(warehouse.tps) if i.item_type_code != "KIT"]
    assert f"/ {len(contents)} " in html and labels.format_serial(contents[0].serial) in html

    def scan(text: str) -> dict:
        response = client.post("/gudang/kemas", json={"paket": kit.serial, "label": text})
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    first = scan(warehouse.label(contents[0]))
    assert first["status"] == "accepted" and first["problems"] == []
    assert first["kit"]["packed"] == 1 and first["kit"]["total"] == len(contents)
    typed = scan(labels.format_serial(contents[1].serial).lower())  # a serial typed by hand
    assert typed["status"] == "accepted" and typed["kit"]["packed"] == 2
    ticked = {line["serial"] for line in typed["kit"]["lines"] if line["packed"]}
    assert ticked == {contents[0].serial, contents[1].serial}
    assert scan(warehouse.label(contents[0]))["status"] == "already"

    stranger = warehouse.items(warehouse.other_tps, "KOTAK")[0]
    wrong = scan(warehouse.label(stranger))
    assert wrong["status"] == "accepted" and "bukan untuk" in wrong["problems"][0]
    assert [line["serial"] for line in wrong["kit"]["extra"]] == [stranger.serial]
    assert wrong["kit"]["packed"] == 2 and not wrong["kit"]["complete"]
    other_kit = scan(warehouse.label(warehouse.items(warehouse.other_tps, "KIT")[0]))
    assert other_kit["status"] == "refused" and "paket lain" in other_kit["message"]
    forged = scan(warehouse.label(contents[2])[:-6] + "AAAAAA")
    assert forged["status"] == "rejected"

    events = db.session.scalars(select(CustodyEvent).where(CustodyEvent.action == "kemas")).all()
    assert {e.serial for e in events} == {contents[0].serial, contents[1].serial, stranger.serial}
    assert {e.container for e in events} == {kit.serial}

    # Without the script: the form posts and the page comes back with the message.
    posted = client.post(
        "/gudang/kemas", data={"paket": kit.serial, "label": warehouse.label(contents[2])}
    )
    assert posted.status_code == 303
    back = client.get(posted.location).get_data(as_text=True)
    assert "Masuk paket." in back and "keluarkan" in back


def test_dispatch_list_shows_legs_kits_and_the_handover_forms(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps)
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    leg = db.session.scalar(
        select(RouteLeg).where(RouteLeg.from_node == "62.10", RouteLeg.to_node == "62.10.02")
    )
    client = warehouse.client("gudang")
    page = client.get("/gudang/kirim")  # the app stands on H-1 morning: Kurun leaves today
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "PPK Kurun" in html
    assert labels.format_serial(kit.serial) in html and "di gudang" in html
    assert "/gudang/kirim/62.10/62.10.02/bast.pdf" in html
    assert f"/gudang/kemas/{warehouse.tps}/daftar.pdf" in html
    h2 = client.get("/gudang/kirim", query_string={"tanggal": "2024-11-25"})
    assert "PPK Tewah" in h2.get_data(as_text=True) and "PPK Kurun" not in h2.get_data(as_text=True)
    assert date(2024, 11, 26) == leg.deadline_at.date()

    bast = client.get("/gudang/kirim/62.10/62.10.02/bast.pdf")
    assert bast.status_code == 200 and bast.mimetype == "application/pdf"
    text = pdf_text(bast.data)
    assert "BERITA ACARA SERAH TERIMA" in text and "PPK Kurun (62.10.02)" in text
    assert "WIB" in text and "PIHAK KEDUA" in text and "SAKSI" in text
    manifest = client.get(f"/gudang/kemas/{warehouse.tps}/daftar.pdf")
    assert manifest.status_code == 200
    assert labels.decode(qr_texts(manifest.data)[0], warehouse.keyring).serial == kit.serial

    # Once the kit leaves, the list says so.
    from app.clock import now
    from app.custody.service import Ingestor
    from app.plan.views import current_election

    Ingestor(
        db.session,
        user=auth.find_user(db.session, "gudang"),
        token=None,
        device_id="hp-uji",
        keyring=warehouse.keyring,
        now=now,
        election=current_election(),
    ).ingest(
        [
            {
                "event_id": "9b7c7f3e-1d1c-4a8e-8f7e-3f2d1c0b0a09",
                "device_seq": 1,
                "device_time": now().isoformat(),
                "label": warehouse.label(kit),
                "action": "kirim",
                "node": "62.10",
                "target": "62.10.02",
            }
        ]
    )
    assert "dalam perjalanan" in client.get("/gudang/kirim").get_data(as_text=True)


@pytest.mark.parametrize("path", [PRINT, "/gudang/kirim", "/gudang/seri"])
def test_roles_without_the_ability_are_refused(warehouse: Warehouse, path: str) -> None:
    assert warehouse.client("desk").get(path).status_code == 403
    assert warehouse.client("kurir.kurun").get(path).status_code == 403


def test_desk_cannot_print_and_a_courier_may_only_pack(warehouse: Warehouse) -> None:
    desk = warehouse.client("desk")
    assert desk.post(PRINT, data={"wilayah": warehouse.tps, "jenis": ["KOTAK"]}).status_code == 403
    assert warehouse.items(warehouse.tps) == []
    assert desk.get("/gudang/kemas").status_code == 403
    assert warehouse.client("kurir.kurun").get("/gudang/kemas").status_code == 200


def test_gudang_of_another_kabupaten_sees_nothing_of_this_one(warehouse: Warehouse) -> None:
    warehouse.issue(warehouse.tps, ["KOTAK", "KIT"])
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    auth.create_user(db.session, "gudang.katingan", "rahasia-uji-1", "gudang", "62.06")
    outsider = warehouse.client("gudang.katingan")
    assert outsider.get(PRINT).status_code == 200  # their own page works
    assert outsider.post(PRINT, data={"wilayah": "62.10.02", "jenis": ["KOTAK"]}).status_code == 404
    assert outsider.post(PRINT, data={"seri": box.serial}).status_code == 404
    assert outsider.get("/gudang/seri", query_string={"serial": box.serial}).status_code == 404
    assert (
        outsider.post(f"/gudang/seri/{box.serial}/batal", data={"alasan": "iseng"}).status_code
        == 404
    )
    assert outsider.get("/gudang/kemas", query_string={"paket": kit.serial}).status_code == 404
    assert (
        outsider.post("/gudang/kemas", json={"paket": kit.serial, "label": box.serial}).status_code
        == 404
    )
    assert outsider.get(f"/gudang/kemas/{warehouse.tps}/daftar.pdf").status_code == 404
    assert outsider.get("/gudang/kirim/62.10/62.10.02/bast.pdf").status_code == 404
    assert "PPK Kurun" not in outsider.get(
        "/gudang/kirim", query_string={"tanggal": "2024-11-26"}
    ).get_data(as_text=True)
    db.session.expire_all()
    assert box.voided_at is None

    # A gudang user scoped to one kecamatan sees only its legs; nobody sees others' jobs.
    mine = warehouse.client("gudang").post(PRINT, data={"seri": box.serial})
    assert warehouse.client("admin").get(mine.location).status_code == 404
    auth.create_user(db.session, "gudang.tewah", "rahasia-uji-1", "gudang", "62.10.03")
    tewah = warehouse.client("gudang.tewah")
    assert tewah.get("/gudang/kirim/62.10/62.10.02/bast.pdf").status_code == 404
    assert tewah.get("/gudang/kirim/62.10/62.10.03/bast.pdf").status_code == 200
    assert jobs.JOB_ID.match(mine.location.rsplit("/", 1)[-1])
