"""The photo fallback: a courier's browser without BarcodeDetector sends a photo of the label."""

from __future__ import annotations

import io
from typing import Any

import pytest

from tests.desk.conftest import World
from tests.desk.scenario import qr_png

pytestmark = pytest.mark.db
JSON = {"Accept": "application/json"}


def send(world: World, data: bytes, username: str = "kurir.tewah", name: str = "foto.png") -> Any:
    """POST a photo to /kurir/foto as the page does."""
    return world.client(username).post(
        "/kurir/foto",
        headers=JSON,
        data={"foto": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_the_server_reads_the_label_in_a_photo(world: World) -> None:
    label = world.story.label(world.story.misdelivered)
    response = send(world, qr_png(label))
    assert response.status_code == 200
    assert response.get_json() == {"texts": [label], "message": ""}


def test_a_photo_without_a_code_says_what_to_do(world: World) -> None:
    from PIL import Image

    blank = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(blank, format="JPEG")
    body = send(world, blank.getvalue(), name="foto.jpg").get_json()
    assert body["texts"] == [] and "Tidak ada kode QR" in body["message"]


def test_a_file_that_is_not_an_image_is_a_400_in_plain_words(world: World) -> None:
    response = send(world, b"%PDF-1.7 not a photo", name="surat.pdf")
    assert response.status_code == 400
    assert "bukan gambar" in response.get_json()["message"]
    missing = world.client("kurir.tewah").post("/kurir/foto", headers=JSON, data={})
    assert missing.status_code == 400 and "foto" in missing.get_json()["message"]


def test_a_photo_over_the_limit_is_a_413(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(world.app.config, "TEPAT_PHOTO_MAX_BYTES", 4096)
    response = send(world, qr_png("x" * 200) + b"\0" * 8192)
    assert response.status_code == 413
    assert "Foto terlalu besar" in response.get_json()["message"]


def test_observers_cannot_send_photos(world: World) -> None:
    assert send(world, qr_png("x"), username="bawaslu").status_code == 403


def test_photos_are_decoded_off_the_request_thread_with_a_budget(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    import scanner

    calls: list[tuple[str, float | None]] = []
    real = scanner.decode

    def spy(image: Any, budget_ms: float | None = None) -> Any:
        calls.append((threading.current_thread().name, budget_ms))
        return real(image, budget_ms)

    monkeypatch.setattr(scanner, "decode", spy)
    monkeypatch.setitem(world.app.config, "TEPAT_PHOTO_BUDGET_MS", 120)
    label = world.story.label(world.story.misdelivered)
    assert send(world, qr_png(label)).get_json()["texts"] == [label]
    [(thread, budget)] = calls
    assert thread.startswith("tepat-foto") and budget == 120


def test_a_photo_of_pure_noise_is_answered_quickly(world: World) -> None:
    import time

    import cv2
    import numpy as np

    noise = np.random.default_rng(14).integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    ok, jpeg = cv2.imencode(".jpg", noise, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    started = time.perf_counter()
    body = send(world, jpeg.tobytes(), name="foto.jpg").get_json()
    assert body["texts"] == [] and "Tidak ada kode QR" in body["message"]
    assert time.perf_counter() - started < 5  # the budget is 150 ms; generous for shared CI


def test_when_every_photo_worker_is_busy_the_courier_hears_503_at_once(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from app.custody.photo import PhotoDecoder

    decoder = PhotoDecoder(workers=1, waiting=0)
    monkeypatch.setitem(world.app.extensions, "tepat_photo_decoder", decoder)
    release = threading.Event()
    decoder.submit(release.wait, 10)
    try:
        response = send(world, qr_png("x"))
        assert response.status_code == 503
        assert "sedang membaca foto lain" in response.get_json()["message"]
    finally:
        release.set()
    label = world.story.label(world.story.misdelivered)
    for _ in range(50):  # the slot frees as soon as the blocking job ends
        response = send(world, qr_png(label))
        if response.status_code == 200:
            break
        release.wait(0.05)
    assert response.get_json()["texts"] == [label]
