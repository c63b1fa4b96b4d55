"""Tepat sasaran: the item is scanned only on its planned route and dispatched toward it."""

from __future__ import annotations

from app.custody.rules.custody import _kind
from app.custody.rules.model import (
    Action,
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    NodeKind,
    Severity,
)
from app.custody.rules.wording import _finding, _place


def _sasaran(
    route: tuple[str, ...] | None, item: Item, before: ItemState, event: Event
) -> list[Finding]:
    node, ids = event.node, (event.event_id,)
    if (
        event.action in (Action.TERIMA, Action.BUKA)
        and _kind(node) is NodeKind.KPPS
        and node != item.destination
    ):
        return [
            _finding(
                Code.WRONG_TPS,
                Severity.CRITICAL,
                f"Barang untuk {_place(item.destination)}, bukan TPS {node}",
                item=item,
                node=node,
                event_ids=ids,
                destination=item.destination,
            )
        ]
    if route is not None and before.last_node != node and node not in route:
        return [
            _finding(
                Code.OFF_ROUTE,
                Severity.WARNING,
                f"Dipindai di {_place(node)}, di luar rute ke {_place(item.destination)} "
                f"({' -> '.join(route)})",
                item=item,
                node=node,
                event_ids=ids,
                route=" -> ".join(route),
            )
        ]
    return []


def _dispatch_target(
    route: tuple[str, ...] | None, event: Event, returning: bool
) -> tuple[str | None, str | None]:
    """Return (target, expected next node) of a kirim/kembali."""
    expected = None
    if route is not None and event.node in route:
        i = route.index(event.node)
        j = i - 1 if returning else i + 1
        if 0 <= j < len(route):
            expected = route[j]
    return (event.target or expected), expected
