"""The province desk page does bounded work: its SQL statements do not grow with the
number of kabupaten planned in the province (SQLite and PostgreSQL, -m db)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from app.auth import service as auth
from app.custody import overview
from app.extensions import db
from app.items.service import issue_items
from app.plan import service as plan_service
from tests.conftest import login
from tests.custody.conftest import Env
from tests.custody.test_return_bounded import statements

WILAYAH = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "wilayah.csv"
PASSWORD = "rahasia-provinsi-1"
#: Three kabupaten/kota of Nusa Tenggara Timur, each with one desa of two TPS.
KABUPATEN = (
    ("53.71", "53.71.01.1001", "5371011001001"),
    ("53.01", "53.01.04.2003", "5301042003001"),
    ("53.02", "53.02.01.1001", "5302011001001"),
)


def plan(env: Env, kab: str, desa: str, tps: str) -> None:
    """A kabupaten of NTT in the demo election (the governor race): two TPS, labels for
    the first."""
    session = db.session
    plan_service.load_regions(session, WILAYAH, [kab])
    plan_service.add_race(session, "pilkada-2024", "GUB", "53")  # idempotent
    rows = "\n".join(f"{desa},{n},300,2" for n in (1, 2))
    plan_service.import_tps(
        session, "pilkada-2024", kab, f"{kab}.csv", f"kode desa,nomor tps,dpt,dptb\n{rows}".encode()
    )
    issue_items(session, "pilkada-2024", tps, None, env.signer, None)
    session.commit()


def shape(statement: str) -> str:
    """A statement without the length of its IN lists (they grow with the kabupaten)."""
    return re.sub(r"\(\?(, \?)*\)|\(%\(\w+\)s(, %\(\w+\)s)*\)", "(...)", statement)


def province_page(env: Env) -> list[str]:
    """The statements of the province page in a process that just started (cold)."""
    env.client.get("/desk/wilayah/53")  # counts what older code left uncounted, once
    overview.clear_caches(everything=True)
    with statements() as seen:
        page = env.client.get("/desk/wilayah/53")
    assert page.status_code == 200
    assert "Per kabupaten/kota" in page.get_data(as_text=True)
    return seen


def test_the_province_page_does_not_grow_with_its_kabupaten(env: Env) -> None:
    """Regression: the province page read a fixed set of rows per kabupaten (live
    findings, their cache version): 27 sets in Jawa Barat, ~1 s cold at 40,000 TPS. Now
    one statement per kind of read serves every kabupaten of the province."""
    for kab, desa, tps in KABUPATEN[:2]:
        plan(env, kab, desa, tps)
    auth.create_user(db.session, "desk.ntt", PASSWORD, "desk", "53", "KPU Provinsi NTT")
    login(env.client, "desk.ntt", PASSWORD)
    two = province_page(env)
    plan(env, *KABUPATEN[2])
    three = province_page(env)
    grew = Counter(map(shape, three)) - Counter(map(shape, two))
    assert len(three) <= len(two), "\n\n".join(grew.elements())
    html = env.client.get("/desk/wilayah/53").get_data(as_text=True)
    for kab, _, _ in KABUPATEN:  # every kabupaten still has its row
        assert f'href="/desk/wilayah/{kab}"' in html
