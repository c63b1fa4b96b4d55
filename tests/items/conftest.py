"""Fixtures for the warehouse pages: the demo with a signing key, signed-in clients, helpers."""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pypdfium2 as pdfium
import pytest
import zxingcpp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

import labels
from app.auth import service as auth
from app.extensions import db
from app.items import keys
from app.items.models import Item
from app.items.service import issue_items, label_text
from app.plan.models import Tps
from tests.web.helpers import FreshContextClient, sign_in

ELECTION = "pilkada-2024"
#: The app stands on H-1 morning, before the near-capital legs leave.
NOW = datetime(2024, 11, 26, 0, 0, tzinfo=UTC)


@dataclass
class Warehouse:
    """The demo with a key, two TPS in Kurun (62.10.02), and a way to sign in anyone."""

    app: Flask
    signer: labels.Signer
    keyring: labels.Keyring
    tps: str
    other_tps: str

    def client(self, username: str) -> FlaskClient:
        """A client signed in as a demo (or test-made) user."""
        return sign_in(self.app.test_client(), auth.find_user(db.session, username).id)

    def issue(self, region: str, types: list[str] | None = None) -> list[Item]:
        """Issue a region's labels through the service (as the CLI user)."""
        return issue_items(db.session, ELECTION, region, types, self.signer, None).items

    def items(self, tps: str, item_type: str | None = None) -> list[Item]:
        """The items of a TPS, optionally of one type."""
        query = select(Item).where(Item.destination == tps).order_by(Item.serial)
        if item_type:
            query = query.where(Item.item_type_code == item_type)
        return list(db.session.scalars(query))

    def label(self, item: Item) -> str:
        """The QR text of an item."""
        return label_text(item, self.signer)


@pytest.fixture
def warehouse(demo_app: Flask, tmp_path: Path) -> Warehouse:
    """Gunung Mas with a signing key, jobs in a temporary folder and a fixed clock."""
    demo_app.test_client_class = FreshContextClient
    demo_app.config["TEPAT_JOB_DIR"] = str(tmp_path / "jobs")
    demo_app.config["TEPAT_NOW"] = NOW.isoformat()
    key_dir = demo_app.config["TEPAT_KEY_DIR"]
    keys.create_key(key_dir, date(2024, 11, 1))
    kurun = list(db.session.scalars(select(Tps.id).where(Tps.id.like("621002%")).order_by(Tps.id)))
    return Warehouse(
        demo_app, keys.load_signer(key_dir), keys.load_keyring(key_dir), kurun[0], kurun[1]
    )


def wait_for_job(client: FlaskClient, location: str, timeout: float = 20.0) -> dict[str, Any]:
    """Poll a print job's JSON, as the page's script does, until it stops running."""
    deadline = time.monotonic() + timeout
    while True:
        job = client.get(location, headers={"Accept": "application/json"}).get_json()
        if job["state"] not in ("queued", "running") or time.monotonic() > deadline:
            return job
        time.sleep(0.05)


def qr_texts(pdf: bytes, page: int = 0, dpi: int = 200) -> list[str]:
    """The QR codes read back from one rasterised page of a PDF."""
    document = pdfium.PdfDocument(pdf)
    try:
        bitmap = document[page].render(scale=dpi / 72, grayscale=True)
        image = np.ascontiguousarray(bitmap.to_numpy()).reshape(bitmap.height, bitmap.width)
        return [
            code.text
            for code in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
        ]
    finally:
        document.close()


def pdf_pages(pdf: bytes) -> int:
    """The number of pages of a PDF."""
    document = pdfium.PdfDocument(pdf)
    try:
        return len(document)
    finally:
        document.close()


def pdf_text(pdf: bytes) -> str:
    """All the text of a PDF."""
    document = pdfium.PdfDocument(io.BytesIO(pdf))
    try:
        return "\n".join(
            document[i].get_textpage().get_text_bounded() for i in range(len(document))
        )
    finally:
        document.close()
