"""Folding one event into one item's state: apply, undo (batal) and corrections (koreksi)."""

from __future__ import annotations

from dataclasses import replace

from app.custody.errors import (
    MalformedEvent,
    NotAllowedInState,
    VoidedLabel,
)
from app.custody.rules.chain import _MOVES, occurred_at, validate_event
from app.custody.rules.custody import _custody, _route, initial_state
from app.custody.rules.jenis import _jenis
from app.custody.rules.jumlah import _count
from app.custody.rules.kembali import (
    check_return_receipt,
    is_return_dispatch,
    is_return_receipt,
    return_received_without_dispatch,
)
from app.custody.rules.kualitas import _kualitas
from app.custody.rules.model import (
    DEFAULT_POLICY,
    Action,
    Code,
    Event,
    Item,
    ItemState,
    Plan,
    Policy,
    Severity,
    Transition,
)
from app.custody.rules.sasaran import _dispatch_target, _sasaran
from app.custody.rules.waktu import _late, _skew
from app.custody.rules.wording import _finding, _place, _sentence, _what


def _snapshot(state: ItemState) -> ItemState:
    return replace(state, previous=None)


def _apply_void(item: Item, before: ItemState, event: Event, carried: bool) -> Transition:
    if before.previous is None or before.last_event_id != event.ref_event_id:
        raise NotAllowedInState(
            item.serial, str(event.action), "only the latest scan can be undone, once"
        )
    seq = before.seq if carried else before.seq + 1
    state = replace(before.previous, seq=seq, previous=None)
    if carried:
        return Transition(state, ())
    finding = _finding(
        Code.SCAN_VOIDED,
        Severity.INFO,
        f"Pemindaian {event.ref_event_id} dibatalkan oleh {event.user_id}",
        item=item,
        node=event.node,
        event_ids=(event.event_id, event.ref_event_id or ""),
    )
    return Transition(state, (finding,))


def _apply_correction(item: Item, before: ItemState, event: Event) -> Transition:
    findings = [
        _finding(
            Code.SCAN_CORRECTED,
            Severity.INFO,
            f"Pemindaian {event.ref_event_id} dikoreksi oleh {event.user_id}",
            item=item,
            node=event.node,
            event_ids=(event.event_id, event.ref_event_id or ""),
        )
    ]
    findings += _count(item, before, event)
    if event.condition is not None and event.condition is not before.condition:
        findings += _kualitas(item, before, replace(event, seals=()))
    state = replace(
        before,
        seq=before.seq + 1,
        last_event_id=event.event_id,
        last_seen_at=event.server_time,
        quantity=before.quantity if event.quantity is None else event.quantity,
        condition=before.condition if event.condition is None else event.condition,
        seals=event.seals or before.seals,
        previous=_snapshot(before),
    )
    return Transition(state, tuple(findings))


#: Events about the label itself: they chain into the item's log and change nothing else.
LABEL_ACTIONS = frozenset({Action.LABEL_VOID, Action.LABEL_REPLACE})


def _label_event(item: Item, before: ItemState, event: Event) -> Transition:
    """``cabut`` / ``ganti``: the label was voided or issued as a replacement; logged only."""
    state = replace(before, seq=before.seq + 1, last_seen_at=event.server_time, previous=None)
    return Transition(state, ())


