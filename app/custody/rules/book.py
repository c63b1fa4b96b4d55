"""The Book that folds events over many items, and recompute from scratch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import cast

from app.custody.errors import (
    NotAllowedInState,
    UnknownItem,
    VoidedLabel,
)
from app.custody.rules.chain import (
    _CARRIED,
    _MOVES,
    check_replay,
    event_order,
    occurred_at,
    validate_event,
)
from app.custody.rules.custody import _route, initial_state
from app.custody.rules.fold import _apply_void, apply
from app.custody.rules.jumlah import _contribution, check_all_quantities, tally_items
from app.custody.rules.kembali import check_return_deadlines
from app.custody.rules.model import (
    DEFAULT_POLICY,
    Action,
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    ItemType,
    Plan,
    Policy,
    Race,
    Recomputation,
    Severity,
    TallyKey,
    TpsTally,
    Transition,
    Update,
)
from app.custody.rules.waktu import check_deadlines
from app.custody.rules.wording import _finding, _place, _sentence, _unit, _what

# --- the aggregate ------------------------------------------------------------------


class Book:
    """A pure in-memory custody book: items, their states and per-TPS tallies.

    ``recompute`` opens it on everything. The ingest service may open it on a
    subset: the scanned item, everything inside it (items whose container chain
    leads to it), for ``kemas`` the target container and the containers around
    it, for ``batal`` the items whose ``last_event_id`` is the voided event, and
    the tallies of those items' destinations. ``apply`` then returns only what
    changed.
    """

    def __init__(
        self,
        plan: Plan,
        items: Iterable[Item],
        states: Mapping[str, ItemState] | None = None,
        tallies: Mapping[str, TpsTally] | None = None,
        *,
        policy: Policy = DEFAULT_POLICY,
    ) -> None:
        self.plan = plan
        self.policy = policy
        self.items: dict[str, Item] = {item.serial: item for item in items}
        self.states: dict[str, ItemState] = {
            serial: initial_state(item) for serial, item in self.items.items()
        }
        self.states.update(states or {})
        self.tallies: dict[str, TpsTally] = (
            dict(tallies) if tallies is not None else tally_items(self.items.values(), self.states)
        )
        self._contents: dict[str, set[str]] = {}
        self._moved_by: dict[str, set[str]] = {}  # last_event_id -> serials, for batal
        for serial, state in self.states.items():
            self._index(serial, None, state)
        self._seen: dict[str, Event] = {}

    def contents(self, serial: str) -> tuple[str, ...]:
        """Return the serials directly inside a container, sorted."""
        return tuple(sorted(self._contents.get(serial, ())))

    def _descendants(self, serial: str) -> list[str]:
        found: list[str] = []
        stack = list(reversed(self.contents(serial)))
        while stack:
            inner = stack.pop()
            found.append(inner)
            stack.extend(reversed(self.contents(inner)))
        return found

    def _item(self, serial: str) -> Item:
        try:
            return self.items[serial]
        except KeyError:
            raise UnknownItem(serial) from None

    def _packing(self, item: Item, event: Event) -> list[Finding]:
        assert event.container is not None
        container = self._item(event.container)
        if container.voided_at is not None and event.server_time >= container.voided_at:
            raise VoidedLabel(container.serial, container.voided_at)
        ancestor: str | None = event.container
        while ancestor is not None:
            if ancestor == item.serial:
                raise NotAllowedInState(item.serial, str(event.action), "container inside item")
            ancestor = self.states[ancestor].container if ancestor in self.states else None
        route = _route(self.plan, item.destination)
        if route is None or container.destination in route:
            return []
        return [
            _finding(
                Code.PACKED_FOR_OTHER_DESTINATION,
                Severity.CRITICAL,
                f"Barang untuk {_place(item.destination)} dikemas ke {container.serial} "
                f"untuk {_place(container.destination)}",
                item=item,
                node=event.node,
                event_ids=(event.event_id,),
                container=container.serial,
                container_destination=container.destination,
            )
        ]

    def apply(self, event: Event) -> Update:
        """Apply one event and everything it carries; return what changed."""
        validate_event(event)
        seen = self._seen.get(event.event_id)
        if seen is not None:
            check_replay(seen, event)
            return Update({}, {}, ())
        item = self._item(event.serial)
        findings: list[Finding] = []
        if event.action is Action.KEMAS:
            findings += self._packing(item, event)
        transition = apply(self.plan, item, self.states[item.serial], event, policy=self.policy)
        changed = {item.serial: transition.state}
        findings[:0] = transition.findings
        if event.action is Action.VOID:
            # Undo everything the voided event carried, including contents a buka
            # released (no longer inside) and those still inside.
            assert event.ref_event_id is not None
            for serial in sorted(self._moved_by.get(event.ref_event_id, set()) - {item.serial}):
                inner = self.states[serial]
                if inner.previous is not None:
                    changed[serial] = _apply_void(self._item(serial), inner, event, True).state
        elif event.action in _CARRIED and not _copy_sighting(event, transition):
            carried = event
            if event.action in _MOVES:
                carried = replace(event, target=transition.state.transit_to)
            inside = (
                self.contents(item.serial)
                if event.action is Action.BUKA
                else self._descendants(item.serial)
            )
            moved_findings: list[Finding] = []
            for serial in inside:
                inner_item = self._item(serial)
                if inner_item.voided_at is not None and event.server_time >= inner_item.voided_at:
                    # A voided label rides in the kit but is dead: reported, never moved.
                    moved_findings.append(_voided_inside(item, inner_item, event))
                    continue
                moved = apply(
                    self.plan,
                    self._item(serial),
                    self.states[serial],
                    carried,
                    carried=True,
                    policy=self.policy,
                )
                changed[serial] = moved.state
                moved_findings += moved.findings
            own, grouped = group_carried(item, transition.findings, moved_findings)
            findings[: len(transition.findings)] = own
            findings += grouped
            if event.action is Action.KIRIM:
                findings += self._packed_short(item, event, transition.state)
        if event.counts:
            findings += self._confirm_counts(item, event, changed)
        tallies = self._commit(changed)
        self._seen[event.event_id] = event
        return Update(changed, tallies, tuple(findings))

    def _commit(self, changed: Mapping[str, ItemState]) -> dict[str, TpsTally]:
        touched: dict[str, TpsTally] = {}
        for serial, after in changed.items():
            before = self.states[serial]
            item = self.items[serial]
            self._index(serial, before, after)
            old = _contribution(item, before)
            new = _contribution(item, after)
            if old != new:
                tally = self.tallies.get(item.destination) or TpsTally(item.destination)
                tally = tally.adjust(
                    (item.item_type, item.race),
                    new[0] - old[0],
                    new[1] - old[1],
                    0,
                    new[2] - old[2],
                )
                self.tallies[item.destination] = touched[item.destination] = tally
            self.states[serial] = after
        return touched

    def _index(self, serial: str, before: ItemState | None, after: ItemState) -> None:
        if before is not None and before.container is not None:
            self._contents[before.container].discard(serial)
        if after.container is not None:
            self._contents.setdefault(after.container, set()).add(serial)
        if before is not None and before.last_event_id is not None:
            self._moved_by[before.last_event_id].discard(serial)
        if after.last_event_id is not None:
            self._moved_by.setdefault(after.last_event_id, set()).add(serial)

    def _packed_short(self, kit: Item, event: Event, after: ItemState) -> list[Finding]:
        """A kit leaving its gudang with less inside than the plan of its TPS.

        Compared per item type and race the kit carries: boxes or booths may travel
        beside the kit, but a kit with governor ballots must hold all of them.
        """
        if kit.item_type is not ItemType.KIT or after.holder != kit.region:
            return []
        packed: dict[TallyKey, int] = {}
        for serial in self._descendants(kit.serial):
            inner, state = self.items[serial], self.states[serial]
            if inner.destination == kit.destination and not state.lost:
                key = (inner.item_type, inner.race)
                packed[key] = packed.get(key, 0) + state.quantity
        short = {
            key: planned - packed.get(key, 0)
            for key, planned in self.plan.planned_for(kit.destination).items()
            if key in packed and packed[key] < planned
        }
        if not short:
            return []
        parts = ", ".join(
            f"{n} {_unit(key[0])} {_what(*key)}" for key, n in sorted(short.items(), key=_order)
        )
        return [
            _finding(
                Code.PACKED_SHORT,
                Severity.CRITICAL,
                f"{_sentence(_what(kit.item_type, None))} {kit.serial} dikirim dari "
                f"{_place(event.node)} dengan isi kurang dari rencana: kurang {parts}",
                item=kit,
                node=event.node,
                event_ids=(event.event_id,),
                short=";".join(f"{_key_text(k)}={n}" for k, n in sorted(short.items(), key=_order)),
            )
        ]

    def _confirm_counts(
        self, container: Item, event: Event, changed: dict[str, ItemState]
    ) -> list[Finding]:
        """Confirm a container's contents by the counts taken at its receipt or opening.

        A count confirms that many of the contents of its type: first those already
        confirmed by their own scan (they are surely there), then in serial order (a count
        cannot say which bundle is missing); what it leaves uncovered stays unconfirmed.
        A bundle scanned on its own after the count is confirmed too, without taking the
        confirmation back from another one (a known limit: the count then over-covers).
        One finding per container and item type when the count differs.
        """
        counted = {key: n for key, n in event.counts}
        by_key: dict[str, list[str]] = {}
        inside = self._descendants(container.serial)  # as packed: not yet released
        for serial in inside:
            inner = self.items[serial]
            by_key.setdefault(_key_text((inner.item_type, inner.race)), []).append(serial)
        when = occurred_at(event)
        at_destination = {s for s in inside if self.items[s].destination == event.node}
        findings: list[Finding] = []
        for key in sorted(set(counted) | set(by_key)):
            serials = sorted(
                by_key.get(key, []),
                key=lambda s: (changed.get(s, self.states[s]).confirmed_at is None, s),
            )
            left = counted.get(key)
            if left is None:
                continue  # not counted: stays unconfirmed
            packed = sum(changed.get(s, self.states[s]).quantity for s in serials)
            uncovered: list[str] = []
            for serial in serials:
                state = changed.get(serial, self.states[serial])
                if state.quantity <= left:
                    left -= state.quantity
                    if serial in at_destination and state.confirmed_at is None:
                        changed[serial] = replace(state, confirmed_at=when)
                else:
                    uncovered.append(serial)
            if counted[key] == packed:
                continue
            short = counted[key] < packed
            findings.append(
                _finding(
                    Code.CONTENTS_SHORT if short else Code.CONTENTS_SURPLUS,
                    Severity.CRITICAL if short else Severity.WARNING,
                    f"Isi {_what(container.item_type, None)} {container.serial} di "
                    f"{_place(event.node)}: {_key_words(key)} dihitung {counted[key]}, "
                    f"dikemas {packed} ({'kurang' if short else 'lebih'} "
                    f"{abs(packed - counted[key])})",
                    item=container,
                    node=event.node,
                    event_ids=(event.event_id,),
                    key=key,
                    counted=counted[key],
                    packed=packed,
                    items=len(uncovered),
                    serials=",".join(uncovered[:50]),
                )
            )
        return findings

    def snapshot_findings(self, now: datetime) -> tuple[Finding, ...]:
        """Return the quantity and deadline findings as of ``now``."""
        return check_all_quantities(self.plan, self.tallies, now) + check_deadlines(
            self.plan, self.items, self.states, now, self.policy.at_risk_horizon
        )


def recompute(
    plan: Plan,
    items: Iterable[Item],
    events: Iterable[Event],
    now: datetime,
    *,
    policy: Policy = DEFAULT_POLICY,
) -> Recomputation:
    """Fold the whole log from scratch: states, tallies and every finding as of ``now``,
    and those still open (not resolved by a later batal or koreksi, see :func:`resolves`)."""
    book = Book(plan, items, policy=policy)
    findings: list[Finding] = []
    still_open: list[Finding] = []
    for event in sorted(events, key=event_order):
        raised = book.apply(event).findings
        findings += raised
        still_open = [f for f in still_open if not resolves(event, f)] + list(raised)
    tallies = tally_items(book.items.values(), book.states)
    logged = len(findings)
    findings += check_all_quantities(plan, tallies, now)
    findings += check_deadlines(plan, book.items, book.states, now, policy.at_risk_horizon)
    findings += check_return_deadlines(plan, book.items, book.states, now)
    snapshot = tuple(findings[logged:])
    return Recomputation(dict(book.states), tallies, tuple(findings), tuple(still_open) + snapshot)


#: Which findings a koreksi re-evaluates, by the field it corrects.
_CORRECTED = {
    "quantity": frozenset({Code.COUNT_MISMATCH, Code.CONTENTS_SHORT, Code.CONTENTS_SURPLUS}),
    "condition": frozenset({Code.DAMAGED}),
    "seals": frozenset({Code.SEAL_CHANGED}),
}
#: Findings about the record itself stay open: they are the trace of the undo.
_KEPT = frozenset({Code.SCAN_VOIDED, Code.SCAN_CORRECTED})


def resolved_codes(event: Event) -> frozenset[str] | None:
    """The finding codes an event resolves on the scan it refers to (None: all of them).

    ``batal`` resolves everything the undone scan raised; ``koreksi`` what it corrects
    (the rules raise it again if the corrected value is still wrong); others nothing.
    """
    if event.action is Action.VOID:
        return None
    if event.action is not Action.CORRECT:
        return frozenset()
    codes: frozenset[str] = frozenset()
    if event.quantity is not None:
        codes |= _CORRECTED["quantity"]
    if event.condition is not None:
        codes |= _CORRECTED["condition"]
    if event.seals:
        codes |= _CORRECTED["seals"]
    return codes


def resolves(event: Event, finding: Finding) -> bool:
    """Whether ``event`` (a batal or koreksi) resolves ``finding``."""
    if event.ref_event_id is None or event.ref_event_id not in finding.event_ids:
        return False
    if finding.code in _KEPT:
        return False
    codes = resolved_codes(event)
    return codes is None or finding.code in codes


def _copy_sighting(event: Event, transition: Transition) -> bool:
    """A scan judged a copy of the label (custody stayed on the route) moves nothing inside."""
    return transition.state.holder != event.node and any(
        f.code == Code.CLONED_LABEL and dict(f.detail).get("copy_at") == event.node
        for f in transition.findings
    )


def _key_text(key: TallyKey) -> str:
    return f"{key[0]}|{key[1] or ''}"


def _order(pair: tuple[TallyKey, int]) -> tuple[str, str]:
    return str(pair[0][0]), str(pair[0][1] or "")


def _key_words(key: str) -> str:
    """Indonesian words for a count key ("SURAT|GUB" -> "surat suara gubernur")."""
    item_type, _, race = key.partition("|")
    kind = ItemType(item_type) if item_type in ItemType.__members__ else item_type
    return _what(cast(ItemType, kind), Race(race) if race in Race.__members__ else None)


def _voided_inside(container: Item, voided: Item, event: Event) -> Finding:
    """A voided label found inside a container that was scanned."""
    return _finding(
        Code.VOIDED_LABEL_CARRIED,
        Severity.WARNING,
        f"{_sentence(_what(voided.item_type, voided.race))} berlabel {voided.serial} yang sudah "
        f"dibatalkan masih ada di dalam {container.serial}; tidak dihitung, keluarkan dan "
        "pakai label penggantinya",
        item=voided,
        node=event.node,
        event_ids=(event.event_id,),
        container=container.serial,
    )


def group_carried(
    container: Item, own: Sequence[Finding], carried: Iterable[Finding]
) -> tuple[list[Finding], list[Finding]]:
    """One finding per container and cause for what its contents raised, not one per item.

    A cause the container raised itself (a late kit is late with everything inside) is
    not repeated: the container's finding counts the items (``items``, itself included);
    the others are folded into one finding naming the count and the list.
    Returns (the container's own findings, the grouped ones).
    """
    by_code: dict[str, list[Finding]] = {}
    for finding in carried:
        by_code.setdefault(finding.code, []).append(finding)
    updated = []
    for finding in own:
        group = by_code.pop(finding.code, [])
        inside = sorted({f.serial for f in group if f.serial})
        if inside:
            finding = replace(
                finding,
                message=f"{finding.message} (beserta {len(inside)} barang di dalamnya)",
                detail=tuple(
                    sorted(
                        {
                            **dict(finding.detail),
                            "items": 1 + len(inside),
                            "serials": ",".join(inside[:50]),
                        }.items()
                    )
                ),
            )
        updated.append(finding)
    grouped: list[Finding] = []
    for group in by_code.values():
        if len(group) == 1:
            grouped.append(group[0])
            continue
        first = group[0]
        said = first.message[:1].lower() + first.message[1:]
        serials = sorted({f.serial for f in group if f.serial})
        grouped.append(
            replace(
                first,
                message=f"{_sentence(_what(container.item_type, None))} {container.serial}, "
                f"{len(serials)} barang di dalamnya: {said}",
                serial=container.serial,
                tps=container.destination,
                detail=tuple(
                    sorted(
                        {
                            **dict(first.detail),
                            "items": len(serials),
                            "serials": ",".join(serials[:50]),
                        }.items()
                    )
                ),
            )
        )
    return updated, grouped
