"""What ``flask ledger verify`` recomputes beyond the chains: the derived tables.

The desk and Bawaslu read item state, TPS tallies and findings, which ingest keeps up
to date. Each kabupaten's log is folded again from scratch (``rules.recompute``) and
every stored row is compared with the result; the first rows that differ are named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.custody import codec, rules
from app.custody.chunks import scalars_in
from app.custody.errors import CustodyError
from app.custody.ledger import rules_event
from app.custody.models import CustodyEvent, FindingRow, ItemStateRow, TpsTallyRow
from app.custody.planview import build_plan, to_rules_item
from app.items.models import Item
from app.plan.models import Election, PlanLine
from app.plan.needs import compute_needs

#: Rows named per table and kabupaten: the first that differ are enough to act on.
NAMED = 5
#: Findings ingest files about the device or the request, not about the goods: the log
#: of accepted events does not give them again.
DEVICE_CODES = frozenset(
    {
        "clock_skew",
        "clock_unknown",
        "clock_unstable",
        "device_seq_gap",
        "event_conflict",
        "voided_label_scanned",
        "forged_label_scanned",
        "unknown_label_scanned",
    }
)


def _fold(
    plan: rules.Plan, items: list[rules.Item], events: list[rules.Event]
) -> tuple[rules.Book, list[rules.Finding], str | None]:
    """Apply the log in receipt order as ingest did; stop at an event the rules refuse."""
    book = rules.Book(plan, items)
    findings: list[rules.Finding] = []
    for event in sorted(events, key=rules.event_order):
        try:
            findings += book.apply(event).findings
        except CustodyError as exc:
            return book, findings, f"event {event.event_id} (seri {event.serial}): {exc}"
    return book, findings, None


def _finding_key(code: str, serial: str | None, event_ids: Any) -> tuple[str, str, tuple[str, ...]]:
    return code, serial or "", tuple(sorted(str(e) for e in event_ids or ()))


def derived_problems(session: Session, default: Election) -> Iterator[str]:
    """Name stored item states, tallies, findings and plan lines that the log (and, for
    plan lines, the TPS list and the rules) do not give again."""
    kabupatens = sorted(
        set(session.scalars(select(CustodyEvent.kabkota_code).distinct()))
        | set(session.scalars(select(ItemStateRow.kabkota_code).distinct()))
        | set(session.scalars(select(PlanLine.kabkota_code).distinct()))
    )
    # Ingest folds each kabupaten's events on its own: an item scanned in two kabupaten
    # (ballots "tertukar") has a history no single fold repeats; it is left out below.
    kabs_of: dict[str, set[str]] = defaultdict(set)
    for serial, kab in session.execute(
        select(CustodyEvent.serial, CustodyEvent.kabkota_code).distinct()
    ):
        kabs_of[serial].add(kab)
    crossing = {serial for serial, kabs in kabs_of.items() if len(kabs) > 1}
    for kab in kabupatens:
        election = _election_of(session, kab) or default
        yield from _plan_lines(session, election, kab)
        only_here = {s for s, kabs in kabs_of.items() if kabs == {kab}}
        yield from _kabupaten(session, election, kab, only_here, crossing)


def _election_of(session: Session, kab: str) -> Election | None:
    """The election a kabupaten is planned for (the latest, if several)."""
    return session.scalar(
        select(Election)
        .join(PlanLine, PlanLine.election_code == Election.code)
        .where(PlanLine.kabkota_code == kab)
        .order_by(Election.election_day.desc())
        .limit(1)
    )


def _plan_lines(session: Session, election: Election, kab: str) -> Iterator[str]:
    """Stored plan lines against the needs computed again from the TPS list and the rules."""
    from app.plan import service as plan  # the plan's own computation, not a copy of it

    wanted = {
        (line.destination, line.item_type, line.race): line.quantity
        for line in compute_needs(
            plan.load_rules(session), plan.tps_facts(session, election, kab), kab
        )
    }
    stored = {
        (line.destination, line.item_type, line.race): line.quantity
        for line in plan.plan_lines(session, election.code, kab)
    }
    named = 0
    for key in sorted(set(wanted) | set(stored)):
        if wanted.get(key) != stored.get(key) and named < NAMED:
            named += 1
            yield (
                f"plan_line {key[0]} {key[1]} {key[2] or '-'}: tersimpan {stored.get(key)}, "
                f"dihitung ulang {wanted.get(key)}"
            )


def _kabupaten(
    session: Session, election: Election, kab: str, only_here: set[str], crossing: set[str]
) -> Iterator[str]:
    rows = list(
        session.scalars(
            select(CustodyEvent)
            .where(CustodyEvent.kabkota_code == kab)
            .order_by(CustodyEvent.serial, CustodyEvent.item_seq)
        )
    )
    # The kabupaten's items and every item its events name (a carton from elsewhere too).
    named_here = {row.serial for row in rows} | {row.container for row in rows if row.container}
    loaded = {i.serial: i for i in session.scalars(select(Item).where(Item.kabkota_code == kab))}
    missing = named_here - set(loaded)
    loaded.update({i.serial: i for i in scalars_in(session, select(Item), Item.serial, missing)})
    items = [to_rules_item(i) for i in loaded.values()]
    book, logged, refused = _fold(
        build_plan(session, election, kab), items, [rules_event(row) for row in rows]
    )
    if refused is not None:
        yield f"log {kab} tidak dapat dihitung ulang: {refused}"
        return
    states, tallies = book.states, rules.tally_items(book.items.values(), book.states)
    heads: dict[str, bytes] = {row.serial: row.hash for row in rows}  # the last per serial

    named = 0
    stored_serials = set()
    state_rows = scalars_in(session, select(ItemStateRow), ItemStateRow.serial, only_here)
    for row in sorted(state_rows, key=lambda r: r.serial):
        stored_serials.add(row.serial)
        state = states.get(row.serial)
        differs = state is None or (
            codec.state_to_dict(state) != row.state
            or codec.stage_of(state) != row.stage
            or (state.holder, state.transit_to, state.container, state.seq)
            != (row.holder, row.transit_to, row.container, row.item_seq)
            or state.condition.value != row.condition
            or heads.get(row.serial) != row.last_hash
        )
        if differs and named < NAMED:
            named += 1
            yield f"item_state {row.serial}: tidak sama dengan hasil hitung ulang dari log"
    for serial in sorted(set(heads) & only_here - stored_serials)[: max(0, NAMED - named)]:
        yield f"item_state {serial}: baris hilang (barang ini punya event di log)"

    named = 0
    unsure = {item.destination for serial, item in loaded.items() if serial in crossing}
    for tally_row in session.scalars(
        select(TpsTallyRow).where(TpsTallyRow.kabkota_code == kab).order_by(TpsTallyRow.tps)
    ):
        if tally_row.tps in unsure:
            continue
        tally = tallies.get(tally_row.tps) or rules.TpsTally(tally_row.tps)
        if codec.tally_to_dict(tally) != tally_row.tally and named < NAMED:
            named += 1
            yield f"tps_tally {tally_row.tps}: tidak sama dengan hasil hitung ulang dari log"

    # Findings that name stored events must come out of the log again, and the other way.
    logged_ids = {str(row.event_id) for row in rows}
    recomputed: dict[tuple[str, str, tuple[str, ...]], int] = defaultdict(int)
    for finding in logged:
        if finding.event_ids and finding.serial not in crossing:
            recomputed[_finding_key(finding.code, finding.serial, finding.event_ids)] += 1
    stored: dict[tuple[str, str, tuple[str, ...]], list[FindingRow]] = defaultdict(list)
    for finding_row in session.scalars(
        select(FindingRow).where(FindingRow.kabkota_code == kab).order_by(FindingRow.created_at)
    ):
        ids = [str(e) for e in finding_row.event_ids or ()]
        device = finding_row.code in DEVICE_CODES and not any(
            key[0] == finding_row.code for key in recomputed
        )
        if (
            ids
            and not device
            and finding_row.serial not in crossing
            and all(e in logged_ids for e in ids)
        ):
            key = _finding_key(finding_row.code, finding_row.serial, ids)
            stored[key].append(finding_row)
    named = 0
    for key, found in stored.items():
        if key not in recomputed and named < NAMED:
            named += 1
            yield (
                f"finding {found[0].id} ({key[0]}): tidak dihasilkan oleh log "
                "(disisipkan atau diubah)"
            )
    for key in sorted(set(recomputed) - set(stored))[: max(0, NAMED - named)]:
        yield f"finding {key[0]} untuk {key[1] or '-'} (event {', '.join(key[2])}): hilang"
