"""Labels printed in their https form: a phone camera opens the item page."""

from __future__ import annotations

from pathlib import Path

import pypdfium2
import zxingcpp
from flask import Flask

import labels
from app.items import keys


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
