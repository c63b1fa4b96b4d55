"""Tepat jumlah: counts at handovers and per-TPS quantities against the plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from app.custody.errors import UnknownNode
from app.custody.rules.custody import initial_state
from app.custody.rules.model import (
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    Plan,
    Severity,
    TallyKey,
    TpsTally,
    derive_route,
)
from app.custody.rules.wording import _finding, _place, _unit, _what


def _count(item: Item, before: ItemState, event: Event) -> list[Finding]:
    counted = event.quantity
    # Flag a count that differs from the label unless it repeats the last count:
    # a miscount is reported once, a further loss again, a fix back to the label never.
    if counted is None or counted == item.quantity or counted == before.quantity:
        return []
    unit = _unit(item.item_type)
    return [
        _finding(
            Code.COUNT_MISMATCH,
            Severity.WARNING,
            f"Dihitung {counted} {unit}, label tertulis {item.quantity} "
            f"(selisih {counted - item.quantity})",
            item=item,
            node=event.node,
            event_ids=(event.event_id,),
            label_quantity=item.quantity,
            previous_quantity=before.quantity,
            counted=counted,
        )
    ]


# --- quantities ---------------------------------------------------------------------


def _contribution(item: Item, state: ItemState) -> tuple[int, int, int]:
    """(known, confirmed, delivered) quantity of one item for its destination's tally.

    A lost item counts for nothing, and so does a voided label: its replacement is the
    one counted, once.
    """
    if state.lost or item.voided_at is not None:
        return 0, 0, 0
    delivered = state.quantity if state.delivered_at is not None else 0
    return state.quantity, (delivered if state.confirmed_at is not None else 0), delivered


def tally_items(items: Iterable[Item], states: Mapping[str, ItemState]) -> dict[str, TpsTally]:
    """Return the tallies of all items from scratch, keyed by destination."""
    tallies: dict[str, TpsTally] = {}
    for item in items:
        if item.voided_at is not None:
            continue  # a dead label is no unit of the TPS (its replacement is)
        state = states.get(item.serial) or initial_state(item)
        known, received, delivered = _contribution(item, state)
        tally = tallies.get(item.destination) or TpsTally(item.destination)
        tallies[item.destination] = tally.adjust(
            (item.item_type, item.race), known, received, 1, delivered
        )
    return tallies


def _key_order(key: TallyKey) -> tuple[str, str]:
    return (str(key[0]), "" if key[1] is None else str(key[1]))


def check_tps_quantities(
    plan: Plan, tally: TpsTally, *, confirmed: bool = False
) -> tuple[Finding, ...]:
    """Compare one TPS's quantities with its plan: shortage and surplus.

    Before the last leg's deadline the known quantities count (labels, else counts);
    from it on (``confirmed``) what was delivered but never confirmed by a receipt is
    missing and counts as short (what never arrived is overdue, reported as such).
    A TPS with no label issued at all is not short: it is not issued yet
    (:func:`check_all_quantities` reports those once per kecamatan).
    """
    if not tally.issued:
        return ()
    findings = []
    planned_items = sorted(plan.planned_for(tally.tps).items(), key=lambda kv: _key_order(kv[0]))
    for key, planned in planned_items:
        known = tally.known.get(key, 0)
        received = tally.received.get(key, 0)
        unconfirmed = tally.delivered.get(key, 0) - received
        have = known - unconfirmed if confirmed else known
        if have < planned:
            short = True
        elif known > planned:
            short, have = False, known
        else:
            continue
        item_type, race = key
        what, unit = _what(item_type, race), _unit(item_type)
        recorded = (
            f"{unconfirmed} tiba tanpa konfirmasi, tercatat"
            if confirmed and short and unconfirmed
            else "tercatat"
        )
        findings.append(
            _finding(
                Code.SHORTAGE if short else Code.SURPLUS,
                Severity.CRITICAL if short else Severity.WARNING,
                f"{_place(tally.tps)} {'kurang' if short else 'lebih'} "
                f"{abs(planned - have)} {unit} {what}: {recorded} {have} dari rencana {planned}",
                tps=tally.tps,
                item_type=str(item_type),
                race=None if race is None else str(race),
                planned=planned,
                known=known,
                received=received,
            )
        )
    return tuple(findings)


def check_all_quantities(
    plan: Plan, tallies: Mapping[str, TpsTally], now: datetime | None = None
) -> tuple[Finding, ...]:
    """Run check_tps_quantities for every destination in the plan (as of ``now``, if given),
    and say once per kecamatan how many of its TPS have no label issued yet."""
    findings: list[Finding] = []
    not_issued: dict[str, list[str]] = {}
    for destination in sorted(plan.destinations):
        tally = tallies.get(destination) or TpsTally(destination)
        deadline = plan.final_deadline(destination)
        confirmed = now is not None and deadline is not None and now > deadline
        found = check_destination(plan, tally, confirmed=confirmed)
        if found is None:
            not_issued.setdefault(area_of(destination), []).append(destination)
        else:
            findings += found
    for area, destinations in sorted(not_issued.items()):
        findings.append(not_issued_finding(area, len(destinations), destinations[0]))
    return tuple(findings)


def check_destination(
    plan: Plan, tally: TpsTally, *, confirmed: bool
) -> tuple[Finding, ...] | None:
    """The quantity findings of one destination; None when it is planned but no label was
    issued for it yet (counted once per kecamatan, see :func:`not_issued_finding`)."""
    if not tally.issued:
        return None if sum(plan.planned_for(tally.tps).values()) else ()
    return check_tps_quantities(plan, tally, confirmed=confirmed)


def not_issued_finding(area: str, destinations: int, first: str | None) -> Finding:
    """How many planned destinations of a kecamatan (PPK) have no label issued yet."""
    return _finding(
        Code.NOT_ISSUED,
        Severity.INFO,
        f"Belum diterbitkan labelnya: {destinations} tujuan di {_place(area)}",
        node=area,
        destinations=destinations,
        first=first,
    )


def area_of(destination: str) -> str:
    """The kecamatan (PPK) a destination belongs to, else the destination itself."""
    try:
        route = derive_route(destination)
    except UnknownNode:
        return destination
    return route[1] if len(route) > 1 else route[0]
