"""Quantity findings kept per destination on ingest equal the rules' check of every tally,
and the statuses the counters give equal a recount of the items, after scans, miscounts,
voids, re-packs and parallel couriers (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.auth import service as auth
from app.custody import codec, counts, overview, quantities, queries, rules
from app.custody.counts import RegionCount
from app.custody.models import ItemStateRow, TpsTallyRow
from app.custody.planview import build_plan, clear_cache, to_rules_item
from app.extensions import db
from app.items.models import Item
from app.items.service import void_item
from app.plan import codes
from app.plan.models import Election
from tests.conftest import login
from tests.custody.conftest import SERVER_NOW, Env, post_in_parallel

KAB = "62.10"
#: Past every forward deadline: delivered but unconfirmed goods count as missing.
AFTER = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)


def election() -> Election:
    found = db.session.get(Election, "pilkada-2024")
    assert found is not None
    return found


def full_check(now: datetime) -> list[tuple[Any, ...]]:
    """The rules' quantity check of every tally of the kabupaten (what the desk did before)."""
    clear_cache()
    plan = build_plan(db.session, election(), KAB)
    tallies = {
        r.tps: codec.tally_from_dict(r.tps, r.tally)
        for r in db.session.scalars(select(TpsTallyRow).where(TpsTallyRow.kabkota_code == KAB))
    }
    return _key(rules.check_all_quantities(plan, tallies, now))


def _key(found: Any) -> list[tuple[Any, ...]]:
    # The desk's "not issued yet" per kecamatan does not say which destination is first.
    return [
        (
            f.code,
            f.severity,
            f.tps,
            f.node,
            f.message,
            tuple(d for d in f.detail if d[0] != "first"),
        )
        for f in found
    ]


def kept() -> dict[tuple[str, str], int]:
    """Every counter this module keeps (own, flags and the rolled-up ones), zeros left out."""
    return {
        (r.region_code, r.metric): r.n
        for r in db.session.scalars(select(RegionCount))
        if r.n
        and (
            r.region_code[0] == "!"
            or r.metric in ("not_issued", "du")
            or r.metric.startswith(("unconfirmed@", "q:"))
        )
    }


def recounted() -> dict[tuple[str, str], int]:
    """The same counters computed from scratch: wiped, then every destination checked."""
    before = kept()
    marks = {
        (r.region_code, r.metric): r.n
        for r in db.session.scalars(select(RegionCount))
        if r.metric == quantities.MARK
    }
    rows = [{"region_code": c, "metric": m, "n": -n} for (c, m), n in sorted(before.items())]
    db.session.execute(
        RegionCount.__table__.delete().where(
            RegionCount.region_code.like("!%") | (RegionCount.metric == quantities.MARK)
        )
    )
    # Take every kept value out (the rolled-up ones too) but the own "du" (written by
    # the item counters, recounted below), then check every destination again.
    counts._upsert(
        db.session, [r for r in rows if r["metric"] != "du" and r["region_code"][0] != "!"]
    )
    quantities.rebuild(db.session, election(), KAB)
    again = kept()
    db.session.rollback()
    assert marks  # the plan import (or the first read) checked the kabupaten
    return again


def own_unconfirmed() -> dict[str, int]:
    """Items per destination delivered but not confirmed, from the item and state tables."""
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in db.session.scalars(select(ItemStateRow).where(ItemStateRow.kabkota_code == KAB))
    }
    result: Counter[str] = Counter()
    for item in db.session.scalars(select(Item).where(Item.kabkota_code == KAB)):
        if counts.metrics_of(item, states.get(item.serial))["status:delivered_unconfirmed"]:
            result[item.destination] += 1
    return {d: n for d, n in result.items() if n}


def statuses(area: str, now: datetime) -> dict[str, int]:
    """``rules.count_statuses`` over every item of the kabupaten (what status_counts did)."""
    plan = build_plan(db.session, election(), KAB)
    items = [to_rules_item(i) for i in db.session.scalars(select(Item))]
    states = {
        r.serial: codec.state_from_dict(r.state) for r in db.session.scalars(select(ItemStateRow))
    }
    counted = rules.count_statuses(plan, items, states, now, within=area)
    return {status.value: n for status, n in counted.items()}


def check_everything(env: Env) -> None:
    """Live quantity findings, kept counters and statuses equal a recount, both sides of
    the deadlines."""
    db.session.expire_all()
    for now in (SERVER_NOW, AFTER):
        found = quantities.live(db.session, election(), KAB, now)
        assert _key(found) == full_check(now)
        # What the desk counts from the flags added up equals what the rules find...
        have = counts.read(db.session, [KAB])[KAB]
        shortfalls = Counter((str(f.code), f.severity.value) for f in found)
        del shortfalls[("not_issued", "info")]  # counted per kecamatan, not flagged
        assert quantities.counted(have, now) == shortfalls
        # ...and the first page lists the first of them.
        page = quantities.listed(db.session, election(), KAB, [KAB], now, 1)
        assert {f for _, f in page} <= set(found) and bool(page) == bool(shortfalls)
        for area in (KAB, "62.10.03", env.tps, env.other_tps):
            assert queries.status_counts(db.session, election(), area, now) == statuses(area, now)
    assert kept() == recounted()
    have_du = {c[1:]: n for (c, m), n in kept().items() if m == "du"}
    assert have_du == own_unconfirmed()


