"""Tepat jenis: the item's type, race and region against the plan where it is scanned."""

from __future__ import annotations

from app.custody.rules.custody import _kind
from app.custody.rules.model import (
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    NodeKind,
    Plan,
    Severity,
    region_of,
)
from app.custody.rules.wording import _RACE_NAMES, _finding, _sentence, _what


def _jenis(plan: Plan, item: Item, before: ItemState, event: Event) -> list[Finding]:
    node, ids = event.node, (event.event_id,)
    findings: list[Finding] = []
    arrival = before.last_node != node
    node_region = region_of(node)
    if (
        arrival
        and item.region != node_region
        and (before.last_node is None or region_of(before.last_node) != node_region)
    ):
        findings.append(
            _finding(
                Code.REGION_MISMATCH,
                Severity.CRITICAL,
                f"{_sentence(_what(item.item_type, item.race))} ini untuk wilayah "
                f"{item.region}, tetapi dipindai di wilayah {node_region} (tertukar)",
                item=item,
                node=node,
                event_ids=ids,
                label_region=item.region,
                node_region=node_region,
            )
        )
    # Check the race against the TPS where the item is, and on its first scan against
    # the TPS on its label, so a wrongly issued label is caught at the gudang. Whether
    # the type is planned is asked of the label's TPS only: at any other TPS the item
    # is already reported as misdelivered.
    places: list[tuple[str, bool]] = []
    if arrival and _kind(node) is NodeKind.KPPS:
        places.append((node, node == item.destination))
    if before.last_node is None and item.destination != node:
        places.append((item.destination, True))
    for place, check_type in places:
        if place not in plan.races:
            continue
        if item.race is not None and item.race not in plan.races[place]:
            findings.append(
                _finding(
                    Code.RACE_NOT_HELD,
                    Severity.CRITICAL,
                    f"Barang untuk pemilihan {_RACE_NAMES[item.race]}, tetapi TPS {place} "
                    f"tidak menyelenggarakan pemilihan {_RACE_NAMES[item.race]}",
                    item=item,
                    tps=place,
                    node=node,
                    event_ids=ids,
                    race=str(item.race),
                )
            )
        elif check_type and (item.item_type, item.race) not in plan.planned_for(place):
            findings.append(
                _finding(
                    Code.TYPE_NOT_PLANNED,
                    Severity.WARNING,
                    f"{_sentence(_what(item.item_type, item.race))} tidak direncanakan "
                    f"untuk TPS {place}",
                    item=item,
                    tps=place,
                    node=node,
                    event_ids=ids,
                    item_type=str(item.item_type),
                    race=None if item.race is None else str(item.race),
                )
            )
    return findings
