"""Akuntabilitas: who holds an item after a scan (handovers, clones, receipts without dispatch)."""

from __future__ import annotations

from app.custody.errors import (
    UnknownNode,
)
from app.custody.rules.model import (
    Action,
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    NodeKind,
    Plan,
    Severity,
    node_kind,
)
from app.custody.rules.wording import _finding, _place


def initial_state(item: Item) -> ItemState:
    """Return the state of an item that has just been issued (at its gudang)."""
    return ItemState(serial=item.serial, quantity=item.quantity, container=item.container)


def _route(plan: Plan, destination: str) -> tuple[str, ...] | None:
    try:
        return plan.route(destination)
    except UnknownNode:
        return None


def _kind(code: str | None) -> NodeKind | None:
    if code is None:
        return None
    try:
        return node_kind(code)
    except UnknownNode:
        return None


def _custody(
    item: Item,
    before: ItemState,
    event: Event,
    route: tuple[str, ...] | None = None,
    carried: bool = False,
) -> tuple[str, str | None, list[Finding]]:
    """Resolve who holds the item after this scan; return (holder, transit_to, findings).

    A receipt at the next node of the item's route while the record still has it at
    the previous one is a dispatch nobody scanned (a warning); a sighting anywhere
    else is a second physical copy of the label (critical). Of two sightings, the
    one on the item's route keeps custody, whichever was uploaded first (an item
    ``carried`` in a container always goes where its container goes).
    """
    node, action = event.node, event.action
    holder, transit_to = before.holder, before.transit_to
    ids = (event.event_id,)
    on_route = frozenset(route or ())

    def received_without_dispatch() -> Finding:
        return _finding(
            Code.RECEIVED_WITHOUT_DISPATCH,
            Severity.WARNING,
            f"Diterima di {_place(node)} tanpa catatan pengiriman ke sana",
            item=item,
            node=node,
            event_ids=ids,
            expected_from=holder,
            in_transit_to=transit_to,
        )

    def cloned() -> tuple[str, str | None, list[Finding]]:
        where = holder if transit_to is None else f"{holder} -> {transit_to}"
        recorded = transit_to or holder
        # The copy is the sighting off the route: it is placed there, custody stays put.
        copy_is_new = not carried and node not in on_route and recorded in on_route
        copy_was_first = node in on_route and recorded not in on_route
        copy_at = recorded if copy_was_first else node
        finding = _finding(
            Code.CLONED_LABEL,
            Severity.CRITICAL,
            f"Label yang sama dipindai di {_place(node)} padahal barang tercatat di "
            f"{where}: kemungkinan label ganda",
            item=item,
            node=copy_at,
            event_ids=ids,
            recorded_at=where,
            seen_at=node,
            copy_at=copy_at,
        )
        if copy_is_new:
            return holder or node, transit_to, [finding]
        return node, None, [finding]

    def next_on_route(here: str | None) -> str | None:
        if route is None or here is None or here not in on_route:
            return None
        i = route.index(here)
        return route[i + 1] if i + 1 < len(route) else None

    if holder is None:
        # Vendors deliver to gudangs; appearing first anywhere else skips a handover.
        if _kind(node) is NodeKind.GUDANG:
            return node, None, []
        return node, None, [received_without_dispatch()]
    if transit_to is not None:
        if action is Action.TERIMA:
            return node, None, [] if node == transit_to else [received_without_dispatch()]
        if node == holder:
            return holder, transit_to, []  # still at the sender: sealing or re-dispatching
        if node == transit_to:
            not_received = _finding(
                Code.NOT_RECEIVED,
                Severity.WARNING,
                f"Dipakai di {_place(node)} tanpa dicatat diterima dari {_place(holder)}",
                item=item,
                node=node,
                event_ids=ids,
                from_node=holder,
            )
            return node, None, [not_received]
        return cloned()
    if node == holder:
        return holder, None, []
    if action is Action.TERIMA and node == next_on_route(holder):
        missed = _finding(
            Code.DISPATCH_NOT_RECORDED,
            Severity.WARNING,
            f"Diterima di {_place(node)}, tetapi pengiriman dari {_place(holder)} tidak dipindai",
            item=item,
            node=node,
            event_ids=ids,
            from_node=holder,
        )
        return node, None, [missed]
    return cloned()
