"""Deadline findings from the counts of items waiting on each leg (``app.custody.waiting``)
equal the rules run over every item, at any moment, after deadlines move, and the desk
reads a page of late destinations however many are late (SQLite and PostgreSQL, -m db)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select

from app.custody import codec, counts, live, rules, waiting
from app.custody.models import ItemStateRow
from app.custody.planview import build_plan, to_rules_item
from app.extensions import db
from app.items.models import Item
from app.items.service import issue_items
from app.plan import codes
from app.plan.models import Election, RouteLeg, Tps
from app.plan.service.routes import build_legs, set_return_deadline
from tests.conftest import login
from tests.custody.conftest import Env
from tests.custody.test_counts import only, recount, stored
from tests.custody.test_return_bounded import statements

KAB = "62.10"
DEADLINE_CODES = ("at_risk", "overdue", "not_received")
#: From three days before the election to a week after it (election day 2024-11-27).
MOMENTS = [
    datetime(2024, 11, 24, 0, 0, tzinfo=UTC) + timedelta(hours=h) for h in range(0, 24 * 11, 7)
]


def by_the_rules(now: datetime) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str, str]]]:
    """Deadline findings of every item of the kabupaten, item by item: per (code,
    severity), and per (destination, code, node)."""
    election = db.session.get(Election, "pilkada-2024")
    plan = build_plan(db.session, election, KAB)
    items = {
        i.serial: to_rules_item(i)
        for i in db.session.scalars(
            select(Item).where(Item.kabkota_code == KAB, Item.voided_at.is_(None))
        )
    }
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in db.session.scalars(select(ItemStateRow).where(ItemStateRow.kabkota_code == KAB))
    }
    found = rules.check_deadlines(plan, items, states, now) + rules.check_return_deadlines(
        plan, items, states, now
    )
    kinds = Counter((str(f.code), f.severity.value) for f in found)
    places = Counter((items[f.serial].destination, str(f.code), f.node or "") for f in found)
    return kinds, places


def by_the_counters(
    now: datetime, area: str = KAB
) -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str, str]]]:
    """The same from the counters: the area's own row, and its late destinations."""
    have = counts.read(db.session, [area]).get(area, Counter())
    kinds = Counter({(str(c), s.value): n for (c, s), n in rules.counts_at(have, now).items()})
    places: Counter[tuple[str, str, str]] = Counter()
    for destination, metric, n in waiting.late_destinations(db.session, area, have, now, None):
        leg = rules.parse(metric, destination)
        assert leg is not None, metric
        for finding in rules.group_findings(leg, destination, n, now):
            places[(destination, str(finding.code), finding.node or "")] += n
    return kinds, places


def play_a_mixed_day(env: Env) -> None:
    """Goods everywhere: delivered, half way, in transit, packed, and boxes going back."""
    gudang, ppk, pps, tps = codes.route(env.tps)
    kit = env.first(env.tps, "KIT")
    box = env.first(env.tps, "KOTAK")
    env.post([env.event(box, "kemas", gudang, container=env.label(kit))])
    env.post(env.journey(kit, stop=3))  # the kit (and the box in it) reach the TPS
    env.post([env.event(box, "buka", tps, container=env.label(kit))])
    others = [i for i in env.items[env.tps] if i.item_type_code not in ("KIT", "KOTAK")]
    env.post(env.journey(others[0], stop=1))  # at the PPK
    env.post(env.journey(others[1], stop=2))  # at the PPS
    env.post([env.event(others[2], "kirim", gudang, target=ppk)])  # on the road
    other_box = env.first(env.other_tps, "KOTAK")
    env.post(env.journey(other_box, stop=3))
    env.post([env.event(other_box, "kembali", codes.route(env.other_tps)[3], target=pps)])


def test_deadline_findings_from_the_counters_equal_the_rules_item_by_item(env: Env) -> None:
    play_a_mixed_day(env)
    assert only(stored(("tenggat:",))) == only(
        {
            p: Counter({m: n for m, n in c.items() if m.startswith("tenggat:")})
            for p, c in recount(KAB).items()
        }
    )
    seen: Counter[str] = Counter()
    for now in MOMENTS:
        expected_kinds, expected_places = by_the_rules(now)
        kinds, places = by_the_counters(now)
        assert kinds == expected_kinds, now
        assert places == expected_places, now
        seen.update(code for code, _ in kinds)
    # The day holds every kind: at risk, overdue, sent and never received (both ways).
    assert {"at_risk", "overdue", "not_received"} <= set(seen), seen
    # A kecamatan and a TPS see their own share.
    kinds, _ = by_the_counters(MOMENTS[-1], env.tps)
    assert sum(kinds.values()) > 0


