"""Reconciliation findings are stored findings: listed and counted on the desk, once, and
resolved by the correcting record; a TPS with no closing past the return deadline shows."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.custody import counts, live, overview
from app.custody.models import FindingRow
from app.extensions import db
from app.plan import codes
from app.plan.service import get_election
from tests.conftest import login
from tests.custody.conftest import Env
from tests.custody.test_counts import KEPT, only, recount, stored
from tests.custody.test_return_desk import closing, deliver


def send(env: Env, records: list[dict[str, Any]], at: str) -> Any:
    # Each filing at its own server time: the latest record per TPS and race counts.
    env.app.config["TEPAT_NOW"] = at
    headers = {"Authorization": f"Bearer {env.tokens['kurir.tewah']}"}
    answer = env.client.post("/api/v1/closings", json={"records": records}, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def unbalanced() -> list[FindingRow]:
    db.session.expire_all()  # the requests changed them in their own transactions
    return list(
        db.session.scalars(select(FindingRow).where(FindingRow.code == "sheets_unbalanced"))
    )


def test_a_closing_that_does_not_add_up_is_a_stored_counted_finding_until_corrected(
    env: Env,
) -> None:
    deliver(env, env.tps)
    box = next(i for i in env.items[env.tps] if i.item_type_code == "KOTAK")
    wrong = closing(env, env.tps, box.race_kind, box, unused=1)
    assert send(env, [wrong], "2024-11-27T13:00:00Z")["accepted"] == 1

    (finding,) = unbalanced()
    assert (finding.status, finding.principle, finding.severity) == ("open", "jumlah", "critical")
    assert (finding.tps, finding.node, finding.kabkota_code) == (env.tps, env.tps, "62.10")
    assert finding.detail["race"] == box.race_kind and finding.detail["record"]
    assert only(stored(KEPT)) == only(recount("62.10"))

    login(env.client, "desk")
    listed = env.client.get("/api/v1/findings?wilayah=62.10.03&kode=sheets_unbalanced")
    ids = [f["id"] for f in listed.get_json()["findings"] if not f.get("live")]
    assert ids == [str(finding.id)]
    page = env.client.get("/desk/temuan?wilayah=62.10.03").get_data(as_text=True)
    assert "sheets_unbalanced" in page or "Lembar tidak seimbang" in page

    # The phone sends it again: a duplicate, and no second finding.
    assert send(env, [wrong], "2024-11-27T13:05:00Z")["duplicate"] == 1
    assert len(unbalanced()) == 1
    assert only(stored(KEPT)) == only(recount("62.10"))

    fixed = closing(env, env.tps, box.race_kind, box, corrects=wrong["client_id"])
    answer = send(env, [fixed], "2024-11-27T14:00:00Z")
    (again,) = unbalanced()
    assert again.status == "resolved" and again.resolved_by == answer["results"][0]["id"]
    assert only(stored(KEPT)) == only(recount("62.10"))
    after = env.client.get("/api/v1/findings?wilayah=62.10.03&kode=sheets_unbalanced")
    assert not [f for f in after.get_json()["findings"] if not f.get("live")]


def test_a_correction_that_is_still_wrong_keeps_one_open_finding(env: Env) -> None:
    deliver(env, env.tps)
    box = next(i for i in env.items[env.tps] if i.item_type_code == "KOTAK")
    wrong = closing(env, env.tps, box.race_kind, box, unused=1)
    send(env, [wrong], "2024-11-27T13:00:00Z")
    still = closing(env, env.tps, box.race_kind, box, unused=2, corrects=wrong["client_id"])
    send(env, [still], "2024-11-27T14:00:00Z")
    assert [f.status for f in unbalanced()].count("open") == 1
    assert only(stored(KEPT)) == only(recount("62.10"))


def test_a_balanced_closing_stores_no_finding(env: Env) -> None:
    deliver(env, env.tps)
    box = next(i for i in env.items[env.tps] if i.item_type_code == "KOTAK")
    send(env, [closing(env, env.tps, box.race_kind, box)], "2024-11-27T13:00:00Z")
    assert not unbalanced()


def missing_closings(area: str, now: datetime) -> set[str | None]:
    """The TPS listed as owing a closing; their number counted from the counters agrees."""
    overview.clear_caches()
    election = get_election(db.session, "pilkada-2024")
    have = counts.read(db.session, [area]).get(area, Counter())
    found = live.listed_now(db.session, election, area, have, now, None)
    owing = {f["tps"] for f in found if f["code"] == "closing_missing"}
    counted = live.counted_now(db.session, election, {area: have}, now)[area]
    assert counted[("akuntabilitas", "warning", "closing_missing")] == len(owing)
    return owing


def test_a_tps_without_closing_past_the_return_deadline_is_a_finding(env: Env) -> None:
    deliver(env, env.tps)
    boxes = {i.race_kind: i for i in env.items[env.tps] if i.item_type_code == "KOTAK"}
    send(
        env,
        [closing(env, env.tps, race, box) for race, box in boxes.items()],
        "2024-11-27T13:00:00Z",
    )
    # H+0 23.59 WIB is the KPPS' return deadline (boxes at the PPS).
    assert not missing_closings("62.10", datetime(2024, 11, 27, 16, 0, tzinfo=UTC))
    late = missing_closings("62.10", datetime(2024, 11, 28, 3, 0, tzinfo=UTC))
    assert env.other_tps in late and env.tps not in late
    assert all(codes.TPS_ID.match(t or "") for t in late)

    env.app.config["TEPAT_NOW"] = "2024-11-28T03:00:00Z"
    env.app.extensions.pop("tepat_clock_started", None)
    overview.clear_caches()
    login(env.client, "desk")
    desa = codes.desa_of_tps(env.other_tps)
    body = env.client.get(f"/api/v1/findings?wilayah={desa}&kode=closing_missing&limit=500")
    listed = [f for f in body.get_json()["findings"] if f["code"] == "closing_missing"]
    assert {f["tps"] for f in listed} >= {env.other_tps} and env.tps not in {
        f["tps"] for f in listed
    }
    (mine,) = [f for f in listed if f["tps"] == env.other_tps]
    assert (mine["principle"], mine["severity"], mine["live"]) == ("akuntabilitas", "warning", True)


def test_the_rule_names_each_late_tps_once_with_its_open_races() -> None:
    from app.custody import rules

    deadline = datetime(2024, 11, 27, 16, 59, tzinfo=UTC)
    races = {"6210030001001": [rules.Race.GUB, rules.Race.BUP], "6210030001002": [rules.Race.GUB]}
    closed = {("6210030001001", rules.Race.GUB), ("6210030001002", rules.Race.GUB)}
    assert rules.check_closings_missing(races, closed, deadline, deadline) == ()
    (late,) = rules.check_closings_missing(
        races, closed, deadline, datetime(2024, 11, 28, tzinfo=UTC)
    )
    assert (late.tps, late.code, dict(late.detail)["races"]) == (
        "6210030001001",
        "closing_missing",
        "BUP",
    )
    assert (
        late.principle is rules.Principle.AKUNTABILITAS and late.severity is rules.Severity.WARNING
    )


def owed_by_recount(kab: str) -> dict[str, int]:
    """What every TPS of the kabupaten owes, from the plan and the closing records."""
    from app.closing.models import ClosingRecord
    from app.plan.models import Tps
    from app.plan.service import races_at

    election = get_election(db.session, "pilkada-2024")
    closed = Counter(
        tps
        for tps, _ in db.session.execute(
            select(ClosingRecord.tps, ClosingRecord.race_kind)
            .where(ClosingRecord.kabkota_code == kab)
            .distinct()
        )
    )
    owed = {}
    for tps, desa in db.session.execute(select(Tps.id, Tps.desa_code)):
        if codes.kabkota_of(tps) == kab:
            left = len(races_at(election, desa)) - closed[tps]
            if left > 0:
                owed[tps] = left
    return owed


def owed_by_counters(kab: str) -> tuple[dict[str, int], int]:
    from app.custody.models import RegionCount

    rows = db.session.execute(
        select(RegionCount.region_code, RegionCount.n).where(
            RegionCount.metric == "belum_tutup", RegionCount.n != 0
        )
    )
    own = {code[1:]: n for code, n in rows if code.startswith("=")}
    return own, counts.read(db.session, [kab])[kab]["tps_belum_tutup"]


def test_what_each_tps_owes_is_counted_and_equals_a_recount(env: Env) -> None:
    """Every TPS of the plan owes a closing per race from the plan import on; each race's
    first record pays one; the kabupaten counts the TPS that still owe (the desk's count of
    ``closing_missing``), and a recount from scratch agrees."""
    own, owing = owed_by_counters("62.10")
    expected = owed_by_recount("62.10")
    assert own == expected and owing == len(expected) > 200  # every TPS of Gunung Mas
    # The TPS of the plan per region, which the summary shows per child.
    from app.plan.models import Tps

    per_kecamatan = Counter(t[:6] for t in db.session.scalars(select(Tps.id)))
    have = counts.read(db.session, ["62.10", "62.10.03"])
    assert have["62.10"]["tps"] == sum(per_kecamatan.values()) > 200
    assert have["62.10.03"]["tps"] == per_kecamatan["621003"]
    summary = overview.region_summary(
        db.session, get_election(db.session, "pilkada-2024"), "62.10", datetime.now(UTC)
    )
    assert {c["code"]: c["tps"] for c in summary["children"]} == {
        f"62.10.{k[4:]}": n for k, n in per_kecamatan.items()
    }
    deliver(env, env.tps)
    boxes = {i.race_kind: i for i in env.items[env.tps] if i.item_type_code == "KOTAK"}
    first, *rest = sorted(boxes)
    send(env, [closing(env, env.tps, first, boxes[first])], "2024-11-27T13:00:00Z")
    send(env, [closing(env, env.tps, first, boxes[first])], "2024-11-27T13:30:00Z")  # again
    own, owing = owed_by_counters("62.10")
    assert own == owed_by_recount("62.10") and own[env.tps] == len(rest) and owing == len(expected)
    send(env, [closing(env, env.tps, r, boxes[r]) for r in rest], "2024-11-27T14:00:00Z")
    own, owing = owed_by_counters("62.10")
    assert env.tps not in own and own == owed_by_recount("62.10") and owing == len(expected) - 1
    # A recount from scratch (older counters) arrives at the same.
    counts.rebuild(db.session, "62.10")
    db.session.commit()
    assert owed_by_counters("62.10") == (own, owing)
