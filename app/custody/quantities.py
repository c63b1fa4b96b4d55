"""Quantity findings per destination, kept on ingest and issuing, so the desk never checks
every TPS tally of a kabupaten (that grew with the kabupaten: seconds at 8,000 TPS for
the first request of a server process).

Whenever a destination's tally or items change (a scan, issuing, a void, a plan import)
:func:`collect` checks that one destination against its plan (``rules.check_destination``,
before and after its last leg's deadline) and keeps the answer in ``region_count``:

* rows ``!<destination>`` hold ``q:<deadline>:<pre|post>:<code>:<severity>``, the
  shortages and surpluses it has before (``pre``) and after (``post``) the deadline of
  its last leg (``-``: no deadline, ``pre`` only), and the row ``!<kabupaten>`` the same
  as ``<destination>|q:…``. A row exists only while it holds a finding, so the desk lists
  the short TPS of a kabupaten with one primary-key read of ``!<kabupaten>`` (an equality,
  not a ``LIKE``: under a ``C.UTF-8`` or any non-``C`` collation PostgreSQL serves no
  ``LIKE 'prefix%'`` from the btree), whatever the size of the kabupaten;
* ``not_issued`` (planned, no label issued yet) and ``unconfirmed@<deadline>`` (items
  delivered but not confirmed, by the deadline after which they count as missing) are
  added to the destination and every region above it, like the other counters; rows
  ``=<destination>`` keep the destination's own values (and ``du``, its items delivered
  unconfirmed, written by ``counts.Deltas``) to compute the next change from.

A kabupaten whose plan was imported before this existed is checked once on first read
(:func:`ensure`, marker ``q_counted`` on ``=<kabupaten>``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from app.custody import codec, counts, rules
from app.custody.chunks import chunked, rows_in, starting_with
from app.custody.models import TpsTallyRow
from app.custody.planview import partial_plan, partial_plans
from app.plan import codes
from app.plan.models import Election, PlanLine, Region, Tps

OWN, FLAG = counts.OWN, "!"
MARK = "q_counted"
NO_DEADLINE = "-"
_STAMP = "%Y%m%dT%H%M%S"


def stamp(deadline: datetime | None) -> str:
    """A deadline as a metric suffix (UTC, to the second)."""
    return NO_DEADLINE if deadline is None else deadline.astimezone(UTC).strftime(_STAMP)


def passed(mark: str, now: datetime) -> bool:
    """Whether the deadline a metric suffix names is behind ``now``."""
    return mark != NO_DEADLINE and now > _moment(mark)


@lru_cache(maxsize=4096)
def _moment(mark: str) -> datetime:
    """A metric suffix as an instant (a handful of distinct deadlines: parsed once each)."""
    # Not strptime: its first call in a process compiles regular expressions (~0.2 s).
    y, mo, d, h, mi, sec = (int(mark[a:b]) for a, b in _FIELDS)
    return datetime(y, mo, d, h, mi, sec, tzinfo=UTC)


_FIELDS = ((0, 4), (4, 6), (6, 8), (9, 11), (11, 13), (13, 15))


def _wanted(plan: rules.Plan, tally: rules.TpsTally) -> tuple[Counter[str], Counter[str]]:
    """(own counters, flags) of one destination as the rules see it now."""
    destination = tally.tps
    deadline = plan.final_deadline(destination)
    mark = stamp(deadline)
    own: Counter[str] = Counter()
    flags: Counter[str] = Counter()
    for mode in ("pre",) if deadline is None else ("pre", "post"):
        found = rules.check_destination(plan, tally, confirmed=mode == "post")
        if found is None:
            own["not_issued"] = 1
            continue
        for finding in found:
            flags[f"q:{mark}:{mode}:{finding.code}:{finding.severity.value}"] += 1
    return own, flags


def collect(
    session: Session,
    election: Election,
    kab: str,
    destinations: Iterable[str],
    deltas: counts.Deltas,
) -> None:
    """Add to ``deltas`` what changed in the quantity counters of these destinations
    (call after their tallies and item deltas are in, before ``deltas.write``)."""
    wanted = sorted(d for d in set(destinations) if _in_kab(d, kab))
    if not wanted:
        return
    plan = partial_plan(session, election, kab, wanted)
    tallies = {
        tps: codec.tally_from_dict(tps, tally)
        for tps, tally in rows_in(
            session, select(TpsTallyRow.tps, TpsTallyRow.tally), TpsTallyRow.tps, wanted
        )
    }
    stored = counts.read(session, [*(OWN + d for d in wanted), *(FLAG + d for d in wanted)])
    for destination in wanted:
        have_own = stored.get(OWN + destination, Counter())
        have_flags = stored.get(FLAG + destination, Counter())
        own, flags = _wanted(plan, tallies.get(destination) or rules.TpsTally(destination))
        # Items delivered unconfirmed, with the batch's own change not yet written.
        unconfirmed = have_own["du"] + deltas.by_place.get(destination, Counter()).get(
            "status:delivered_unconfirmed", 0
        )
        deadline = plan.final_deadline(destination)
        if unconfirmed and deadline is not None:
            own[f"unconfirmed@{stamp(deadline)}"] = unconfirmed
        rolled: Counter[str] = Counter()
        for metric in set(own) | {m for m in have_own if _kept_here(m)}:
            change = own[metric] - have_own[metric]
            if change:
                rolled[metric] = change
                deltas.own[(OWN + destination, metric)] += change
        deltas.add(destination, rolled)
        flagged = False
        for metric in set(flags) | set(have_flags):
            change = flags[metric] - have_flags[metric]
            if change:
                deltas.own[(FLAG + destination, metric)] += change
                # The kabupaten's list of flags: one equality read for the desk.
                deltas.own[(FLAG + kab, f"{destination}|{metric}")] += change
                # And their number at every region above: the desk counts from these.
                deltas.add(destination, {metric: change})
                flagged = True
        if flagged:  # the desk's cached live findings of the kabupaten are stale now
            deltas.add(kab, {"quantity_changes": 1})


def _kept_here(metric: str) -> bool:
    """The own counters this module keeps (others share the destination's own row)."""
    return metric == "not_issued" or metric.startswith("unconfirmed@")


def _in_kab(destination: str, kab: str) -> bool:
    try:
        return codes.kabkota_of(destination) == kab
    except ValueError:
        return False


def refresh(session: Session, election: Election, kab: str, destinations: Iterable[str]) -> None:
    """Check these destinations now and write their counters (issuing, voids)."""
    deltas = counts.Deltas()
    collect(session, election, kab, destinations, deltas)
    deltas.write(session)


def rebuild(session: Session, election: Election, kab: str) -> None:
    """Check every destination of the kabupaten (a plan import; older databases once)."""
    flat = kab.replace(".", "")
    destinations = set(
        session.scalars(
            select(PlanLine.destination)
            .where(PlanLine.election_code == election.code, PlanLine.kabkota_code == kab)
            .distinct()
        )
    )
    destinations.update(session.scalars(select(Tps.id).where(Tps.id.like(flat + "%"))))
    destinations.update(
        session.scalars(select(TpsTallyRow.tps).where(TpsTallyRow.kabkota_code == kab))
    )
    # Destinations that are no longer planned leave their counters too.
    for prefix in (OWN, FLAG):
        for low in (kab, flat):
            destinations.update(
                code[1:]
                for code in session.scalars(
                    select(counts.RegionCount.region_code)
                    .where(counts.RegionCount.region_code.like(prefix + low + "%"))
                    .distinct()
                )
            )
    for chunk in chunked(destinations, 500):
        refresh(session, election, kab, chunk)
    counts.set_own(session, OWN + kab, MARK, 1)


def ensure_many(session: Session, election: Election, kabs: Iterable[str]) -> None:
    """:func:`ensure` of several kabupaten (one read when all are checked already)."""
    wanted = sorted(set(kabs))
    marked = counts.read(session, [OWN + kab for kab in wanted], [MARK])
    for kab in wanted:
        if not marked.get(OWN + kab, Counter())[MARK]:
            rebuild(session, election, kab)
            session.commit()


def ensure(session: Session, election: Election, kab: str) -> None:
    """Check a kabupaten whose counters predate this module (once)."""
    if counts.read(session, [OWN + kab], [MARK]).get(OWN + kab, Counter())[MARK]:
        return
    rebuild(session, election, kab)
    session.commit()


def live(session: Session, election: Election, kab: str, now: datetime) -> list[rules.Finding]:
    """The kabupaten's quantity findings as of ``now``, as ``rules.check_all_quantities``
    gives them: read from the flagged destinations and the kecamatan counters only."""
    kecamatan = list(session.scalars(select(Region.code).where(Region.parent_code == kab)))
    return live_many(session, election, {kab: kecamatan}, now)[kab]


def live_many(
    session: Session, election: Election, kabupaten: Mapping[str, list[str]], now: datetime
) -> dict[str, list[rules.Finding]]:
    """:func:`live` of several kabupaten, each given with its kecamatan: one read per kind
    of row for all of them (a province's page does not read per kabupaten)."""
    kabs = sorted(kabupaten)
    marked = counts.read(session, [OWN + kab for kab in kabs], [MARK])
    for kab in kabs:  # counters that predate this module: checked once
        if not marked.get(OWN + kab, Counter())[MARK]:
            rebuild(session, election, kab)
            session.commit()
    flagged: dict[str, set[str]] = {kab: set() for kab in kabs}
    for code, metric in rows_in(
        session,
        select(counts.RegionCount.region_code, counts.RegionCount.metric).where(
            counts.RegionCount.n > 0
        ),
        counts.RegionCount.region_code,
        [FLAG + kab for kab in kabs],
    ):
        destination, _, flag = metric.partition("|")
        _, mark, mode, _code, _severity = flag.split(":")
        if (mode == "post") == passed(mark, now):
            flagged[code[len(FLAG) :]].add(destination)
    checked = _checked(session, election, {k: sorted(f) for k, f in flagged.items() if f}, now)
    not_issued = not_issued_many(session, kabupaten)
    return {kab: checked.get(kab, []) + not_issued[kab] for kab in kabs}


def _checked(
    session: Session, election: Election, wanted: Mapping[str, list[str]], now: datetime
) -> dict[str, list[rules.Finding]]:
    """The quantity findings at ``now`` of these destinations (per kabupaten), checked
    against the plan of those destinations and their tallies only."""
    plans = partial_plans(session, election, wanted)
    tallies = {
        tps: codec.tally_from_dict(tps, tally)
        for tps, tally in rows_in(
            session,
            select(TpsTallyRow.tps, TpsTallyRow.tally),
            TpsTallyRow.tps,
            {d for ds in wanted.values() for d in ds},
        )
    }
    found: dict[str, list[rules.Finding]] = {}
    for kab, destinations in wanted.items():
        plan = plans[kab]
        found[kab] = []
        for destination in destinations:
            deadline = plan.final_deadline(destination)
            confirmed = deadline is not None and now > deadline
            tally = tallies.get(destination) or rules.TpsTally(destination)
            found[kab] += rules.check_destination(plan, tally, confirmed=confirmed) or ()
    return found


def counted(have: Mapping[str, int], now: datetime) -> Counter[tuple[str, str]]:
    """Quantity findings per (code, severity) at ``now`` from an area's counters (the
    flags of its destinations, added up): before or after each one's deadline."""
    found: Counter[tuple[str, str]] = Counter()
    for metric, n in have.items():
        if n <= 0 or not metric.startswith("q:"):
            continue
        _, mark, mode, code, severity = metric.split(":")
        if (mode == "post") == passed(mark, now):
            found[(code, severity)] += n
    return found


def listed(
    session: Session,
    election: Election,
    area: str,
    kabs: list[str],
    now: datetime,
    limit: int | None,
) -> list[tuple[str, rules.Finding]]:
    """(kabupaten, finding) of the first destinations of ``area`` (in code order) with
    quantity findings at ``now``: at most ``limit`` destinations (None: all). Reads the
    kabupaten's flags a slice at a time, all kabupaten in one statement, until enough
    destinations are found; then checks only those."""
    code, metric = counts.RegionCount.region_code, counts.RegionCount.metric
    where = [code.in_([FLAG + kab for kab in kabs]), counts.RegionCount.n > 0]
    if len(kabs) == 1 and area != kabs[0] and codes.within(area, kabs[0]):
        # Part of a kabupaten: its destinations' codes (TPS ids are the desa's digits).
        where.append(
            starting_with(metric, area + "|")
            | starting_with(metric, area + ".")
            | starting_with(metric, area.replace(".", ""))
        )
    wanted: dict[str, list[str]] = {}
    seen: set[str] = set()
    last: tuple[str, str] = ("", "")
    while limit is None or len(seen) < limit:
        rows = session.execute(
            select(code, metric)
            .where(*where, tuple_(code, metric) > last)
            .order_by(code, metric)
            .limit(_SLICE)
        ).all()
        for flag_row, flag_metric in rows:
            destination, _, flag = flag_metric.partition("|")
            _, mark, mode, _code, _severity = flag.split(":")
            if (mode == "post") != passed(mark, now) or destination in seen:
                continue
            if limit is not None and len(seen) >= limit:
                break
            seen.add(destination)
            wanted.setdefault(flag_row[len(FLAG) :], []).append(destination)
        if len(rows) < _SLICE:
            break
        last = (rows[-1][0], rows[-1][1])
    checked = _checked(session, election, wanted, now)
    return [(kab, f) for kab, found in checked.items() for f in found]


#: Flag rows read at a time when listing.
_SLICE = 500


def not_issued_many(
    session: Session, kabupaten: Mapping[str, list[str]]
) -> dict[str, list[rules.Finding]]:
    """One finding per kecamatan (PPK) with planned destinations that have no label yet
    (and one for the gudang's own, the PSU reserve), from the kecamatan counters; which
    destination comes first is left out (it would take a read of the kecamatan's TPS)."""
    every = [area for areas in kabupaten.values() for area in areas]
    have = counts.read(session, [*every, *(OWN + kab for kab in kabupaten)], ["not_issued"])
    found = {}
    for kab, areas in kabupaten.items():
        waiting = {a: have.get(a, Counter())["not_issued"] for a in areas}
        waiting[kab] = have.get(OWN + kab, Counter())["not_issued"]
        found[kab] = [
            rules.not_issued_finding(area, n, None) for area, n in sorted(waiting.items()) if n > 0
        ]
    return found


def unconfirmed_overdue(have: Counter[str], now: datetime) -> int:
    """Items delivered unconfirmed whose last leg's deadline passed (missing as of now)."""
    return sum(
        n
        for metric, n in have.items()
        if metric.startswith("unconfirmed@") and passed(metric.partition("@")[2], now)
    )
