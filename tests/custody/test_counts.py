"""The region counters kept on ingest equal a recount, and the desk and API read only them."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app.auth import service as auth
from app.custody import codec, counts, overview, rules, service
from app.custody.counts import RegionCount
from app.custody.models import FindingRow, ItemStateRow, TpsTallyRow
from app.custody.planview import build_plan, to_rules_item
from app.extensions import db
from app.items.models import Item
from app.items.service import void_item
from app.plan import codes
from app.plan.models import Election
from tests.conftest import login
from tests.custody.conftest import Env, post_in_parallel


def recount(kab: str) -> dict[str, Counter[str]]:
    """Every counter of a kabupaten, rebuilt from the items, states and findings."""
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in db.session.scalars(select(ItemStateRow).where(ItemStateRow.kabkota_code == kab))
    }
    result_own: dict[str, Counter[str]] = {}
    per_place: dict[str, Counter[str]] = {}
    plan = build_plan(db.session, db.session.get(Election, "pilkada-2024"), kab)
    for item in db.session.scalars(select(Item).where(Item.kabkota_code == kab)):
        metrics = per_place.setdefault(item.destination, Counter())
        metrics.update(counts.metrics_of(item, states.get(item.serial)))
        # The leg it waits on, by its deadline (its destination's own row too).
        rules_item = to_rules_item(item)
        state = states.get(item.serial) or rules.initial_state(rules_item)
        leg = rules.waiting_on(plan, rules_item, state) if item.voided_at is None else None
        if leg is not None:
            metrics[leg.metric] += 1
            own = result_own.setdefault(counts.OWN + item.destination, Counter())
            own[leg.metric] += 1
    result: dict[str, Counter[str]] = result_own
    for place, metrics in per_place.items():
        if (
            codes.TPS_ID.match(place)
            and metrics["items"]
            and (metrics["delivered"] == metrics["items"])
        ):
            metrics["tps_complete"] += 1
        for region in counts.regions_of(place):
            result.setdefault(region, Counter()).update(metrics)
    for finding in db.session.scalars(
        select(FindingRow).where(FindingRow.kabkota_code == kab, FindingRow.status == "open")
    ):
        for region in counts.regions_of(finding.region_code):
            result.setdefault(region, Counter())[
                f"finding:{finding.principle}:{finding.severity}"
            ] += 1
    return result


def stored(metric_prefixes: tuple[str, ...]) -> dict[str, Counter[str]]:
    """The stored counters whose metric starts with one of the prefixes (zeros left out)."""
    result: dict[str, Counter[str]] = {}
    for row in db.session.scalars(select(RegionCount)):
        if row.n and row.metric.startswith(metric_prefixes):
            result.setdefault(row.region_code, Counter())[row.metric] = row.n
    return result


KEPT = (
    "items",
    "delivered",
    "stage:",
    "status:",
    "tps_complete",
    "finding:",
    "kembali:",
    "tenggat:",
)


def only(counters: dict[str, Counter[str]]) -> dict[str, Counter[str]]:
    """The kept metrics (own rows ``=<place>``: only those of waiting items)."""
    return {
        code: Counter({m: n for m, n in c.items() if n and _kept(code, m)})
        for code, c in counters.items()
        if any(n and _kept(code, m) for m, n in c.items())
    }


def _kept(code: str, metric: str) -> bool:
    if code.startswith(counts.OWN):
        return metric.startswith(counts.WAITING)
    return metric.startswith(KEPT)


def test_counters_follow_every_scan_and_equal_a_recount(env: Env) -> None:
    kit = env.first(env.tps, "KIT")
    box = env.first(env.tps, "KOTAK")
    gudang, ppk, pps, tps = codes.route(env.tps)
    packed = env.post([env.event(box, "kemas", gudang, container=env.label(kit))])
    assert packed.get_json()["accepted"] == 1
    assert only(stored(KEPT)) == only(recount("62.10"))
    env.post(env.journey(kit, stop=2))  # the kit (and the box in it) reaches the PPS
    env.post(env.journey(env.first(env.other_tps, "KIT"), stop=1))  # the other's kit: at the PPK
    env.post([env.event(env.first(env.other_tps, "TINTA"), "kirim", gudang, target=ppk)])
    assert only(stored(KEPT)) == only(recount("62.10"))
    here = counts.read(db.session, [pps, ppk, "62.10", "62"])
    assert here[pps]["stage:pps"] == 2  # the kit and the box inside it
    assert here[ppk]["stage:jalan:ppk"] == 1  # the ink, on its way to the PPK
    assert here["62"]["items"] == here["62.10"]["items"] > 0  # the province rolls up


def test_a_voided_label_leaves_the_counts(env: Env) -> None:
    ink = env.first(env.tps, "TINTA")
    before = counts.read(db.session, [env.tps])[env.tps]["items"]
    gudang = auth.find_user(db.session, "gudang")
    void_item(db.session, db.session.get(Item, ink.serial), gudang.id, "label rusak")
    assert counts.read(db.session, [env.tps])[env.tps]["items"] == before - 1
    assert only(stored(KEPT)) == only(recount("62.10"))


def test_the_stage_line_adds_up_and_shows_goods_in_transit_per_leg(env: Env) -> None:
    kit = env.first(env.tps, "KIT")
    gudang, ppk, pps, _ = codes.route(env.tps)
    env.post(env.journey(kit, stop=1) + [env.event(kit, "kirim", ppk, target=pps)])
    login(env.client, "desk")
    html = env.client.get("/desk/wilayah/62.10.03").get_data(as_text=True)
    assert 'data-stage="jalan:pps"' in html and "Menuju PPS" in html
    summary = env.client.get("/api/v1/regions/62.10.03/summary").get_json()
    assert sum(summary["stages"].values()) == summary["items"]
    assert summary["stages"]["jalan:pps"] == 1
    assert summary["tps"] >= summary["tps_complete"] == 0


def test_findings_come_a_page_at_a_time_with_counts_for_the_whole_area(env: Env) -> None:
    # Ten ink bottles received at the wrong TPS: ten stored findings (sasaran).
    gudang, ppk, pps, tps = codes.route(env.tps)
    inks = [i for i in env.items[env.other_tps] if i.item_type_code != "KIT"][:10]
    env.post([env.event(i, "terima", tps, quantity=i.quantity, condition="baik") for i in inks])
    login(env.client, "desk")
    first = env.client.get("/api/v1/findings?wilayah=62.10&limit=4").get_json()
    assert first["next"] and first["count"] >= 10
    kinds = {g["code"]: g["count"] for g in first["groups"] if not g.get("live")}
    assert first["count"] == sum(g["count"] for g in first["groups"])  # live ones included
    assert len([f for f in first["findings"] if f["live"]]) <= 4  # live ones paged too
    stored_rows = db.session.query(FindingRow).count()
    assert sum(kinds.values()) == db.session.query(FindingRow).filter_by(status="open").count()
    seen = [f["id"] for f in first["findings"] if not f["live"]]
    cursor = first["next"]
    while cursor:
        page = env.client.get(f"/api/v1/findings?wilayah=62.10&limit=4&cursor={cursor}").get_json()
        assert len(page["findings"]) <= 4 and not any(f["live"] for f in page["findings"])
        seen += [f["id"] for f in page["findings"]]
        cursor = page["next"]
    assert len(seen) == len(set(seen)) == stored_rows  # every stored one, once
    bad = env.client.get("/api/v1/findings?cursor=bukan-kursor")
    assert bad.status_code == 422 and "Kursor" in bad.get_data(as_text=True)


def test_a_province_desk_sees_its_kabupaten_and_drills_down(env: Env) -> None:
    auth.create_user(db.session, "desk.kalteng", "rahasia-prov-1", "desk", "62", "KPU Provinsi")
    env.post(env.journey(env.first(env.tps, "KIT"), stop=1))
    login(env.client, "desk.kalteng", "rahasia-prov-1")
    page = env.client.get("/desk")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Per kabupaten/kota" in html
    assert 'href="/desk/wilayah/62.10"' in html
    summary = env.client.get("/api/v1/regions/62/summary").get_json()
    gunung_mas = next(c for c in summary["children"] if c["code"] == "62.10")
    assert gunung_mas["items"] == summary["items"] > 0
    # The governor race rolls up over the province's kabupaten.
    assert summary["races"]["GUB"]["items"] == sum(
        c["races"].get("GUB", {}).get("items", 0) for c in summary["children"]
    )
    assert summary["races"]["GUB"]["items"] > 0 and 'data-race="GUB"' in html
    assert env.client.get("/desk/wilayah/62.10.03").status_code == 200


def test_the_desk_answers_before_any_scan_and_counts_older_data_once(env: Env) -> None:
    # Issuing leaves a tally for every destination: the desk never builds one from items.
    issued = set(db.session.scalars(select(Item.destination).where(Item.kabkota_code == "62.10")))
    tallied = set(db.session.scalars(select(TpsTallyRow.tps)))
    assert issued and issued <= tallied
    db.session.execute(RegionCount.__table__.delete())  # data from before the counters
    db.session.commit()
    login(env.client, "desk")
    assert env.client.get("/desk").status_code == 200
    assert only(stored(KEPT)) == only(recount("62.10"))


def test_in_lists_are_chunked_below_the_driver_limit() -> None:
    values = [f"S{i:06d}" for i in range(70_000)]
    chunks = list(service.chunked(values))
    assert sum(len(c) for c in chunks) == 70_000
    assert max(len(c) for c in chunks) <= service.CHUNK < 32_766
    assert overview.PAGE <= 500


def test_parallel_couriers_of_one_kabupaten_leave_exact_counts_and_chains(env: Env) -> None:
    from app.custody import ledger

    # Every item of two TPS, each on its own journey, sent by four clients at once.
    journeys = [env.journey(i, stop=3) for t in (env.tps, env.other_tps) for i in env.items[t]]
    post_in_parallel(env, journeys)
    assert only(stored(KEPT)) == only(recount("62.10"))
    delivered = counts.read(db.session, [env.tps, env.other_tps])
    assert all(delivered[t]["delivered"] == delivered[t]["items"] > 0 for t in delivered)
    assert delivered[env.tps]["tps_complete"] == 1
    assert ledger.integrate(db.session, env.app.config["TEPAT_KEY_DIR"], "tepat.test/ledger")
    assert ledger.verify(db.session, env.app.config["TEPAT_KEY_DIR"]).ok
