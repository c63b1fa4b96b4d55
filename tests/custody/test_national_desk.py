"""The national desk: every province from its own counters, drill-down, and scopes that hold.

Gunung Mas (62.10, Kalimantan Tengah) comes with the demo; Kota Kupang (53.71, Nusa
Tenggara Timur) is planned beside it in the same election, so two provinces have counters.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import event, select

from app.auth import service as auth
from app.custody import counts
from app.errors import ValidationFailed
from app.extensions import db
from app.items.models import Item
from app.items.service import issue_items
from app.plan import codes
from app.plan import service as plan_service
from tests.conftest import login
from tests.custody.conftest import Env

WILAYAH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wilayah.csv"
KUPANG, NAMOSAIN = "53.71", "53.71.01.1001"
KUPANG_TPS = "5371011001001"
PASSWORD = "rahasia-nasional-1"


def plan_kupang(env: Env) -> None:
    """Kota Kupang in the demo election: two TPS in Namosain, labels for the first."""
    session = db.session
    plan_service.load_regions(session, WILAYAH, [KUPANG])
    plan_service.add_race(session, "pilkada-2024", "GUB", "53")
    plan_service.add_race(session, "pilkada-2024", "WAL", KUPANG)
    rows = "\n".join(f"{NAMOSAIN},{n},300,2" for n in (1, 2))
    plan_service.import_tps(
        session,
        "pilkada-2024",
        KUPANG,
        "kupang.csv",
        f"kode desa,nomor tps,dpt,dptb\n{rows}".encode(),
    )
    issue_items(session, "pilkada-2024", KUPANG_TPS, None, env.signer, None)
    session.commit()


def national(username: str, role: str = "desk") -> None:
    auth.create_user(db.session, username, PASSWORD, role, codes.NATIONAL, "KPU RI")


def test_a_national_desk_sees_every_province_and_drills_down(env: Env) -> None:
    plan_kupang(env)
    env.post(env.journey(env.first(env.tps, "KIT"), stop=1))  # Gunung Mas: a kit at the PPK
    national("desk.ri")
    login(env.client, "desk.ri", PASSWORD)
    page = env.client.get("/desk")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Per provinsi" in html
    assert 'href="/desk/wilayah/62"' in html and 'href="/desk/wilayah/53"' in html
    summary = env.client.get(f"/api/v1/regions/{codes.NATIONAL}/summary").get_json()
    rows = {c["code"]: c for c in summary["children"]}
    held = counts.read(db.session, ["62", "53"])
    for province in ("62", "53"):
        assert rows[province]["items"] == held[province]["items"] > 0
    assert summary["items"] == sum(c["items"] for c in summary["children"])
    assert summary["races"]["GUB"]["items"] == held["62"]["race:GUB"] + held["53"]["race:GUB"]
    assert rows["62"]["stages"].get("ppk", 0) > 0 and not rows["53"]["stages"].get("ppk")
    # Down the tree: province, kabupaten, TPS; the crumbs lead back to the country.
    province = env.client.get("/desk/wilayah/53").get_data(as_text=True)
    assert "Per kabupaten/kota" in province and 'href="/desk/wilayah/53.71"' in province
    assert 'href="/desk/wilayah/ID"' in province
    assert env.client.get("/desk/wilayah/53.71").status_code == 200
    assert env.client.get(f"/desk/wilayah/{env.tps}").status_code == 200
    assert env.client.get(f"/desk/wilayah/{codes.NATIONAL}").status_code == 200
    status = env.client.get(f"/desk/ekspor/status.csv?wilayah={codes.NATIONAL}")
    assert status.status_code == 200 and "53" in status.get_data(as_text=True)
    # Findings are listed per province: the national level says so, never a 500.
    assert env.client.get("/desk/temuan").status_code == 404
    assert env.client.get("/desk/temuan?wilayah=53").status_code == 200
    assert env.client.get("/api/v1/findings").status_code == 422  # not an empty "0 findings"
    assert env.client.get("/api/v1/findings?wilayah=62").status_code == 200


def test_the_national_page_reads_only_the_provinces_counters(env: Env) -> None:
    plan_kupang(env)
    national("bawaslu.ri", "pengawas")
    login(env.client, "bawaslu.ri", PASSWORD)
    env.client.get("/desk")  # warm up: sessions, names
    statements: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert env.client.get("/desk").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    touched = " ".join(statements).lower()
    for table in ("item", "item_state", "custody_event", "finding", "tps "):
        assert f"from {table}" not in touched, table
    assert "region_count" in touched


def test_the_national_page_answers_before_any_label_or_scan(env: Env) -> None:
    db.session.execute(counts.RegionCount.__table__.delete())
    db.session.commit()
    national("desk.ri")
    login(env.client, "desk.ri", PASSWORD)
    page = env.client.get("/desk")
    assert page.status_code == 200 and 'href="/desk/wilayah/62"' in page.get_data(as_text=True)
    assert env.client.get(f"/api/v1/regions/{codes.NATIONAL}/summary").status_code == 200


def test_a_province_desk_stays_in_its_province(env: Env) -> None:
    plan_kupang(env)
    auth.create_user(db.session, "desk.ntt", PASSWORD, "desk", "53", "KPU Provinsi NTT")
    login(env.client, "desk.ntt", PASSWORD)
    assert env.client.get("/desk").status_code == 200
    kupang_item = db.session.scalar(select(Item.serial).where(Item.destination == KUPANG_TPS))
    gunung_mas_item = env.first(env.tps, "KIT").serial
    for url in (
        "/desk/wilayah/62",
        "/desk/wilayah/62.10",
        f"/desk/wilayah/{env.tps}",
        f"/desk/wilayah/{codes.NATIONAL}",
        "/desk/temuan?wilayah=62.10",
        "/desk/ekspor/status.csv?wilayah=62",
        "/desk/ekspor/temuan.csv?wilayah=62.10",
        f"/desk/barang/{gunung_mas_item}",
        "/desk/kembali?wilayah=62.10",
        "/api/v1/regions/62/summary",
        f"/api/v1/regions/{codes.NATIONAL}/summary",
        "/api/v1/findings?wilayah=62.10",
        f"/api/v1/items/{gunung_mas_item}",
    ):
        assert env.client.get(url).status_code in (403, 404), url
    assert env.client.get(f"/desk/barang/{kupang_item}").status_code == 200
    assert env.client.get("/api/v1/regions/53/summary").status_code == 200
    # Nothing the desk reaches writes: a scan by the province desk is refused.
    scan = env.client.post("/api/v1/scans", json={"device_id": "x", "events": []})
    assert scan.status_code == 403


@pytest.mark.parametrize(
    ("role", "scope", "allowed"),
    [
        ("desk", codes.NATIONAL, True),
        ("pengawas", codes.NATIONAL, True),
        ("admin", codes.NATIONAL, True),
        ("gudang", codes.NATIONAL, False),
        ("kurir", codes.NATIONAL, False),
        ("desk", "62", True),
        ("admin", "62", False),
        ("desk", "", False),
    ],
)
def test_who_may_hold_the_whole_country(env: Env, role: str, scope: str, allowed: bool) -> None:
    make = lambda: auth.create_user(db.session, f"u-{role}", PASSWORD, role, scope)  # noqa: E731
    if allowed:
        assert make().scope_code == scope
    else:
        with pytest.raises(ValidationFailed):
            make()


def test_a_national_admin_places_users_anywhere_and_a_kabupaten_admin_not_nationally(
    env: Env,
) -> None:
    admin = auth.create_user(db.session, "admin.ri", PASSWORD, "admin", codes.NATIONAL)
    made = auth.create_user(
        db.session, "desk.kalteng", PASSWORD, "desk", "62", inside=admin.scope_code
    )
    assert made.scope_code == "62"
    assert {u.username for u in auth.users_in_scope(db.session, codes.NATIONAL)} >= {
        "desk.kalteng",
        "desk",
    }
    kabupaten_admin = auth.find_user(db.session, "admin")
    with pytest.raises(ValidationFailed):
        auth.create_user(
            db.session,
            "desk.ri",
            PASSWORD,
            "desk",
            codes.NATIONAL,
            inside=kabupaten_admin.scope_code,
        )
    login(env.client, "admin.ri", PASSWORD)
    assert env.client.get("/desk").status_code == 200
