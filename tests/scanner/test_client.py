"""A courier session: debounce, verify offline, check the plan, queue, and say so."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest

from scanner import (
    CourierSession,
    Debouncer,
    ImageSource,
    KeyringError,
    KeyringVerifier,
    LineSource,
    Outbox,
    PlanSlice,
    ScanOptions,
    SourceError,
    VideoSource,
    open_source,
)
from tests.scanner import stress
from tests.scanner.labelkit import LabelKit

PLAN = PlanSlice.from_json(
    {
        "node": "62.10.05",
        "kind": "ppk",
        "destinations": ["6210052016001"],
        "allowed": [
            {"destination": "6210052016001", "item_type": "SURAT", "race": "GUB", "quantity": 420}
        ],
        "voided": [],
        "races": ["GUB", "BUP"],
    }
)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_same_label_within_the_window_is_one_scan_even_if_held_long() -> None:
    clock = Clock()
    debounce = Debouncer(3.0, clock)
    assert debounce.is_new("A")
    for _ in range(10):  # held in front of the camera for 10 s, seen every second
        clock.now += 1.0
        assert not debounce.is_new("A")
    assert debounce.is_new("B")
    clock.now += 3.5
    assert debounce.is_new("A")


@pytest.fixture
def kit() -> LabelKit:
    return LabelKit.create()


def session(
    tmp_path: Path, kit: LabelKit, keys: str | None = "own", **options: object
) -> CourierSession:
    keyring = kit.keys_json if keys == "own" else keys
    return CourierSession(
        Outbox(tmp_path / "o.sqlite3"),
        KeyringVerifier(keyring),
        ScanOptions(action="terima", node="62.10.05", **options),  # type: ignore[arg-type]
        PLAN,
        Debouncer(3.0, Clock()),
    )


def test_good_label_is_queued_and_ok(tmp_path: Path, kit: LabelKit) -> None:
    s = session(tmp_path, kit, quantity=420, seals=("S1",))
    outcome = s.see(kit.label())
    assert outcome is not None and outcome.ok and outcome.event is not None
    assert outcome.line().startswith("OK") and "antrean #1" in outcome.line()
    assert s.see(kit.label()) is not None  # another label: a new scan
    assert s.outbox.count() == 2 and s.outbox.pending()[0].seals == ("S1",)


def test_forged_label_is_flagged_at_once_and_still_recorded(tmp_path: Path, kit: LabelKit) -> None:
    forged = LabelKit.create().label()
    outcome = session(tmp_path, kit).see(forged)
    assert outcome is not None and outcome.has_error
    assert outcome.line().startswith("MASALAH") and "TIDAK SAH" in outcome.line()
    assert outcome.event is not None  # evidence for the server


def test_unknown_key_is_flagged(tmp_path: Path, kit: LabelKit) -> None:
    other = LabelKit.create(key_id="elsewhere-9").label()
    outcome = session(tmp_path, kit).see(other)
    assert outcome is not None and outcome.findings[0].code == "unknown_key"


def test_not_a_tepat_label_is_not_queued(tmp_path: Path, kit: LabelKit) -> None:
    s = session(tmp_path, kit)
    outcome = s.see("https://shop.example/product/123")
    assert outcome is not None and outcome.has_error and outcome.event is None
    binary = s.see(b"\xff\x00")
    assert binary is not None and binary.findings[0].code == "binary_payload"
    assert s.outbox.count() == 0


def test_without_keys_labels_are_queued_with_a_warning(tmp_path: Path, kit: LabelKit) -> None:
    outcome = session(tmp_path, kit, keys=None).see(kit.label())
    assert outcome is not None and not outcome.has_error
    assert outcome.line().startswith("PERIKSA") and outcome.event is not None


def test_counted_quantity_differs_from_label(tmp_path: Path, kit: LabelKit) -> None:
    outcome = session(tmp_path, kit, quantity=301).see(kit.label(quantity=420))
    assert outcome is not None and [f.code for f in outcome.findings] == ["count_mismatch"]


def test_broken_key_file_is_a_keyring_error() -> None:
    with pytest.raises(KeyringError):
        KeyringVerifier('{"keys": [{"key_id": "x"}]}')


def test_image_folder_source_yields_frames_in_name_order(tmp_path: Path) -> None:
    for name in ("b.png", "a.jpg", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    image = np.full((64, 64, 3), 255, np.uint8)
    cv2.imwrite(str(tmp_path / "a.jpg"), image)
    cv2.imwrite(str(tmp_path / "b.png"), image)
    frames = list(open_source(f"images:{tmp_path}").frames())
    assert [Path(f.origin).name for f in frames] == ["a.jpg", "b.png"]
    assert all(f.image is not None and f.image.shape == (64, 64, 3) for f in frames)
    with pytest.raises(SourceError):
        ImageSource([tmp_path / "missing"])


def test_line_source_reads_a_barcode_gun() -> None:
    frames = list(LineSource(io.StringIO("TP1:AAA\r\n\nTP1:BBB\n")).frames())
    assert [f.text for f in frames] == ["TP1:AAA", "TP1:BBB"]


def test_video_source_reads_every_frame(tmp_path: Path) -> None:
    path = tmp_path / "clip.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1280, 720))
    frame = stress.render_frame("clean", 0, ["TP1:VIDEO"])
    for _ in range(3):
        writer.write(frame)
    writer.release()
    source = VideoSource(path)
    frames = list(source.frames())
    source.close()
    assert len(frames) == 3 and frames[0].image is not None
    with pytest.raises(SourceError):
        VideoSource(tmp_path / "none.avi")
