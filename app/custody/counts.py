"""Incremental counts per region, kept on ingest: what the desk reads instead of the items.

Every issued item adds to a few named counters (``metric``) at its destination and at every
region above it: the TPS, its desa, kecamatan, kabupaten and province. A scan changes an
item's state; the batch subtracts the counters of the state before and adds those of the
state after, so a region's numbers cost one indexed read however large the region is.

Metrics (keyed by strings, so a new stage or status just adds rows):

* ``items``: issued, not voided; ``delivered``: held at its destination, not in transit;
* ``stage:<stage>``: the desk's stage line (``gudang``, ``ppk``, ``pps``, ``kpps``,
  ``dibuka``, ``jalan:<next node kind>`` for each leg in transit, ``kembali``...);
* ``status:<status>``: the rules' ``ItemStatus`` before any deadline passes;
* ``tenggat:<leg>:<mode>:<deadline>``: items waiting on a leg (``rules.tenggat``), also in
  the destination's own row ``=<destination>``: the desk's deadline findings;
* ``tps_complete``: TPS whose every item is delivered (counted once per TPS);
* ``race:<race>`` and ``race_delivered:<race>``: items of a race (GUB, BUP, WAL) and
  those delivered, so a province's governor race adds up over its kabupaten;
* ``finding:<principle>:<severity>``: open stored findings placed in the region, and
  ``kind:<principle>:<severity>:<code>`` the same per kind (resolving one subtracts it);
* ``terima:<hour>`` and ``terima_tps:<hour>``: receipts per hour, for the delivery chart;
  ``delivered:<hour>``: items delivered per hour.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.custody import codec, rules
from app.custody.chunks import chunked, rows_in
from app.custody.models import CustodyEvent, FindingRow, ItemStateRow, RegionCount
from app.custody.planview import ITEM_COLUMNS, build_plan, to_rules_item
from app.plan import codes

#: Statuses are counted as before any deadline (a deadline turns delivered into missing
#: at read time, not on ingest).
_BEFORE_ANY_DEADLINE = datetime(2000, 1, 1, tzinfo=UTC)
_EMPTY_PLAN = rules.Plan(region="", races={}, quantities={}, legs=())


def regions_of(place: str) -> list[str]:
    """A node or region code and every region above it (TPS -> desa -> ... -> province)."""
    try:
        region = codes.node_region(place)
    except ValueError:
        return []
    chain = [place] if place != region else []
    parts = region.split(".")
    chain += [".".join(parts[:n]) for n in range(len(parts), 0, -1)]
    return chain


def hour_of(moment: datetime) -> str:
    """The UTC hour a moment falls in, as a metric suffix."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H")


def stage_of(state: rules.ItemState) -> str:
    """The stage line's label: in transit is split by the leg (the kind of the next node)."""
    stage = codec.stage_of(state)
    if stage == "jalan" and state.transit_to is not None:
        try:
            return f"jalan:{codes.node_kind(state.transit_to).value}"
        except ValueError:
            return stage
    return stage


def metrics_of(
    item: Any, state: rules.ItemState | None, rules_item: rules.Item | None = None
) -> Counter[str]:
    """What one item adds to the counters of its destination and the regions above."""
    if item.voided_at is not None:
        return Counter()
    rules_item = rules_item or to_rules_item(item)
    state = state or rules.initial_state(rules_item)
    stage = stage_of(state)
    status = rules.item_status(_EMPTY_PLAN, rules_item, state, _BEFORE_ANY_DEADLINE)
    metrics = Counter({"items": 1, f"stage:{stage}": 1, f"status:{status.value}": 1})
    race = item.race_kind or ""
    if race:  # the governor race rolls up over the province's kabupaten
        metrics[f"race:{race}"] += 1
    if state.holder == item.destination and state.transit_to is None:
        metrics["delivered"] += 1
        if race:
            metrics[f"race_delivered:{race}"] += 1
        if state.delivered_at is not None:
            metrics[f"delivered:{hour_of(state.delivered_at)}"] += 1
    way_back = return_stage(item, state)
    if way_back is not None:
        metrics[f"kembali:{way_back}"] += 1
    return metrics


