"""The flask commands of the foundation: regions, plan import/export, users, tokens, keys."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from openpyxl import load_workbook

from app.auth.models import DeviceToken
from app.extensions import db


def run(app: Flask, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args), input=input)


def test_regions_load_a_wilayah_file(app: Flask, tmp_path: Path) -> None:
    source = tmp_path / "wilayah.csv"
    source.write_text(
        "kode,nama\n62,Kalimantan Tengah\n62.10,Kabupaten Gunung Mas\n"
        "62.10.01,Sepang\n62.10.01.2002,Sepang Kota\nbukan,kode\n"
    )
    result = run(app, "regions", "load", str(source))
    assert result.exit_code == 0, result.output
    assert "4 wilayah" in result.output


def test_plan_import_and_export_from_the_cli(demo_app: Flask, tmp_path: Path) -> None:
    bad = tmp_path / "tps.csv"
    bad.write_text("kode desa,nomor tps,dpt,dptb\n62.10.03.2003,1,900,0\n")
    result = run(demo_app, "plan", "import", str(bad), "--kabupaten", "62.10")
    assert result.exit_code == 1
    assert "baris 2, kolom dpt" in result.output
    good = tmp_path / "ok.csv"
    good.write_text("kode desa,nomor tps,dpt,dptb\n62.10.03.2003,1,420,3\n")
    result = run(demo_app, "plan", "import", str(good), "--kabupaten", "62.10")
    assert result.exit_code == 0 and "diperbarui 1" in result.output
    out = tmp_path / "desa.xlsx"
    result = run(
        demo_app,
        "plan",
        "export",
        "--kabupaten",
        "62.10",
        "--level",
        "desa",
        "--format",
        "xlsx",
        "-o",
        str(out),
    )
    assert result.exit_code == 0
    assert load_workbook(out).active.max_row == 128
    csv_out = run(demo_app, "plan", "export", "--kabupaten", "62.10", "--level", "kecamatan")
    assert csv_out.exit_code == 0


def test_users_and_device_tokens_from_the_cli(demo_app: Flask) -> None:
    result = run(
        demo_app,
        "users",
        "create",
        "pps.tewah",
        "--role",
        "kurir",
        "--scope",
        "62.10.03.2003",
        "--password",
        "rahasia-sekali-1",
    )
    assert result.exit_code == 0, result.output
    assert (
        run(
            demo_app,
            "users",
            "create",
            "x",
            "--role",
            "kurir",
            "--scope",
            "62",
            "--password",
            "rahasia-sekali-1",
        ).exit_code
        == 1
    )
    assert (
        run(
            demo_app,
            "users",
            "create",
            "y",
            "--role",
            "raja",
            "--scope",
            "62.10",
            "--password",
            "rahasia-sekali-1",
        ).exit_code
        == 2
    )
    assert (
        run(
            demo_app,
            "users",
            "create",
            "z",
            "--role",
            "desk",
            "--scope",
            "62.10",
            "--password",
            "pendek",
        ).exit_code
        == 1
    )
    created = run(demo_app, "tokens", "create", "pps.tewah", "--name", "HP PPS")
    assert created.exit_code == 0
    plain = created.output.strip().splitlines()[-1]
    assert plain.startswith("tpt_")
    token = db.session.scalar(db.select(DeviceToken))
    assert token.token_hash != plain and plain not in token.token_hash
    listed = run(demo_app, "tokens", "list")
    assert "pps.tewah" in listed.output and plain not in listed.output
    assert run(demo_app, "tokens", "revoke", str(token.id)).exit_code == 0
    assert run(demo_app, "tokens", "revoke", "bukan-uuid").exit_code == 1


def test_signing_keys_are_created_outside_the_repository_and_exported(app: Flask) -> None:
    assert run(app, "keys", "export").exit_code == 1  # nothing yet: a clear message
    assert run(app, "keys", "init").exit_code == 0
    assert run(app, "keys", "init").exit_code == 1
    assert run(app, "keys", "init", "--if-missing").exit_code == 0
    key_dir = Path(app.config["TEPAT_KEY_DIR"])
    pem = next(key_dir.glob("*.pem"))
    assert pem.stat().st_mode & 0o077 == 0
    rotated = run(app, "keys", "rotate", "--retire-old")
    assert rotated.exit_code == 0
    exported = run(app, "keys", "export").output
    assert exported.count('"active"') == 1 and exported.count('"retired"') == 1
    assert "PRIVATE" not in exported
    _ = io.StringIO(exported)


def test_quantity_rules_are_data_that_can_be_edited(demo_app: Flask) -> None:
    from sqlalchemy import func, select

    from app.plan.models import PlanLine

    listed = run(demo_app, "plan", "rules")
    assert "BILIK" in listed.output and "2.50" in listed.output
    booths = select(func.sum(PlanLine.quantity)).where(PlanLine.item_type_code == "BILIK")
    assert db.session.scalar(booths) == 876
    result = run(demo_app, "plan", "rule", "BILIK", "--per-tps", "5")
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert db.session.scalar(booths) == 5 * 219
    assert run(demo_app, "plan", "rule", "NOPE", "--per-tps", "1").exit_code == 1


def test_leg_budgets_and_costs_feed_tepat_biaya(demo_app: Flask) -> None:
    from datetime import UTC, datetime

    from app.custody import queries
    from app.plan.models import Election

    assert run(demo_app, "plan", "budget", "62.10", "62.10.09", "6000000").exit_code == 0
    result = run(demo_app, "plan", "cost", "62.10", "62.10.09", "9400000", "--note", "kelotok")
    assert result.exit_code == 0, result.output
    assert run(demo_app, "plan", "cost", "62.10", "62.10.99", "5").exit_code == 1
    assert run(demo_app, "plan", "cost", "62.10", "62.10.09", "0").exit_code == 1
    election = db.session.get(Election, "pilkada-2024")
    now = datetime(2024, 11, 26, 8, tzinfo=UTC)
    found = queries.findings(db.session, election, "62.10", now, principle="biaya")
    assert [f["code"] for f in found] == ["over_budget"]
    summary = queries.region_summary(db.session, election, "62.10", now)
    assert summary["principles"]["biaya"]["count"] == 1
