"""Labels printed in their https form: a phone camera opens the item page."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import pytest
import zxingcpp
from flask import Flask
from sqlalchemy import select

import labels
from app.items import keys
from app.items.models import Item
from app.items.service import label_text
from tests.items.conftest import Warehouse

pytestmark = pytest.mark.db


def test_cli_prints_https_labels_that_verify_and_open_the_item(
    demo_app: Flask, tmp_path: Path
) -> None:
    keys.create_key(demo_app.config["TEPAT_KEY_DIR"], __import__("datetime").date(2024, 11, 1))
    out = tmp_path / "link.pdf"
    result = demo_app.test_cli_runner().invoke(
        args=[
            "labels",
            "print",
            "--region",
            "6210031005001",
            "--types",
            "KOTAK",
            "--layout",
            "thermal-100x50",
            "--link",
            "-o",
            str(out),
        ]
    )
    assert result.exit_code == 0, result.output
    page = pypdfium2.PdfDocument(str(out))[0]
    image = page.render(scale=300 / 72).to_pil()
    [code] = zxingcpp.read_barcodes(image)
    assert code.text.startswith("HTTPS://TEPAT.LOCAL/L/")
    keyring = keys.load_keyring(demo_app.config["TEPAT_KEY_DIR"])
    payload = labels.decode(code.text, keyring)
    assert payload.item_type == "KOTAK" and payload.destination == "6210031005001"
    client = demo_app.test_client()
    from tests.conftest import login

    login(client, "desk")
    response = client.get(code.text[code.text.index("/L/") :])
    assert response.status_code == 302 and payload.serial in response.headers["Location"]


def test_a_link_label_naming_another_site_is_accepted_but_flagged(warehouse: Warehouse) -> None:
    """The host is outside the signature: the scan stands, the desk hears of the odd label."""
    from app.auth import service as auth
    from app.custody.models import FindingRow
    from app.extensions import db

    box, other = warehouse.issue(warehouse.tps, ["KOTAK"])[:2]
    expected = warehouse.app.config["TEPAT_LABEL_BASE_URL"]
    page = warehouse.client("gudang").get("/gudang/label").get_data(as_text=True)
    assert f"{expected.upper()}/L/" in page  # the print page says which site links name
    plain, _ = auth.create_token(db.session, auth.find_user(db.session, "gudang"), "HP gudang")

    def scan(item: Item, base: str, seq: int) -> dict:
        event = {
            "event_id": f"5d3d1f0e-8a4c-4f51-9a55-2f1f3c1e0a0{seq}",
            "device_seq": seq,
            "device_time": "2024-11-25T22:00:00Z",
            "label": label_text(item, warehouse.signer, base),
            "action": "terima",
            "node": "62.10",
        }
        answer = warehouse.app.test_client().post(
            "/api/v1/scans",
            json={"device_id": "hp-gudang", "events": [event]},
            headers={"Authorization": f"Bearer {plain}"},
        )
        return answer.get_json()["results"][0]

    assert scan(box, expected, 1)["status"] == "accepted"
    assert (
        db.session.scalar(select(FindingRow).where(FindingRow.code == "label_other_host")) is None
    )
    assert scan(other, "https://tepat-palsu.example", 2)["status"] == "accepted"
    flagged = db.session.scalar(select(FindingRow).where(FindingRow.code == "label_other_host"))
    assert flagged is not None and flagged.serial == other.serial
    assert "tepat-palsu.example" in flagged.message and expected.lower() in flagged.message