def apply(
    plan: Plan,
    item: Item,
    state: ItemState | None,
    event: Event,
    *,
    carried: bool = False,
    policy: Policy = DEFAULT_POLICY,
) -> Transition:
    """Apply one event to one item; return its new state and the findings.

    With ``carried`` the event is its container's, moving this item along:
    only the checks about where the item goes run (no count, seals, condition
    or clock checks), and the item's own ``seq`` does not advance.
    """
    if not carried:
        validate_event(event)
        if event.serial != item.serial:
            raise MalformedEvent("the event is for another serial", field="serial")
        if event.action in LABEL_ACTIONS:
            return _label_event(item, state or initial_state(item), event)
        if item.voided_at is not None and event.server_time >= item.voided_at:
            raise VoidedLabel(item.serial, item.voided_at)
    before = state if state is not None else initial_state(item)
    if event.action is Action.VOID:
        return _apply_void(item, before, event, carried)
    if event.action is Action.CORRECT:
        return _apply_correction(item, before, event)
    if event.action is Action.LOST:
        return _report_lost(item, before, event)
    if event.action is Action.UNPACK:
        return _take_out(item, before, event)

    action, node, when = event.action, event.node, occurred_at(event)
    route = _route(plan, item.destination)
    findings = [] if carried else _skew(event, item, policy)
    holder, transit_to, custody = _custody(item, before, event, route, carried)
    findings += custody
    jenis = _jenis(plan, item, before, event)
    findings += jenis
    # An item from another region is off every route here; say so once.
    foreign = any(f.code == Code.REGION_MISMATCH for f in jenis)
    findings += _sasaran(None if foreign else route, item, before, event)

    return_receipt = is_return_receipt(route, item, before, event)
    if return_receipt:  # on the way back, not a clone: nobody scanned the kembali
        holder, transit_to = node, None
        findings = [f for f in findings if f not in custody]
        if not carried:
            findings.append(return_received_without_dispatch(item, before, event))
    returning = (
        before.returning
        or action is Action.KEMBALI
        or return_receipt
        or is_return_dispatch(route, before, event)  # "kirim" back up the route
    )
    dispatched_at = before.dispatched_at
    container = before.container
    opened = before.opened
    if action in _MOVES:
        target, expected = _dispatch_target(route, event, returning)
        if target is None:
            raise MalformedEvent("no target given and none on the route", field="target")
        if not carried and expected is not None and target != expected:
            findings.append(
                _finding(
                    Code.WRONG_DISPATCH_TARGET,
                    Severity.WARNING,
                    f"Dikirim ke {_place(target)}, seharusnya ke {_place(expected)}",
                    item=item,
                    node=node,
                    event_ids=(event.event_id,),
                    target=target,
                    expected=expected,
                )
            )
        holder, transit_to, dispatched_at = node, target, when
    elif action is Action.TERIMA:
        findings += _late(plan, route, item, event, returning)
        if returning and not carried:
            findings += check_return_receipt(plan, route, item, before, event)
    elif action is Action.KEMAS:
        container = event.container
    elif action is Action.BUKA:
        if carried:
            container = None  # released from the opened container
        else:
            opened = True
    elif action is Action.SEGEL:
        opened = False

    if not carried:
        findings += _count(item, before, event)
        findings += _kualitas(item, before, event)

    delivered_at = before.delivered_at
    if delivered_at is None and transit_to is None and holder == item.destination:
        delivered_at = when
    confirmed_at = before.confirmed_at
    # Its own scan at its destination confirms an item; riding in a container does not.
    if confirmed_at is None and not carried and transit_to is None and holder == item.destination:
        confirmed_at = when
    new = replace(
        before,
        seq=before.seq if carried else before.seq + 1,
        holder=holder,
        transit_to=transit_to,
        dispatched_at=dispatched_at if transit_to is not None else None,
        delivered_at=delivered_at,
        last_node=node,
        last_event_id=event.event_id,
        last_seen_at=event.server_time,
        quantity=before.quantity if carried or event.quantity is None else event.quantity,
        condition=before.condition if carried or event.condition is None else event.condition,
        seals=event.seals if action is Action.SEGEL and not carried else before.seals,
        container=container,
        opened=opened,
        returning=returning,
        confirmed_at=confirmed_at,
        previous=_snapshot(before),
    )
    return Transition(new, tuple(findings))


def _take_out(item: Item, before: ItemState, event: Event) -> Transition:
    """``keluarkan``: the item leaves its container (packed by mistake); nothing else moves."""
    if before.container is None:
        raise NotAllowedInState(item.serial, str(event.action), "not inside a container")
    state = replace(
        before,
        seq=before.seq + 1,
        last_node=event.node,
        last_event_id=event.event_id,
        last_seen_at=event.server_time,
        container=None,
        previous=_snapshot(before),
    )
    return Transition(state, ())


def _report_lost(item: Item, before: ItemState, event: Event) -> Transition:
    """``hilang``: someone reports the item lost; it leaves its container and the tallies."""
    if before.lost:
        raise NotAllowedInState(item.serial, str(event.action), "already reported lost")
    finding = _finding(
        Code.REPORTED_LOST,
        Severity.CRITICAL,
        f"{_sentence(_what(item.item_type, item.race))} dilaporkan hilang di {_place(event.node)}",
        item=item,
        node=event.node,
        event_ids=(event.event_id,),
        container=before.container,
    )
    state = replace(
        before,
        seq=before.seq + 1,
        last_node=event.node,
        last_event_id=event.event_id,
        last_seen_at=event.server_time,
        container=None,
        lost=True,
        previous=_snapshot(before),
    )
    return Transition(state, (finding,))