#: Where a TPS's ballot box is on the way back (the desk's return page, rolled up).
RETURN_STAGES = ("tps", "jalan", "di_pps", "di_ppk", "di_gudang")


def return_stage(item: Any, state: rules.ItemState) -> str | None:
    """A TPS's ballot box: still out (at or on its way to the TPS: ``tps``), on the road
    back, or back at the PPS, PPK or gudang. Other items: None."""
    if item.item_type_code != "KOTAK" or not codes.TPS_ID.match(item.destination):
        return None
    if state.returning and state.transit_to is not None:
        return "jalan"
    if state.returning and state.holder:
        try:
            kind = codes.node_kind(state.holder).value
        except ValueError:
            return "tps"
        return {"pps": "di_pps", "ppk": "di_ppk", "gudang": "di_gudang"}.get(kind, "tps")
    return "tps"


#: Counts of items waiting on a leg, per deadline (``rules.tenggat``).
WAITING = rules.tenggat.PREFIX

#: Counters that exist only while they count something: lists read their rows, not zeros
#: (waiting items; what a TPS still owes, ``app.custody.closings``).
EMPTIED = (WAITING, "belum_tutup")

#: Rows of one destination's own values (not added up the regions): ``=<destination>``.
OWN = "="


class Deltas:
    """Changes to counters, collected over a batch and written once."""

    def __init__(self) -> None:
        self.by_place: dict[str, Counter[str]] = defaultdict(Counter)
        #: Changes to single rows, not added to the regions above (``app.custody.quantities``).
        self.own: Counter[tuple[str, str]] = Counter()

    def item(
        self,
        item: Any,
        before: rules.ItemState | None,
        after: rules.ItemState | None,
        plan: rules.Plan,
    ) -> None:
        """An item of ``plan``'s kabupaten moved from ``before`` to ``after`` (None: the
        initial state)."""
        rules_item = to_rules_item(item)
        change = metrics_of(item, after, rules_item)
        change.subtract(metrics_of(item, before, rules_item))
        self.add(item.destination, change)
        self.waiting(plan, rules_item, before, -1)
        self.waiting(plan, rules_item, after, 1)

    def waiting(
        self, plan: rules.Plan, item: rules.Item, state: rules.ItemState | None, sign: int
    ) -> None:
        """Count an item (``sign`` 1) or stop counting it (-1) on the leg it waits on in
        ``state`` (``rules.tenggat``): at its destination and the regions above, and in
        the destination's own row, which the desk lists."""
        if item.voided_at is not None:
            return
        leg = rules.waiting_on(plan, item, state or rules.initial_state(item))
        if leg is None:
            return
        self.add(item.destination, {leg.metric: sign})
        self.own[(OWN + item.destination, leg.metric)] += sign

    def add(self, place: str, change: Mapping[str, int]) -> None:
        """Add to the counters of a place (its regions above are added on write)."""
        bucket = self.by_place[place]
        for metric, n in change.items():
            if n:
                bucket[metric] += n

    def finding(self, values: Mapping[str, Any], sign: int = 1) -> None:
        """A stored open finding (the values of a ``FindingRow``) counts where it is placed,
        per principle and severity and per kind (code); a resolved one no longer does."""
        if sign > 0 and values.get("status", "open") != "open":
            return
        principle, severity = values["principle"], values["severity"]
        self.add(
            values["region_code"],
            {
                f"finding:{principle}:{severity}": sign,
                f"kind:{principle}:{severity}:{values['code']}": sign,
            },
        )

    def write(self, session: Session) -> None:
        """Apply the deltas to every region above each place, in key order (no deadlock)."""
        self._complete_tps(session)
        totals: dict[tuple[str, str], int] = defaultdict(int)
        for place, change in self.by_place.items():
            for region in regions_of(place):
                for metric, n in change.items():
                    if n:
                        totals[(region, metric)] += n
            # A destination's own items delivered but unconfirmed (missing after its
            # deadline): app.custody.quantities files them by that deadline.
            if change.get("status:delivered_unconfirmed"):
                totals[(OWN + place, "du")] += change["status:delivered_unconfirmed"]
        for key, n in self.own.items():
            totals[key] += n
        rows = [
            {"region_code": r, "metric": m, "n": n} for (r, m), n in sorted(totals.items()) if n
        ]
        if rows:
            _upsert(session, rows)
            # Flag rows and waiting counts exist only while they count something (the desk
            # lists them, and reads only rows that hold an item).
            emptied = sorted(
                {
                    r["region_code"]
                    for r in rows
                    if r["region_code"][0] == "!" or r["metric"].startswith(EMPTIED)
                }
            )
            for chunk in chunked(emptied):
                session.execute(
                    RegionCount.__table__.delete().where(
                        RegionCount.region_code.in_(chunk),
                        RegionCount.n == 0,
                        RegionCount.region_code.startswith("!")
                        | or_(*(RegionCount.metric.startswith(m) for m in EMPTIED)),
                    )
                )
        self.by_place.clear()
        self.own.clear()

    def _complete_tps(self, session: Session) -> None:
        """A TPS becomes complete (every item delivered) or stops being: count it once."""
        touched = {
            p: c
            for p, c in self.by_place.items()
            if codes.TPS_ID.match(p) and (c.get("items") or c.get("delivered"))
        }
        if not touched:
            return
        now = read(session, touched, ("items", "delivered"))
        for tps, change in touched.items():
            have = now.get(tps, Counter())
            before = have["items"] > 0 and have["delivered"] == have["items"]
            items, delivered = (
                have["items"] + change["items"],
                have["delivered"] + change["delivered"],
            )
            after = items > 0 and delivered == items
            if before != after:
                change["tps_complete"] += 1 if after else -1


