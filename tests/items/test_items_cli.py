"""``flask labels``: print with a progress bar, reprint, void, kit list and BAST from the shell."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

import labels
from app.extensions import db
from app.items.models import LabelAction, LabelLog
from tests.items.conftest import Warehouse, pdf_pages, pdf_text, qr_texts


def test_cli_prints_a_pdf_with_a_progress_bar(
    warehouse: Warehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("click._termui_impl.isatty", lambda _stream: True)  # draw the bar
    runner = warehouse.app.test_cli_runner()
    out = tmp_path / "kurun.pdf"
    args = [
        "labels",
        "print",
        "--region",
        warehouse.tps,
        "--types",
        "kotak,KIT",
        "--layout",
        "thermal-100x50",
        "-o",
        str(out),
    ]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    items = warehouse.items(warehouse.tps)
    assert {i.item_type_code for i in items} == {"KOTAK", "KIT"} and len(items) == 3
    assert "Mencetak 3 label" in result.output and "100%" in result.output
    assert "3/3" in result.output and "#" in result.output  # the bar itself
    assert "3 label baru diterbitkan" in result.output
    pdf = out.read_bytes()
    assert pdf_pages(pdf) == 3  # one thermal label per page
    printed = labels.decode(qr_texts(pdf, 0, dpi=300)[0], warehouse.keyring)
    assert printed.serial in {i.serial for i in items}
    assert all(i.issued_by is None for i in items)
    notes = db.session.scalars(select(LabelLog.note).where(LabelLog.action == LabelAction.ISSUE))
    assert set(notes) == {"CLI"}

    again = runner.invoke(args=args)
    assert again.exit_code == 1 and "sudah diterbitkan" in again.output
    reprint = runner.invoke(args=[*args, "--reprint"])
    assert reprint.exit_code == 0 and "3 label dicetak ulang" in reprint.output
    db.session.expire_all()
    assert [i.reprint_count for i in warehouse.items(warehouse.tps)] == [1, 1, 1]


def test_cli_voids_and_writes_the_kit_list_and_the_handover_form(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    runner = warehouse.app.test_cli_runner()
    warehouse.issue(warehouse.tps)
    box = warehouse.items(warehouse.tps, "KOTAK")[0]
    human = labels.format_serial(box.serial)
    missing_reason = runner.invoke(args=["labels", "void", human])
    assert missing_reason.exit_code == 2
    voided = runner.invoke(
        args=["labels", "void", human.lower(), "--reason", "label basah", "--oleh", "gudang"]
    )
    assert voided.exit_code == 0 and f"Label {human} dibatalkan" in voided.output
    db.session.expire_all()
    assert box.voided_at is not None and box.void_reason == "label basah"

    manifest = tmp_path / "daftar.pdf"
    result = runner.invoke(args=["labels", "manifest", warehouse.tps, "-o", str(manifest)])
    assert result.exit_code == 0, result.output
    text = pdf_text(manifest.read_bytes())
    assert "DAFTAR KELENGKAPAN LOGISTIK TPS" in text and human not in text  # voided: not packed
    kit = warehouse.items(warehouse.tps, "KIT")[0]
    assert labels.decode(qr_texts(manifest.read_bytes())[0], warehouse.keyring).serial == kit.serial

    bast = tmp_path / "bast.pdf"
    result = runner.invoke(args=["labels", "handover", "62.10", "62.10.02", "-o", str(bast)])
    assert result.exit_code == 0, result.output
    text = pdf_text(bast.read_bytes())
    assert "BERITA ACARA SERAH TERIMA LOGISTIK" in text and "PPK Kurun" in text
    assert "Surat suara" in text and "Paket logistik TPS" in text
    unknown = runner.invoke(args=["labels", "handover", "62.10", "62.10.02.2001"])
    assert unknown.exit_code == 1 and "Tidak ada rute" in unknown.output


@pytest.mark.parametrize(
    "command",
    [
        ["labels", "print", "--region", "{tps}", "-o", "{missing}/label.pdf"],
        ["labels", "manifest", "{tps}", "-o", "{missing}/daftar.pdf"],
        ["labels", "handover", "62.10", "62.10.02", "-o", "{missing}/bast.pdf"],
        ["keys", "export", "-o", "{missing}/kunci.json"],
    ],
    ids=["print", "manifest", "handover", "export"],
)
def test_cli_output_into_a_missing_folder_is_a_one_line_error_and_issues_nothing(
    warehouse: Warehouse, tmp_path: Path, command: list[str]
) -> None:
    """A typo in -o gives a clear message before any label is issued, never a traceback."""
    missing = tmp_path / "tidak-ada"
    args = [part.format(tps=warehouse.tps, missing=missing) for part in command]
    result = warehouse.app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 2, result.output
    assert f"folder {missing} tidak ada" in result.output
    assert isinstance(result.exception, SystemExit)  # click's error exit, not a crash
    assert warehouse.items(warehouse.tps) == []  # nothing issued for a PDF that cannot be written


def test_cli_mistakes_get_messages_not_tracebacks(warehouse: Warehouse, tmp_path: Path) -> None:
    runner = warehouse.app.test_cli_runner()
    folder = runner.invoke(args=["labels", "print", "--region", warehouse.tps, "-o", str(tmp_path)])
    assert folder.exit_code == 2 and "is a directory" in folder.output
    election = runner.invoke(
        args=["labels", "print", "--region", warehouse.tps, "--election", "pilkada-1999"]
    )
    assert election.exit_code == 1 and "pilkada-1999" in election.output
    assert isinstance(election.exception, SystemExit)
    unknown = runner.invoke(
        args=["labels", "void", "0000-0000-0000-0000", "--reason", "x", "--oleh", "gudang"]
    )
    assert unknown.exit_code == 1 and "tidak dikenal" in unknown.output
    (tmp_path / "bukan-folder").write_text("")
    key_dir = warehouse.app.config["TEPAT_KEY_DIR"]
    warehouse.app.config["TEPAT_KEY_DIR"] = str(tmp_path / "bukan-folder" / "kunci")
    try:
        rotate = runner.invoke(args=["keys", "init"])
    finally:
        warehouse.app.config["TEPAT_KEY_DIR"] = key_dir
    assert rotate.exit_code == 1 and "Folder kunci" in rotate.output
    assert isinstance(rotate.exception, SystemExit)


def test_a_link_base_a_qr_cannot_hold_is_refused_before_issuing(
    warehouse: Warehouse, tmp_path: Path
) -> None:
    warehouse.app.config["TEPAT_LABEL_BASE_URL"] = "https://tepat_kpu.local"
    args = ["labels", "print", "--region", warehouse.tps, "--link", "-o", str(tmp_path / "l.pdf")]
    result = warehouse.app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 1 and "TEPAT_LABEL_BASE_URL" in result.output
    assert warehouse.items(warehouse.tps) == []
