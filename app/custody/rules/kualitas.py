"""Tepat kualitas: condition, seals and boxes opened outside the TPS."""

from __future__ import annotations

from app.custody.rules.custody import _kind
from app.custody.rules.model import (
    Action,
    Code,
    Condition,
    Event,
    Finding,
    Item,
    ItemState,
    NodeKind,
    Severity,
)
from app.custody.rules.wording import _CONDITION_NAMES, _finding, _place, _sentence, _what


def _kualitas(item: Item, before: ItemState, event: Event) -> list[Finding]:
    findings: list[Finding] = []
    node, ids = event.node, (event.event_id,)
    condition = event.condition
    if (
        condition is not None
        and condition is not Condition.BAIK
        and (event.action is Action.RUSAK or condition is not before.condition)
    ):
        findings.append(
            _finding(
                Code.DAMAGED,
                Severity.WARNING if condition is Condition.RUSAK_RINGAN else Severity.CRITICAL,
                f"{_sentence(_what(item.item_type, item.race))} dilaporkan "
                f"{_CONDITION_NAMES[condition]} di {_place(node)}",
                item=item,
                node=node,
                event_ids=ids,
                condition=str(condition),
            )
        )
    if (
        event.action is not Action.SEGEL
        and event.seals
        and before.seals
        and sorted(event.seals) != sorted(before.seals)
    ):
        findings.append(
            _finding(
                Code.SEAL_CHANGED,
                Severity.CRITICAL,
                f"Nomor segel berbeda: saat disegel {', '.join(before.seals)}, "
                f"sekarang {', '.join(event.seals)}",
                item=item,
                node=node,
                event_ids=ids,
                sealed=",".join(before.seals),
                found=",".join(event.seals),
            )
        )
    if event.action is Action.BUKA and _kind(node) is not NodeKind.KPPS:
        findings.append(
            _finding(
                Code.OPENED_OUTSIDE_TPS,
                Severity.CRITICAL,
                f"Dibuka di {_place(node)}, padahal hanya boleh dibuka di TPS",
                item=item,
                node=node,
                event_ids=ids,
            )
        )
    return findings