def _insert(session: Session) -> Any:
    """An INSERT of counters that can say what to do on conflict (both dialects)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
    return insert(RegionCount)


def _upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    """Add ``n`` to each (region, metric) counter, creating it when missing."""
    stmt = _insert(session)
    stmt = stmt.on_conflict_do_update(
        index_elements=["region_code", "metric"], set_={"n": RegionCount.n + stmt.excluded.n}
    )
    for start in range(0, len(rows), 1000):
        session.execute(stmt, rows[start : start + 1000])


def set_own(session: Session, region: str, metric: str, value: int) -> None:
    """Set one single (not added up) counter to ``value``."""
    have = read(session, [region], [metric]).get(region, Counter())[metric]
    if value != have:
        _upsert(session, [{"region_code": region, "metric": metric, "n": value - have}])


def read(
    session: Session, places: Iterable[str], metrics: Iterable[str] | None = None
) -> dict[str, Counter[str]]:
    """The counters of the given places (all metrics, or only the named ones)."""
    result: dict[str, Counter[str]] = defaultdict(Counter)
    wanted = list(metrics) if metrics is not None else None
    for chunk in chunked(places):
        stmt = select(RegionCount.region_code, RegionCount.metric, RegionCount.n).where(
            RegionCount.region_code.in_(chunk)
        )
        if wanted is not None:
            stmt = stmt.where(RegionCount.metric.in_(wanted))
        for code, metric, n in session.execute(stmt):
            result[code][metric] += n
    return result


def plans_of(session: Session, items: Iterable[Any]) -> dict[str, rules.Plan]:
    """The plans of the items' kabupaten, their deadlines held for this transaction."""
    from app.plan.models import Election

    plans: dict[str, rules.Plan] = {}
    for election_code, kab in sorted({(i.election_code, i.kabkota_code) for i in items}):
        hold_plan(session, kab)
        election = session.get(Election, election_code)
        if election is not None:
            plans[kab] = build_plan(session, election, kab)
    return plans


def count_issued(session: Session, items: Iterable[Any]) -> None:
    """New items start at their gudang: count them."""
    deltas = Deltas()
    items = list(items)
    kabs = {item.kabkota_code for item in items}
    for kab in sorted(kabs):
        _ensure_plan_row(session, kab)
    plans = plans_of(session, items)
    for item in items:
        deltas.add(item.destination, metrics_of(item, None))
        if item.kabkota_code in plans:
            deltas.waiting(plans[item.kabkota_code], to_rules_item(item), None, 1)
    # A kabupaten counted from its first label on needs no recount.
    fresh = [k for k in kabs if not is_counted(session, k) and not _has_counters(session, k)]
    deltas.write(session)
    mark_counted(session, fresh)


