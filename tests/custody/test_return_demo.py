"""The demo's way back, played for two TPS with every planted failure, on the real services."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from sqlalchemy import select

from app.closing import desk
from app.closing.simulation import Plants, file_closings, play_way_back
from app.custody.models import FindingRow
from app.custody.simulation import Simulation, wib
from app.extensions import db
from app.plan.service import get_election
from tests.custody.conftest import Env

H1_AFTERNOON = datetime(2024, 11, 28, 8, 0, tzinfo=UTC)  # H+1 15.00 WIB


def test_the_demo_way_back_plants_each_failure_and_the_desk_sees_them(env: Env) -> None:
    for tps in (env.tps, env.other_tps):
        events = [e for i in env.items[tps] for e in env.journey(i)]
        for start in range(0, len(events), 400):
            assert env.post(events[start : start + 400]).status_code == 200
    election = get_election(db.session, "pilkada-2024")
    sim = Simulation(db.session, env.signer, env.keyring, until=H1_AFTERNOON)
    sim.delivered = {env.tps: wib(-1, 12), env.other_tps: wib(-1, 12)}
    plants = Plants(skip=env.tps, unbalanced=env.tps, reseal=env.other_tps, late=env.other_tps)
    play_way_back(sim, env.items, short_tps="", plants=plants)
    results = list(sim.play(election))
    sent, accepted = results[-1]
    assert sent == accepted > 0
    assert file_closings(sim, election) == 2 * len(
        [i for i in env.items[env.tps] if i.item_type_code == "KOTAK"]
    )
    assert any("langsung ke PPK" in line for line in sim.story.lines)

    stored = Counter(
        code
        for code, leg in db.session.execute(
            select(FindingRow.code, FindingRow.detail["leg"].as_string())
        )
        if code == "return_skipped_node" or leg == "kembali"
    )
    boxes = len([i for i in env.items[env.tps] if i.item_type_code == "KOTAK"])
    assert stored == {"return_skipped_node": boxes, "late": boxes}

    view = desk.way_back(db.session, election, "62.10.03")
    assert view.stages["di_ppk"] == 2 * boxes
    codes = Counter(f.code for t in view.tps for f in t.findings)
    assert codes["sheets_unbalanced"] == 1  # the governor sheets of the first TPS
    assert codes["return_seal_changed"] >= boxes  # every handover after the PPS
    assert view.statuses()["selisih"] == 2
