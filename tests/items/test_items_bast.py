"""The BAST: the real handover time, both people, counts, seals, and a QR back to the log."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest

import labels
from app.auth import service as auth
from app.clock import now
from app.custody.service import Ingestor
from app.extensions import db
from app.items.models import Item
from app.plan.views import current_election
from tests.items.conftest import Warehouse, pdf_text, qr_texts

pytestmark = pytest.mark.db

#: The receipt at PPK Kurun: 06.40 WIB on H-1 (the app's clock stands at 07.00).
RECEIVED_AT = datetime(2024, 11, 25, 23, 40, tzinfo=UTC)


def ingest(warehouse: Warehouse, username: str, events: list[dict[str, Any]]) -> list[Any]:
    """Scans through the same service the API uses, one device per user."""
    results = Ingestor(
        db.session,
        user=auth.find_user(db.session, username),
        token=None,
        device_id=f"hp-{username}",
        keyring=warehouse.keyring,
        now=now,
        election=current_election(),
    ).ingest(
        [
            {"event_id": str(uuid.uuid4()), "device_seq": seq, **event}
            for seq, event in enumerate(events, start=1)
        ]
    )
    return [r.to_dict() for r in results]


def pack_and_hand_over(warehouse: Warehouse, void: Item | None = None) -> tuple[Item, list[Item]]:
    """Pack every item of the TPS into its kit, send it to PPK Kurun, receive it there
    (voiding ``void``'s label, or the first box's when given, after packing)."""
    warehouse.issue(warehouse.tps)
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    contents = [i for i in warehouse.items(warehouse.tps) if i.item_type_code != "KIT"]
    packed = ingest(
        warehouse,
        "gudang",
        [
            {
                "device_time": "2024-11-25T22:00:00Z",
                "label": warehouse.label(item),
                "container": warehouse.label(kit),
                "action": "kemas",
                "node": "62.10",
            }
            for item in contents
        ],
    )
    assert {r["status"] for r in packed} == {"accepted"}, packed
    if void is not None:
        from app.items.service import void_item

        void_item(db.session, void, auth.find_user(db.session, "gudang").id, "label basah")
    dispatched = ingest(
        warehouse,
        "gudang",
        [
            {
                "device_time": "2024-11-25T23:00:00Z",
                "label": warehouse.label(kit),
                "action": "kirim",
                "node": "62.10",
                "target": "62.10.02",
                "seals": ["KPU-0001", "KPU-0002"],
            }
        ],
    )
    assert dispatched[0]["status"] == "accepted", dispatched
    received = ingest(
        warehouse,
        "kurir.kurun",
        [
            {
                "device_time": RECEIVED_AT.isoformat(),
                "label": warehouse.label(kit),
                "action": "terima",
                "node": "62.10.02",
                "condition": "baik",
                "seals": ["KPU-0001", "KPU-0002"],
            }
        ],
    )
    assert received[0]["status"] == "accepted", received
    return kit, contents


def pdf_page_texts(pdf: bytes) -> list[str]:
    document = pdfium.PdfDocument(pdf)
    try:
        return [page.get_textpage().get_text_bounded() for page in document]
    finally:
        document.close()


def bast(warehouse: Warehouse, tmp_path: Path) -> bytes:
    out = tmp_path / "bast.pdf"
    result = warehouse.app.test_cli_runner().invoke(
        args=["labels", "handover", "62.10", "62.10.02", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    return out.read_bytes()


def test_bast_printed_before_the_handover_leaves_the_time_and_names_to_fill_in(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    """Never the deadline as the handover time: both parties would sign a false time."""
    text = pdf_text(bast(warehouse, tmp_path))
    assert "Pada hari ini ................ tanggal" in text and "pukul ........ WIB" in text
    assert "Batas waktu serah terima: Selasa, 26 November 2024" in text  # only as the deadline
    assert "Pada hari ini Selasa" not in text
    assert "1. Nama: ......" in text and "2. Nama: ......" in text


def test_bast_after_the_handover_carries_the_recorded_time_people_counts_and_seals(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    kit, contents = pack_and_hand_over(warehouse)
    pdf = bast(warehouse, tmp_path)
    text = pdf_text(pdf)
    assert "Pada hari ini Selasa, 26 November 2024 pukul 06.40 WIB" in text
    sender = auth.find_user(db.session, "gudang").full_name
    receiver = auth.find_user(db.session, "kurir.kurun").full_name
    assert f"1. Nama: {sender}" in text and f"2. Nama: {receiver}" in text
    assert f"({sender})" in text and f"({receiver})" in text  # under the signatures
    assert "KPU-0001, KPU-0002" in text and "Baik" in text
    boxes = [i for i in contents if i.item_type_code == "KOTAK"]
    assert f"{len(boxes)} buah" in text
    ballots = sum(
        i.quantity for i in contents if i.item_type_code == "SURAT" and i.race_kind == "GUB"
    )
    assert labels.format_serial(kit.serial) not in text  # counts, not a list of serials
    from app.items.documents import thousands

    assert f"{thousands(ballots)} lembar" in text
    # The signed page shows the table (its last rows) too.
    last = pdf_page_texts(pdf)[-1]
    assert "Yang Menerima" in last and "Jenis Logistik" in last and "Segel dan kabel" in last

    (link,) = qr_texts(pdf, 0, dpi=300)
    base = warehouse.app.config["TEPAT_LABEL_BASE_URL"].upper()
    assert link == f"{base}/BAST/62.10/62.10.02"
    page = warehouse.client("desk").get(link.removeprefix(base))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "06.40 WIB" in html
    assert sender in html and receiver in html and labels.format_serial(kit.serial) in html
    assert warehouse.app.test_client().get(link.removeprefix(base)).status_code in (302, 401)
    auth.create_user(db.session, "desk.katingan", "rahasia-uji-1", "desk", "62.06")
    assert warehouse.client("desk.katingan").get("/BAST/62.10/62.10.02").status_code == 404
    assert warehouse.client("desk").get("/BAST/62.10/62.10.09.2001").status_code == 404


def test_a_voided_label_in_the_kit_is_named_on_the_bast_and_not_counted(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    warehouse.issue(warehouse.tps)
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    pack_and_hand_over(warehouse, void=box)
    text = pdf_text(bast(warehouse, tmp_path))
    assert "Label yang sudah dibatalkan ikut terbawa dan tidak dihitung" in text
    assert labels.format_serial(box.serial) in text
    race = "Gubernur" if box.race_kind == "GUB" else "Bupati"
    assert re.search(rf"Kotak suara {race} 52 buah 0 buah", text), text


def test_a_base_url_a_qr_cannot_hold_prints_the_form_without_its_qr() -> None:
    from app.items.documents import handover_link

    assert handover_link("https://tepat.kpu.go.id/", "62.10", "62.10.02") == (
        "HTTPS://TEPAT.KPU.GO.ID/BAST/62.10/62.10.02"
    )
    assert handover_link("https://tepat_kpu.local", "62.10", "62.10.02") is None