def _has_counters(session: Session, kab: str) -> bool:
    return (
        session.scalar(
            select(RegionCount.n).where(
                RegionCount.region_code == kab, RegionCount.metric == "items"
            )
        )
        is not None
    )


def count_voided(session: Session, item: Any, state: rules.ItemState | None) -> None:
    """A voided item leaves every counter it was in."""
    deltas = Deltas()
    change: Counter[str] = Counter()
    live = _Unvoided(item)
    change.subtract(metrics_of(live, state))
    deltas.add(item.destination, change)
    plan = plans_of(session, [item]).get(item.kabkota_code)
    if plan is not None:
        deltas.waiting(plan, to_rules_item(live), state, -1)
    deltas.write(session)


class _Unvoided:
    """An item row seen as it was before it was voided."""

    def __init__(self, item: Any) -> None:
        self._item = item
        self.voided_at = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._item, name)


#: What the counters of a kabupaten hold; older ones are counted again once (``rebuild``).
#: 2: the way back (``kembali:<stage>``, ``closed:<race>``); 3: items waiting on a leg;
#: 4: closings owed per TPS; 5: quantity flags added up the regions; 6: TPS of the plan.
VERSION = 6

#: A kabupaten's own row that changes with its deadlines (``=<kab>``): batches counting
#: by the deadlines hold it shared, a change of deadlines takes it alone.
PLAN_VERSION = "plan_version"


def _ensure_plan_row(session: Session, kab: str) -> None:
    """Create the kabupaten's plan version row if missing (without locking it if not)."""
    session.execute(
        _insert(session)
        .values(region_code=OWN + kab, metric=PLAN_VERSION, n=0)
        .on_conflict_do_nothing(index_elements=["region_code", "metric"])
    )


def hold_plan(session: Session, kab: str) -> int:
    """Hold the kabupaten's deadlines for this transaction (a lock shared with other
    batches; :func:`bump_plan` waits for it, and it for a change under way); the plan
    version."""
    return int(
        session.scalar(
            select(RegionCount.n)
            .where(RegionCount.region_code == OWN + kab, RegionCount.metric == PLAN_VERSION)
            .with_for_update(read=True)
        )
        or 0
    )


def bump_own(session: Session, region: str, metric: str) -> None:
    """Add one to a single (not added up) counter: a version others cache against."""
    _upsert(session, [{"region_code": region, "metric": metric, "n": 1}])


def bump_plan(session: Session, kab: str) -> None:
    """The kabupaten's deadlines change in this transaction: wait for the batches counting
    by the old ones, and make later ones read the new ones."""
    bump_own(session, OWN + kab, PLAN_VERSION)


def is_counted(session: Session, kab: str) -> bool:
    """Whether the kabupaten's counters exist and hold what this version counts."""
    return (
        session.scalar(
            select(RegionCount.n).where(
                RegionCount.region_code == OWN + kab, RegionCount.metric == "counts_version"
            )
        )
        == VERSION
    )


def counted(session: Session, kabs: Iterable[str]) -> set[str]:
    """Those of the kabupaten whose counters hold what this version counts (one read)."""
    wanted = list(kabs)
    have = read(session, [OWN + kab for kab in wanted], ["counts_version"])
    return {kab for kab in wanted if have.get(OWN + kab, Counter())["counts_version"] == VERSION}


def mark_counted(session: Session, kabs: Iterable[str]) -> None:
    """The kabupaten's counters hold what this version counts (new ones, from issuing)."""
    for kab in sorted(set(kabs)):
        set_own(session, OWN + kab, "counts_version", VERSION)