def test_the_desk_and_the_api_count_deadlines_like_the_rules(env: Env) -> None:
    play_a_mixed_day(env)
    now = datetime(2024, 11, 28, 3, 0, tzinfo=UTC)  # H+1 10.00 WIB
    env.app.config["TEPAT_NOW"] = now.isoformat()
    expected, _ = by_the_rules(now)
    login(env.client, "desk")
    page = env.client.get("/api/v1/findings?wilayah=62.10&limit=5").get_json()
    live_groups = Counter(
        {
            (g["code"], g["severity"]): g["count"]
            for g in page["groups"]
            if g.get("live") and g["code"] in DEADLINE_CODES
        }
    )
    assert live_groups == expected
    listed = [f for f in page["findings"] if f["live"] and f["code"] in DEADLINE_CODES]
    assert 0 < len(listed) <= 5
    assert all(f["count"] >= 1 and f["tps"] or f["node"] for f in listed)
    summary = env.client.get("/api/v1/regions/62.10/summary").get_json()
    per_principle = Counter()
    for (code, _), n in expected.items():
        per_principle[rules.CODES[rules.Code(code)].value] += n
    for principle, n in per_principle.items():
        assert summary["principles"][principle]["count"] >= n, principle
    html = env.client.get("/desk/temuan?wilayah=62.10&prinsip=waktu").get_data(as_text=True)
    assert "barang" in html and "Belum sampai di" in html


def test_a_moved_deadline_moves_what_waits_on_it(env: Env) -> None:
    play_a_mixed_day(env)
    session = db.session
    _, _, pps, tps = codes.route(env.other_tps)
    h1_morning = datetime(2024, 11, 28, 3, 0, tzinfo=UTC)  # H+1 10.00 WIB
    kinds, places = by_the_counters(h1_morning)
    assert places[(env.other_tps, "not_received", pps)] == 1  # sent back, never received
    # The KPU gives the TPS until H+2 to send their boxes back.
    set_return_deadline(session, "pilkada-2024", KAB, "kpps", 2, time(12, 0))
    assert only(stored(("tenggat:",))) == only(
        {
            p: Counter({m: n for m, n in c.items() if m.startswith("tenggat:")})
            for p, c in recount(KAB).items()
        }
    )
    kinds, places = by_the_counters(h1_morning)
    assert places[(env.other_tps, "not_received", pps)] == 0
    assert (kinds, places) == by_the_rules(h1_morning)
    # Tewah's goods leave the gudang on H-3 instead of H-2: late a day earlier.
    ppk = codes.route(env.tps)[1]
    election = session.get(Election, "pilkada-2024")
    dispatch = {
        leg.to_node: leg.day_offset
        for leg in session.scalars(select(RouteLeg).where(RouteLeg.from_node == KAB))
    }
    assert dispatch[ppk] == -2
    h2_morning = datetime(2024, 11, 25, 0, 0, tzinfo=UTC)  # H-2 07.00 WIB
    before, _ = by_the_counters(h2_morning)
    build_legs(session, election, KAB, dispatch | {ppk: -3})
    session.commit()
    leg = session.scalar(select(RouteLeg).where(RouteLeg.from_node == KAB, RouteLeg.to_node == ppk))
    assert leg.deadline_at < h2_morning
    after, _ = by_the_counters(h2_morning)
    assert after[("overdue", "critical")] > before[("overdue", "critical")]
    assert after[("at_risk", "warning")] < before[("at_risk", "warning")]
    assert by_the_counters(h2_morning) == by_the_rules(h2_morning)
    for now in MOMENTS:
        assert by_the_counters(now) == by_the_rules(now), now


def test_the_findings_page_reads_a_page_however_many_destinations_are_late(env: Env) -> None:
    """Regression: every late item was read and checked on each desk request (the work
    grew with what is late); now a page of late destinations is read, one statement per
    deadline, and the counts per kind come from the kabupaten's own counters."""
    login(env.client, "desk")
    url = "/api/v1/findings?wilayah=62.10&limit=3&prinsip=waktu"
    env.client.get(url)  # the first request may count a kabupaten counted by older code
    live.clear()
    with statements() as before_sql:
        before = env.client.get(url).get_json()
    # A dozen more TPS of the same kecamatan (the same deadlines) late as well.
    more = db.session.scalars(
        select(Tps.id)
        .where(Tps.id.like("621003%"), Tps.id.not_in([env.tps, env.other_tps]))
        .order_by(Tps.id)
        .limit(12)
    ).all()
    for tps in more:
        issue_items(db.session, "pilkada-2024", tps, None, env.signer, None)
    live.clear()
    with statements() as after_sql:
        after = env.client.get(url).get_json()
    late = lambda page: sum(g["count"] for g in page["groups"] if g.get("live"))  # noqa: E731
    assert late(after) > late(before) > 0
    assert len([f for f in after["findings"] if f["live"]]) <= 3
    assert len(after_sql) <= len(before_sql), (before_sql, after_sql)
    expected, _ = by_the_rules(datetime.fromisoformat(env.app.config["TEPAT_NOW"]))
    assert late(after) == sum(n for (code, _), n in expected.items())
