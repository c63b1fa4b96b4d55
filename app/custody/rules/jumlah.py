"""Tepat jumlah: counts at handovers and per-TPS quantities against the plan."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

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


def _contribution(item: Item, state: ItemState) -> tuple[int, int]:
    return state.quantity, (state.quantity if state.delivered_at is not None else 0)


def tally_items(items: Iterable[Item], states: Mapping[str, ItemState]) -> dict[str, TpsTally]:
    """Return the tallies of all items from scratch, keyed by destination."""
    tallies: dict[str, TpsTally] = {}
    for item in items:
        state = states.get(item.serial) or initial_state(item)
        known, received = _contribution(item, state)
        tally = tallies.get(item.destination) or TpsTally(item.destination)
        tallies[item.destination] = tally.adjust((item.item_type, item.race), known, received)
    return tallies


def _key_order(key: TallyKey) -> tuple[str, str]:
    return (str(key[0]), "" if key[1] is None else str(key[1]))


def check_tps_quantities(plan: Plan, tally: TpsTally) -> tuple[Finding, ...]:
    """Compare the known quantities of one TPS with its plan: shortage and surplus."""
    findings = []
    planned_items = sorted(plan.planned_for(tally.tps).items(), key=lambda kv: _key_order(kv[0]))
    for key, planned in planned_items:
        known = tally.known.get(key, 0)
        if known == planned:
            continue
        item_type, race = key
        what, unit = _what(item_type, race), _unit(item_type)
        short = known < planned
        findings.append(
            _finding(
                Code.SHORTAGE if short else Code.SURPLUS,
                Severity.CRITICAL if short else Severity.WARNING,
                f"{_place(tally.tps)} {'kurang' if short else 'lebih'} "
                f"{abs(planned - known)} {unit} {what}: tercatat {known} dari rencana {planned}",
                tps=tally.tps,
                item_type=str(item_type),
                race=None if race is None else str(race),
                planned=planned,
                known=known,
                received=tally.received.get(key, 0),
            )
        )
    return tuple(findings)


def check_all_quantities(plan: Plan, tallies: Mapping[str, TpsTally]) -> tuple[Finding, ...]:
    """Run check_tps_quantities for every destination in the plan."""
    findings: list[Finding] = []
    for destination in sorted(plan.destinations):
        findings += check_tps_quantities(plan, tallies.get(destination) or TpsTally(destination))
    return tuple(findings)
