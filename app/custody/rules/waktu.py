"""Tepat waktu: device clock skew, late arrivals, overdue and at-risk legs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from app.custody.rules.chain import _utc, occurred_at
from app.custody.rules.custody import _route, initial_state
from app.custody.rules.model import (
    DEFAULT_POLICY,
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    Plan,
    Policy,
    Severity,
    _aware,
)
from app.custody.rules.wording import _finding, _place, _when


def _skew(event: Event, item: Item, policy: Policy) -> list[Finding]:
    if event.clock_offset is not None:
        return []  # the server measured this device's clock and corrects for it
    skew = event.device_time - event.server_time
    # Ahead of the server is wrong for sure; behind is usually an offline upload.
    if -policy.max_offline <= skew <= policy.max_clock_skew:
        return []
    minutes = int(abs(skew).total_seconds() // 60)
    # A device ahead of the server is wrong for sure; one behind may just have
    # uploaded late after working offline.
    ahead = skew > timedelta(0)
    return [
        _finding(
            Code.CLOCK_SKEW,
            Severity.WARNING if ahead else Severity.INFO,
            f"Jam perangkat {event.device_id} {'lebih cepat' if ahead else 'tertinggal'} "
            f"{minutes} menit dari jam server; pemindaian tetap dicatat",
            item=item,
            node=event.node,
            event_ids=(event.event_id,),
            device_id=event.device_id,
            skew_seconds=int(skew.total_seconds()),
        )
    ]


def _late(
    plan: Plan, route: tuple[str, ...] | None, item: Item, event: Event, returning: bool
) -> list[Finding]:
    if returning or route is None or event.node not in route:
        return []
    i = route.index(event.node)
    if i == 0:
        return []
    deadline = plan.deadline(route[i - 1], event.node)
    when = occurred_at(event)
    if deadline is None or when <= deadline:
        return []
    final = event.node == item.destination
    # A device whose clock the server could not check is flagged, not trusted.
    trusted = event.clock_offset is not None or event.clock_verified
    return [
        _finding(
            Code.LATE,
            Severity.CRITICAL if final and trusted else Severity.WARNING,
            f"Tiba di {_place(event.node)} {_when(when, event.node)}, "
            f"lewat tenggat {_when(deadline, event.node)}"
            + ("" if trusted else " (jam perangkat belum terverifikasi)"),
            item=item,
            node=event.node,
            event_ids=(event.event_id,),
            deadline=_utc(deadline),
            occurred_at=_utc(when),
            late_minutes=int((when - deadline).total_seconds() // 60),
            clock="corrected" if event.clock_offset is not None else None,
        )
    ]


# --- deadlines ----------------------------------------------------------------------


def check_deadlines(
    plan: Plan,
    items: Mapping[str, Item],
    states: Mapping[str, ItemState],
    now: datetime,
    horizon: timedelta = DEFAULT_POLICY.at_risk_horizon,
) -> tuple[Finding, ...]:
    """Return overdue, at-risk and never-received findings as of ``now``.

    Each item is checked against the next leg on its route; items inside a
    container are represented by the container, and items delivered or on the
    return journey have no forward deadline left.
    """
    if not _aware(now):
        raise ValueError("now must be timezone-aware")
    findings: list[Finding] = []
    for serial in sorted(items):
        item = items[serial]
        state = states.get(serial) or initial_state(item)
        if state.container is not None or state.delivered_at is not None or state.returning:
            continue
        if item.destination not in plan.destinations:
            continue
        route = _route(plan, item.destination)
        if route is None or len(route) < 2:
            continue
        ids = () if state.last_event_id is None else (state.last_event_id,)
        position = (
            0
            if state.holder is None
            else (route.index(state.holder) if state.holder in route else None)
        )
        if position is None:  # off route: all that is left is the final deadline
            deadline = plan.deadline(route[-2], route[-1])
            if deadline is not None and now > deadline:
                findings.append(_overdue(item, route[-1], deadline, ids))
            continue
        if position >= len(route) - 1:
            continue
        here, next_node = route[position], route[position + 1]
        deadline = plan.deadline(here, next_node)
        if deadline is None:
            continue
        in_transit = state.transit_to == next_node
        if now > deadline:
            findings.append(_overdue(item, next_node, deadline, ids))
            if in_transit:
                findings.append(
                    _finding(
                        Code.NOT_RECEIVED,
                        Severity.CRITICAL,
                        f"Dikirim dari {_place(here)} ke {_place(next_node)} tetapi belum "
                        f"dicatat diterima setelah tenggat {_when(deadline, next_node)}",
                        item=item,
                        node=next_node,
                        event_ids=ids,
                        from_node=here,
                        deadline=_utc(deadline),
                    )
                )
        elif not in_transit and now >= deadline - horizon:
            hours = int((deadline - now).total_seconds() // 3600)
            findings.append(
                _finding(
                    Code.AT_RISK,
                    Severity.WARNING,
                    f"Belum dikirim dari {_place(here)} ke {_place(next_node)}; tenggat "
                    f"{_when(deadline, next_node)} tinggal {hours} jam lagi",
                    item=item,
                    node=next_node,
                    event_ids=ids,
                    from_node=here,
                    deadline=_utc(deadline),
                )
            )
    return tuple(findings)


def _overdue(item: Item, to_node: str, deadline: datetime, ids: tuple[str, ...]) -> Finding:
    return _finding(
        Code.OVERDUE,
        Severity.CRITICAL,
        f"Belum sampai di {_place(to_node)} padahal tenggat {_when(deadline, to_node)} sudah lewat",
        item=item,
        node=to_node,
        event_ids=ids,
        deadline=_utc(deadline),
    )
