"""Any region, not just the demo: elections and races from the command line, and imports
that refuse a kabupaten without a race and report (or remove) TPS no longer in the file."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.plan.models import CustodyNode, PlanLine, Tps

#: The shared region codes beside the repository (as in CI: ``../shared``).
WILAYAH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wilayah.csv"
KUPANG = "53.71"  # Kota Kupang, Nusa Tenggara Timur (WITA)


def run(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def tps_file(tmp_path: Path, name: str, rows: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("kode desa,nomor tps,dpt,dptb\n" + "\n".join(rows) + "\n")
    return path


def load_kupang(app: Flask) -> None:
    source = WILAYAH
    result = run(app, "regions", "load", str(source), "--prefix", KUPANG)
    assert result.exit_code == 0, result.output


def test_an_election_for_kota_kupang_from_the_command_line(app: Flask, tmp_path: Path) -> None:
    load_kupang(app)
    created = run(
        app,
        "elections",
        "create",
        "pilwako-kupang",
        "--name",
        "Pilkada Kupang",
        "--day",
        "2024-11-27",
    )
    assert created.exit_code == 0, created.output
    again = run(app, "elections", "create", "pilwako-kupang", "--name", "X", "--day", "2024-11-27")
    assert again.exit_code == 1 and "sudah ada" in again.output

    rows = [f"53.71.01.1001,{n},300,2" for n in (1, 2, 3)]
    path = tps_file(tmp_path, "kupang.csv", rows)
    refused = run(
        app, "plan", "import", str(path), "--election", "pilwako-kupang", "--kabupaten", KUPANG
    )
    assert refused.exit_code == 1
    assert "tidak punya pemilihan" in refused.output and "WAL:53.71" in refused.output
    with app.app_context():
        assert db.session.scalar(select(Tps.id).where(Tps.id.like("5371%"))) is None

    wrong = run(app, "elections", "races", "pilwako-kupang", "--add", f"BUP:{KUPANG}")
    assert wrong.exit_code == 1 and "gunakan WAL" in wrong.output
    races = run(
        app, "elections", "races", "pilwako-kupang", "--add", "GUB:53", "--add", f"WAL:{KUPANG}"
    )
    assert races.exit_code == 0, races.output
    assert "GUB  53" in races.output and "Wali Kota Kupang" in races.output

    imported = run(
        app, "plan", "import", str(path), "--election", "pilwako-kupang", "--kabupaten", KUPANG
    )
    assert imported.exit_code == 0, imported.output
    with app.app_context():
        lines = db.session.scalars(
            select(PlanLine).where(
                PlanLine.election_code == "pilwako-kupang", PlanLine.item_type_code == "SURAT"
            )
        ).all()
        # 302 voters + 2.5 % of 300 rounded up = 310 sheets per race per TPS, two races.
        per_tps = {(ln.destination, ln.race_kind): ln.quantity for ln in lines}
        assert per_tps[("5371011001001", "WAL")] == 310
        assert per_tps[("5371011001001", "GUB")] == 310

    shorter = tps_file(tmp_path, "kupang2.csv", rows[:2])
    reported = run(
        app, "plan", "import", str(shorter), "--election", "pilwako-kupang", "--kabupaten", KUPANG
    )
    assert reported.exit_code == 0
    assert "5371011001003" in reported.output and "--remove-missing" in reported.output
    removed = run(
        app,
        "plan",
        "import",
        str(shorter),
        "--election",
        "pilwako-kupang",
        "--kabupaten",
        KUPANG,
        "--remove-missing",
    )
    assert removed.exit_code == 0 and "Dihapus 1 TPS" in removed.output, removed.output
    with app.app_context():
        assert db.session.get(Tps, "5371011001003") is None
        assert db.session.get(CustodyNode, "5371011001003") is None
        assert not db.session.scalars(
            select(PlanLine).where(PlanLine.destination == "5371011001003")
        ).all()


def test_remove_missing_keeps_a_tps_whose_labels_are_printed(app: Flask, tmp_path: Path) -> None:
    from datetime import date

    from app.items import keys
    from app.items.service import issue_items

    load_kupang(app)
    assert run(app, "elections", "create", "k", "--name", "K", "--day", "2024-11-27").exit_code == 0
    assert run(app, "elections", "races", "k", "--add", f"WAL:{KUPANG}").exit_code == 0
    rows = [f"53.71.01.1001,{n},300,2" for n in (1, 2, 3)]
    path = tps_file(tmp_path, "all.csv", rows)
    assert (
        run(app, "plan", "import", str(path), "--election", "k", "--kabupaten", KUPANG).exit_code
        == 0
    )
    with app.app_context():
        key_dir = app.config["TEPAT_KEY_DIR"]
        keys.create_key(key_dir, date(2024, 11, 1))
        issue_items(db.session, "k", "5371011001003", ["KOTAK"], keys.load_signer(key_dir), None)
    shorter = tps_file(tmp_path, "two.csv", rows[:2])
    kept = run(
        app,
        "plan",
        "import",
        str(shorter),
        "--election",
        "k",
        "--kabupaten",
        KUPANG,
        "--remove-missing",
    )
    assert kept.exit_code == 0
    assert "tetap disimpan" in kept.output and "5371011001003" in kept.output
    with app.app_context():
        assert db.session.get(Tps, "5371011001003") is not None
