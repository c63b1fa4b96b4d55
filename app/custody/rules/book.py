"""The Book that folds events over many items, and recompute from scratch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from app.custody.errors import (
    NotAllowedInState,
    UnknownItem,
)
from app.custody.rules.chain import _CARRIED, _MOVES, check_replay, event_order, validate_event
from app.custody.rules.custody import _route, initial_state
from app.custody.rules.fold import _apply_void, apply
from app.custody.rules.jumlah import _contribution, check_all_quantities, tally_items
from app.custody.rules.model import (
    DEFAULT_POLICY,
    Action,
    Code,
    Event,
    Finding,
    Item,
    ItemState,
    Plan,
    Policy,
    Recomputation,
    Severity,
    TpsTally,
    Update,
)
from app.custody.rules.waktu import check_deadlines
from app.custody.rules.wording import _finding, _place

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
        elif event.action in _CARRIED:
            carried = event
            if event.action in _MOVES:
                carried = replace(event, target=transition.state.transit_to)
            inside = (
                self.contents(item.serial)
                if event.action is Action.BUKA
                else self._descendants(item.serial)
            )
            for serial in inside:
                moved = apply(
                    self.plan,
                    self._item(serial),
                    self.states[serial],
                    carried,
                    carried=True,
                    policy=self.policy,
                )
                changed[serial] = moved.state
                findings += moved.findings
        tallies = self._commit(changed)
        self._seen[event.event_id] = event
        return Update(changed, tallies, tuple(findings))

    def _commit(self, changed: Mapping[str, ItemState]) -> dict[str, TpsTally]:
        touched: dict[str, TpsTally] = {}
        for serial, after in changed.items():
            before = self.states[serial]
            item = self.items[serial]
            self._index(serial, before, after)
            old_known, old_received = _contribution(item, before)
            new_known, new_received = _contribution(item, after)
            if (old_known, old_received) != (new_known, new_received):
                tally = self.tallies.get(item.destination) or TpsTally(item.destination)
                tally = tally.adjust(
                    (item.item_type, item.race),
                    new_known - old_known,
                    new_received - old_received,
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

    def snapshot_findings(self, now: datetime) -> tuple[Finding, ...]:
        """Return the quantity and deadline findings as of ``now``."""
        return check_all_quantities(self.plan, self.tallies) + check_deadlines(
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
    """Fold the whole log from scratch: states, tallies and every finding as of ``now``."""
    book = Book(plan, items, policy=policy)
    findings: list[Finding] = []
    for event in sorted(events, key=event_order):
        findings += book.apply(event).findings
    tallies = tally_items(book.items.values(), book.states)
    findings += check_all_quantities(plan, tallies)
    findings += check_deadlines(plan, book.items, book.states, now, policy.at_risk_horizon)
    return Recomputation(dict(book.states), tallies, tuple(findings))