def test_quantities_follow_scans_miscounts_voids_and_repacks(env: Env) -> None:
    gudang, ppk, pps, tps = codes.route(env.tps)
    kit = env.first(env.tps, "KIT")
    other_kit = env.first(env.other_tps, "KIT")
    bundles = [i for i in env.items[env.tps] if i.item_type_code == "SURAT"]
    check_everything(env)
    # A bundle counted short at the gudang (a packing miscount): the TPS is short.
    first = env.post(
        [env.event(bundles[0], "terima", gudang, quantity=bundles[0].quantity - 7)]
    ).get_json()
    assert first["accepted"] == 1
    short = [f for f in quantities.live(db.session, election(), KAB, SERVER_NOW) if f.tps]
    assert [(f.code, f.tps) for f in short] == [("shortage", env.tps)]
    check_everything(env)
    # Pack everything into its kit, then move one bundle into the other TPS' kit (wrong)
    # and take it out again (a re-pack), and carry the kit to the TPS.
    packed = env.post(
        [
            env.event(i, "kemas", gudang, container=env.label(kit))
            for i in env.items[env.tps]
            if i.serial != kit.serial
        ]
    ).get_json()
    assert packed["accepted"] == len(env.items[env.tps]) - 1
    moved = env.post(
        [
            env.event(bundles[1], "keluarkan", gudang, reason="salah kit"),
            env.event(bundles[1], "kemas", gudang, container=env.label(other_kit)),
            env.event(bundles[1], "keluarkan", gudang, reason="salah kit"),
            env.event(bundles[1], "kemas", gudang, container=env.label(kit)),
        ]
    ).get_json()
    assert moved["accepted"] == 4, moved
    check_everything(env)
    env.post(env.journey(kit, stop=3))  # delivered, unconfirmed inside the kit
    check_everything(env)
    # A label voided at the TPS: the TPS is short of that unit until it is replaced.
    ink = env.first(env.other_tps, "TINTA")
    gudang_user = auth.find_user(db.session, "gudang")
    void_item(db.session, db.session.get(Item, ink.serial), gudang_user.id, "label rusak")
    assert any(
        f.tps == env.other_tps and f.code == "shortage"
        for f in quantities.live(db.session, election(), KAB, SERVER_NOW)
    )
    check_everything(env)
    # Confirm the kit's content at the TPS (open it, counts of its bundles).
    env.post([env.event(kit, "buka", tps)])
    check_everything(env)


def test_parallel_couriers_leave_exact_quantity_counters(env: Env) -> None:
    journeys = [env.journey(i, stop=3) for t in (env.tps, env.other_tps) for i in env.items[t]]
    post_in_parallel(env, journeys)
    check_everything(env)
    # Every item received by its own scan at its TPS: confirmed, nothing short there.
    here = queries.status_counts(db.session, election(), env.tps, AFTER)
    assert here["confirmed"] == len(env.items[env.tps]) and here["missing"] == 0
    live = quantities.live(db.session, election(), KAB, AFTER)
    assert not [f for f in live if f.tps in (env.tps, env.other_tps)]


def test_the_desk_reads_no_tally_of_the_kabupaten(env: Env, monkeypatch: Any) -> None:
    """A server process that just started answers the desk from the kept counters: no
    kabupaten plan is built and no tally outside the flagged destinations is parsed."""
    env.post([env.event(env.first(env.tps, "SURAT"), "terima", "62.10", quantity=3)])
    overview.clear_caches(everything=True)
    parsed: list[str] = []
    real = codec.tally_from_dict

    def counting(tps: str, data: Any) -> Any:
        parsed.append(tps)
        return real(tps, data)

    def no_full_plan(*_: Any, **__: Any) -> Any:
        raise AssertionError("the desk built the kabupaten's whole plan")

    monkeypatch.setattr(codec, "tally_from_dict", counting)
    from app.custody import evidence, planview, service

    # Every module that holds the name (imported before any is patched: a module first
    # imported under the patch would keep the stand-in after the test).
    for module in (evidence, service, planview):
        monkeypatch.setattr(module, "build_plan", no_full_plan)
    login(env.client, "desk")
    page = env.client.get("/desk")
    assert page.status_code == 200
    assert "kurang" in page.get_data(as_text=True)  # the short TPS is on the page
    assert set(parsed) == {env.tps}


def test_counters_of_older_code_are_recounted_ahead_by_the_cli(env: Env) -> None:
    """After an upgrade, ``flask counts recount`` counts what older code did not keep, so
    no desk request pays for it."""
    env.post([env.event(env.first(env.tps, "SURAT"), "terima", "62.10", quantity=3)])
    db.session.execute(RegionCount.__table__.delete())  # counters of an older version
    db.session.commit()
    assert not counts.is_counted(db.session, KAB)
    result = env.app.test_cli_runner().invoke(args=["counts", "recount"])
    assert result.exit_code == 0 and f"{KAB}:" in result.output, result.output
    db.session.expire_all()
    assert counts.is_counted(db.session, KAB)
    check_everything(env)
    found = quantities.live(db.session, election(), KAB, SERVER_NOW)
    assert [(f.code, f.tps) for f in found if f.tps] == [("shortage", env.tps)]
