"""Return legs are part of the plan: default deadlines per level, configurable per kabupaten."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Flask
from sqlalchemy import select

from app.extensions import db
from app.plan import service
from app.plan.models import Election, RouteLeg

TPS, PPS, PPK, GUDANG = "6210032003001", "62.10.03.2003", "62.10.03", "62.10"


def run(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=list(args))


def deadline(from_node: str, to_node: str) -> datetime:
    leg = db.session.scalar(
        select(RouteLeg).where(RouteLeg.from_node == from_node, RouteLeg.to_node == to_node)
    )
    assert leg is not None and leg.is_return
    return leg.deadline_at.astimezone(UTC)


def test_return_legs_default_to_h_to_the_pps_h1_to_the_ppk_and_after_recap_to_the_gudang(
    demo_app: Flask,
) -> None:
    # Gunung Mas keeps WIB: 23.59 on election day is 16.59 UTC.
    assert deadline(TPS, PPS) == datetime(2024, 11, 27, 16, 59, tzinfo=UTC)
    assert deadline(PPS, PPK) == datetime(2024, 11, 28, 11, 0, tzinfo=UTC)
    assert deadline(PPK, GUDANG) == datetime(2024, 12, 4, 11, 0, tzinfo=UTC)


def test_a_kabupaten_sets_its_own_return_deadline_from_the_cli(demo_app: Flask) -> None:
    result = run(demo_app, "plan", "return", "62.10", "--level", "kpps", "--day", "1")
    assert result.exit_code == 0, result.output
    assert "H+1 18.00" in result.output and "TPS → PPS" in result.output
    assert deadline(TPS, PPS) == datetime(2024, 11, 28, 11, 0, tzinfo=UTC)
    # A plan rebuilt with dispatch days keeps the kabupaten's return schedule.
    election = db.session.get(Election, "pilkada-2024")
    assert election is not None
    service.build_legs(db.session, election, "62.10", {})
    db.session.commit()
    assert deadline(TPS, PPS) == datetime(2024, 11, 28, 11, 0, tzinfo=UTC)
    shown = run(demo_app, "plan", "return", "62.10")
    assert "PPS → PPK      H+1 18.00" in shown.output


def test_bad_return_settings_are_refused_with_a_message(demo_app: Flask) -> None:
    assert "Isi --level dan --day" in run(demo_app, "plan", "return", "62.10", "--day", "1").output
    wrong_kab = run(demo_app, "plan", "return", "62.10.03", "--level", "pps", "--day", "1")
    assert wrong_kab.exit_code == 1 and "Kode kabupaten/kota" in wrong_kab.output
    bad_time = run(
        demo_app, "plan", "return", "62.10", "--level", "pps", "--day", "1", "--time", "25:00"
    )
    assert bad_time.exit_code == 1 and "HH:MM" in bad_time.output
