"""The way back: return legs checked like the outbound ones.

After counting, the KPPS seals the ballot box and it travels back up its route,
KPPS -> PPS -> PPK -> gudang, each hop with its own deadline (``RouteLeg`` with
``is_return``; in the pure plan simply the hop ``(child, parent)``). The checks
mirror the outbound ones: a receipt after the return deadline is late, a box not
sent or not received by then is overdue or one-sided, a receipt up the route
without a ``kembali`` scan is a receipt without dispatch, and a box that arrives
from further down than the level just below skipped that level.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta

from app.custody.rules.chain import _utc, occurred_at
from app.custody.rules.custody import initial_state
from app.custody.rules.model import (
    Action,
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    Plan,
    Principle,
    Race,
    Severity,
    _aware,
)
from app.custody.rules.tenggat import item_findings, waiting_on
from app.custody.rules.wording import _finding, _place, _sentence, _what, _when

#: The finding code of the way back that the outbound checks have no twin for.
RETURN_SKIPPED_NODE = "return_skipped_node"
#: A TPS that filed no closing record (C.Hasil numbers, seals) by its return deadline.
CLOSING_MISSING = "closing_missing"


def is_return_receipt(
    route: tuple[str, ...] | None, item: Item, before: ItemState, event: Event
) -> bool:
    """A ``terima`` up the route of an item that had reached its destination, no kembali."""
    if (
        event.action is not Action.TERIMA
        or route is None
        or before.returning
        or before.transit_to is not None
        or before.delivered_at is None
        or before.holder not in route
        or event.node not in route
    ):
        return False
    return route.index(event.node) < route.index(before.holder or "")


def is_return_dispatch(route: tuple[str, ...] | None, before: ItemState, event: Event) -> bool:
    """A ``kirim`` up the route of an item that had reached its destination: a return."""
    if (
        event.action is not Action.KIRIM
        or route is None
        or before.delivered_at is None
        or event.target not in route
        or event.node not in route
    ):
        return False
    return route.index(event.target or "") < route.index(event.node)


def return_received_without_dispatch(item: Item, before: ItemState, event: Event) -> Finding:
    """The finding for a box received on the way back that nobody scanned leaving."""
    return _finding(
        Code.RECEIVED_WITHOUT_DISPATCH,
        Severity.WARNING,
        f"{_sentence(_what(item.item_type, item.race))} diterima kembali di "
        f"{_place(event.node)} tanpa catatan pengembalian dari {_place(before.holder or '')}",
        item=item,
        node=event.node,
        event_ids=(event.event_id,),
        expected_from=before.holder,
        leg="kembali",
    )


def check_return_receipt(
    plan: Plan, route: tuple[str, ...] | None, item: Item, before: ItemState, event: Event
) -> list[Finding]:
    """Findings of a ``terima`` on the way back: a level skipped, a late arrival."""
    if event.action is not Action.TERIMA or route is None or event.node not in route:
        return []
    i = route.index(event.node)
    if i + 1 >= len(route):
        return []
    findings: list[Finding] = []
    came_from = before.holder
    if came_from in route and route.index(came_from or "") > i + 1:
        skipped = route[i + 1 : route.index(came_from or "")]
        findings.append(
            Finding(
                code=RETURN_SKIPPED_NODE,
                principle=Principle.SASARAN,
                severity=Severity.CRITICAL,
                message=(
                    f"{_sentence(_what(item.item_type, item.race))} kembali dari "
                    f"{_place(came_from or '')} langsung ke {_place(event.node)}, melewati "
                    + ", ".join(_place(s) for s in skipped)
                ),
                serial=item.serial,
                tps=item.destination,
                node=event.node,
                event_ids=(event.event_id,),
                detail=tuple(
                    sorted({"from_node": came_from, "skipped": ",".join(skipped)}.items())
                ),
            )
        )
    deadline = plan.deadline(route[i + 1], event.node)
    when = occurred_at(event)
    if deadline is not None and when > deadline:
        findings.append(
            _finding(
                Code.LATE,
                Severity.WARNING,
                f"{_sentence(_what(item.item_type, item.race))} kembali tiba di "
                f"{_place(event.node)} {_when(when, event.node)}, lewat tenggat pengembalian "
                f"{_when(deadline, event.node)}",
                item=item,
                node=event.node,
                event_ids=(event.event_id,),
                deadline=_utc(deadline),
                occurred_at=_utc(when),
                late_minutes=int((when - deadline).total_seconds() // 60),
                leg="kembali",
            )
        )
    return findings


def check_return_deadlines(
    plan: Plan, items: Mapping[str, Item], states: Mapping[str, ItemState], now: datetime
) -> tuple[Finding, ...]:
    """Return overdue and one-sided return legs as of ``now``.

    Only boxes for a TPS are expected back, and only once they reached it: each is
    checked against the next hop up its route (sent and received by that hop's
    return deadline; ``tenggat.waiting_on``).
    """
    if not _aware(now):
        raise ValueError("now must be timezone-aware")
    findings: list[Finding] = []
    for serial in sorted(items):
        item = items[serial]
        state = states.get(serial) or initial_state(item)
        waiting = waiting_on(plan, item, state)
        if waiting is None or not waiting.returning:
            continue
        ids = () if state.last_event_id is None else (state.last_event_id,)
        findings += item_findings(waiting, item, ids, now, timedelta(0))
    return tuple(findings)


def check_closings_missing(
    races: Mapping[str, Collection[Race]],
    closed: Collection[tuple[str, Race]],
    deadline: datetime,
    now: datetime,
) -> tuple[Finding, ...]:
    """TPS with a race held but no closing record for it once the return deadline passed.

    ``races`` are the races held per TPS, ``closed`` the (TPS, race) with a closing record,
    ``deadline`` when the boxes must be at the PPS (the KPPS level's return deadline).
    One finding per TPS, naming the races still open.
    """
    if not _aware(now) or not _aware(deadline):
        raise ValueError("now and deadline must be timezone-aware")
    if now <= deadline:
        return ()
    findings: list[Finding] = []
    for tps in sorted(races):
        missing = sorted(str(race) for race in races[tps] if (tps, race) not in closed)
        if not missing:
            continue
        findings.append(
            Finding(
                code=CLOSING_MISSING,
                principle=Principle.AKUNTABILITAS,
                severity=Severity.WARNING,
                message=f"{_sentence(_place(tps))} belum mencatat penutupan kotak suara "
                f"({', '.join(missing)}) padahal tenggat pengembalian {_when(deadline, tps)} "
                "sudah lewat",
                tps=tps,
                node=tps,
                detail=(("deadline", _utc(deadline)), ("races", ",".join(missing))),
            )
        )
    return tuple(findings)
