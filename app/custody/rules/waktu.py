"""Tepat waktu: device clock skew, late arrivals, overdue and at-risk legs."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from app.custody.rules.chain import _utc, occurred_at
from app.custody.rules.custody import initial_state
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
from app.custody.rules.tenggat import item_findings, waiting_on
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

    Each item is checked against the next leg on its route (``tenggat.waiting_on``); items
    inside a container are represented by the container, and items delivered or on the
    return journey have no forward deadline left.
    """
    if not _aware(now):
        raise ValueError("now must be timezone-aware")
    findings: list[Finding] = []
    for serial in sorted(items):
        item = items[serial]
        state = states.get(serial) or initial_state(item)
        waiting = waiting_on(plan, item, state)
        if waiting is None or waiting.returning:
            continue
        ids = () if state.last_event_id is None else (state.last_event_id,)
        findings += item_findings(waiting, item, ids, now, horizon)
    return tuple(findings)