def rebuild(session: Session, kab: str) -> None:
    """Recount a kabupaten from its items, states and findings (once, for older data)."""
    from app.items.models import Item

    old = read(session, [kab]).get(kab, Counter())
    province = kab.split(".")[0]
    # The province keeps the other kabupaten: take out only this one's old share.
    _upsert(
        session,
        [{"region_code": province, "metric": m, "n": -n} for m, n in sorted(old.items()) if n],
    )
    flat = kab.replace(".", "")
    session.execute(
        RegionCount.__table__.delete().where(
            (RegionCount.region_code == kab)
            | RegionCount.region_code.like(kab + ".%")
            | RegionCount.region_code.like(flat + "%")
            # Own and flag rows (app.custody.quantities): rebuilt on the next read.
            | RegionCount.region_code.like(OWN + kab + "%")
            | RegionCount.region_code.like(OWN + flat + "%")
            | RegionCount.region_code.like("!" + kab + "%")
            | RegionCount.region_code.like("!" + flat + "%"),
            RegionCount.metric != PLAN_VERSION,
        )
    )
    deltas = Deltas()
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in session.execute(
            select(ItemStateRow.serial, ItemStateRow.state).where(ItemStateRow.kabkota_code == kab)
        )
    }
    election = _election_of(session, kab)
    plan = None
    if election is not None:
        hold_plan(session, kab)
        plan = build_plan(session, election, kab)
    for item in session.execute(select(*ITEM_COLUMNS).where(Item.kabkota_code == kab)):
        deltas.add(item.destination, metrics_of(item, states.get(item.serial)))
        if plan is not None:
            deltas.waiting(plan, to_rules_item(item), states.get(item.serial), 1)
    for values in session.execute(
        select(
            FindingRow.region_code,
            FindingRow.principle,
            FindingRow.severity,
            FindingRow.code,
            FindingRow.status,
        ).where(FindingRow.kabkota_code == kab)
    ):
        deltas.finding(values._mapping)
    for node, moment in session.execute(
        select(CustodyEvent.node, CustodyEvent.server_time).where(
            CustodyEvent.kabkota_code == kab, CustodyEvent.action == "terima"
        )
    ):
        deltas.add(node, receipt_metrics(node, moment))
    for node, identified_by in session.execute(
        select(CustodyEvent.node, CustodyEvent.identified_by).where(
            CustodyEvent.kabkota_code == kab, CustodyEvent.identified_by.is_not(None)
        )
    ):
        deltas.add(node, identified_metrics(identified_by))
    from app.closing.models import ClosingRecord

    for tps, race in session.execute(
        select(ClosingRecord.tps, ClosingRecord.race_kind)
        .where(ClosingRecord.kabkota_code == kab)
        .distinct()
    ):
        closed(deltas, tps, race)
    deltas.write(session)
    if election is not None:  # what the plan expects of its TPS
        from app.custody import closings

        closings.expect(session, election, kab)
    mark_counted(session, [kab])


def _election_of(session: Session, kab: str) -> Any:
    """The election whose races cover the kabupaten (None: none does)."""
    from app.plan import service as plan_service
    from app.plan.models import Election

    for election in session.scalars(select(Election).order_by(Election.code)):
        if plan_service.races_at(election, kab):
            return election
    return None


def closed(deltas: Deltas, tps: str, race: str) -> None:
    """A TPS filed its first closing record (C.Hasil) for a race."""
    deltas.add(tps, {f"closed:{race}": 1})
    deltas.own[(OWN + tps, f"closed:{race}")] += 1


def identified_metrics(identified_by: str | None) -> dict[str, int]:
    """A scan counted by how it identified its item (signed QR, https QR, typed serial)."""
    return {f"identified:{identified_by}": 1} if identified_by else {}


def findings_resolved(session: Session, ids: Iterable[Any]) -> None:
    """Stored findings were resolved: they leave the open counts (call after the UPDATE)."""
    deltas = Deltas()
    stmt = select(
        FindingRow.region_code, FindingRow.principle, FindingRow.severity, FindingRow.code
    )
    for row in rows_in(session, stmt, FindingRow.id, ids):
        deltas.finding(row._mapping, sign=-1)
    deltas.write(session)


def receipt_metrics(node: str, moment: datetime) -> dict[str, int]:
    """A receipt (``terima``) at a node: counted per hour, apart for receipts at a TPS."""
    metrics = {f"terima:{hour_of(moment)}": 1}
    if codes.TPS_ID.match(node):
        metrics[f"terima_tps:{hour_of(moment)}"] = 1
    return metrics
