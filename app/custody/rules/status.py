"""Where each item stands on its way: the status the desk counts (one enum, one function)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime

from app.custody.rules.custody import initial_state
from app.custody.rules.model import Item, ItemState, ItemStatus, Plan


def item_status(plan: Plan, item: Item, state: ItemState | None, now: datetime) -> ItemStatus:
    """Return an issued item's status as of ``now``.

    Reported lost is missing. At its destination an item is confirmed once its own scan
    there or a count of its container covered it; until the last leg's deadline it is
    delivered unconfirmed, from the deadline on it is missing. Anything on the way
    (dispatched, or held by a PPK or PPS) is in transit; never scanned, or held by its
    gudang, at the gudang.
    """
    state = state or initial_state(item)
    if state.lost:
        return ItemStatus.MISSING
    if state.confirmed_at is not None and (state.returning or state.holder == item.destination):
        return ItemStatus.CONFIRMED
    if state.holder == item.destination and state.transit_to is None:
        deadline = plan.final_deadline(item.destination)
        if deadline is not None and now > deadline:
            return ItemStatus.MISSING
        return ItemStatus.DELIVERED_UNCONFIRMED
    if state.holder is None or (state.holder == item.region and state.transit_to is None):
        return ItemStatus.AT_GUDANG
    return ItemStatus.IN_TRANSIT


def count_statuses(
    plan: Plan,
    items: Iterable[Item],
    states: Mapping[str, ItemState],
    now: datetime,
    *,
    within: str | None = None,
) -> dict[ItemStatus, int]:
    """Count items per status (destinations under ``within``, a code prefix, if given).

    ``NOT_ISSUED`` counts planned destinations with no label issued at all.
    """
    counts: Counter[ItemStatus] = Counter({status: 0 for status in ItemStatus})
    issued_for: set[str] = set()
    for item in items:
        if item.voided_at is not None or not _under(item.destination, within):
            continue
        issued_for.add(item.destination)
        counts[item_status(plan, item, states.get(item.serial), now)] += 1
    counts[ItemStatus.NOT_ISSUED] = sum(
        1
        for destination in plan.destinations
        if destination not in issued_for
        and _under(destination, within)
        and any(plan.planned_for(destination).values())
    )
    return {status: counts[status] for status in ItemStatus}


def _under(code: str, within: str | None) -> bool:
    if within is None:
        return True
    flat = within.replace(".", "")
    return code.startswith(within) or (code.isdigit() and code.startswith(flat))
