"""Deadlines as a function of the leg an item waits on: what the counters keep.

An item on its way waits on exactly one leg: the next hop of its route (out to the TPS, or
back to the gudang after counting), either not yet sent (``diam``), sent and not yet
received (``jalan``), or held off its route (``luar``: only the final deadline is left).
Whether it is overdue, at risk or one-sided at a moment depends on nothing else but that
leg's deadline. So the ingest counts items per waiting leg (``metric``), and the desk
turns the counts into findings at any moment without reading an item (``counts_at``,
``group_findings``). ``app.custody.rules.waktu.check_deadlines`` and
``app.custody.rules.kembali.check_return_deadlines`` give the same findings per item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from app.custody.errors import UnknownNode
from app.custody.rules.chain import _utc
from app.custody.rules.custody import _kind, _route
from app.custody.rules.model import (
    DEFAULT_POLICY,
    Code,
    Finding,
    Item,
    ItemState,
    ItemType,
    NodeKind,
    Plan,
    Severity,
    derive_route,
    node_kind,
)
from app.custody.rules.wording import _finding, _place, _sentence, _what, _when

#: What goes back after counting (forms and ballots travel inside the box).
RETURNING_TYPES = frozenset({ItemType.KOTAK})

#: Not yet sent, sent and not yet received, held off the route.
MODES = ("diam", "jalan", "luar")
PREFIX = "tenggat:"
_STAMP = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Waiting:
    """The leg an item waits on, its deadline and how it waits."""

    from_node: str
    to_node: str
    deadline: datetime
    mode: str
    returning: bool = False

    @property
    def metric(self) -> str:
        """The counter an item waiting so adds to (at its destination and above)."""
        leg = f"{node_kind(self.from_node).value}-{node_kind(self.to_node).value}"
        return f"{PREFIX}{leg}:{self.mode}:{self.deadline.astimezone(UTC).strftime(_STAMP)}"


def waiting_on(plan: Plan, item: Item, state: ItemState) -> Waiting | None:
    """The leg ``item`` waits on in ``state``, or None (delivered and not going back,
    inside a container, back at the gudang, or with no deadline to meet)."""
    if state.container is not None:
        return None  # its container stands for it
    if state.delivered_at is None and not state.returning:
        return _outbound(plan, item, state)
    return _way_back(plan, item, state)


def _outbound(plan: Plan, item: Item, state: ItemState) -> Waiting | None:
    if item.destination not in plan.destinations:
        return None
    route = _route(plan, item.destination)
    if route is None or len(route) < 2:
        return None
    if state.holder is not None and state.holder not in route:
        # Off its route: all that is left is the final deadline.
        deadline = plan.deadline(route[-2], route[-1])
        return None if deadline is None else Waiting(route[-2], route[-1], deadline, "luar")
    position = 0 if state.holder is None else route.index(state.holder)
    if position >= len(route) - 1:
        return None
    here, next_node = route[position], route[position + 1]
    deadline = plan.deadline(here, next_node)
    if deadline is None:
        return None
    mode = "jalan" if state.transit_to == next_node else "diam"
    return Waiting(here, next_node, deadline, mode)


def _way_back(plan: Plan, item: Item, state: ItemState) -> Waiting | None:
    # Only boxes for a TPS are expected back, once they reached it.
    if item.item_type not in RETURNING_TYPES or _kind(item.destination) is not NodeKind.KPPS:
        return None
    route = _route(plan, item.destination)
    if route is None or state.holder not in route:
        return None
    position = route.index(state.holder or "")
    if position == 0:
        return None  # back at the gudang
    here, up = route[position], route[position - 1]
    deadline = plan.deadline(here, up)
    if deadline is None:
        return None
    if state.transit_to == up:
        return Waiting(here, up, deadline, "jalan", returning=True)
    if state.transit_to is None:
        return Waiting(here, up, deadline, "diam", returning=True)
    return None


def deadline_codes(
    waiting: Waiting, now: datetime, horizon: timedelta = DEFAULT_POLICY.at_risk_horizon
) -> tuple[Code, ...]:
    """The deadline findings an item waiting so has at ``now`` (critical but at risk)."""
    late = now > waiting.deadline
    if waiting.returning:
        if not late:
            return ()
        return (Code.NOT_RECEIVED,) if waiting.mode == "jalan" else (Code.OVERDUE,)
    if late:
        return (Code.OVERDUE, Code.NOT_RECEIVED) if waiting.mode == "jalan" else (Code.OVERDUE,)
    if waiting.mode == "diam" and now >= waiting.deadline - horizon:
        return (Code.AT_RISK,)
    return ()


def describe(
    code: Code, waiting: Waiting, now: datetime, what: str = "kotak suara"
) -> tuple[Severity, str, dict[str, str | None]]:
    """Severity, message and detail of one deadline finding of a waiting leg."""
    here, there, deadline = waiting.from_node, waiting.to_node, waiting.deadline
    when = _when(deadline, there)
    detail: dict[str, str | None] = {"deadline": _utc(deadline)}
    if waiting.returning:
        detail |= {"from_node": here, "leg": "kembali"}
        if code == Code.NOT_RECEIVED:
            text = f"dikembalikan dari {_place(here)} ke {_place(there)} tetapi belum dicatat"
            return (
                Severity.CRITICAL,
                f"{_sentence(what)} {text} diterima setelah tenggat {when}",
                detail,
            )
        text = f"belum dikembalikan dari {_place(here)} ke {_place(there)} padahal tenggat"
        return Severity.CRITICAL, f"{_sentence(what)} {text} {when} sudah lewat", detail
    if code == Code.OVERDUE:
        return (
            Severity.CRITICAL,
            f"Belum sampai di {_place(there)} padahal tenggat {when} sudah lewat",
            detail,
        )
    detail["from_node"] = here
    if code == Code.NOT_RECEIVED:
        message = (
            f"Dikirim dari {_place(here)} ke {_place(there)} tetapi belum dicatat diterima "
            f"setelah tenggat {when}"
        )
        return Severity.CRITICAL, message, detail
    hours = int((deadline - now).total_seconds() // 3600)
    message = (
        f"Belum dikirim dari {_place(here)} ke {_place(there)}; tenggat {when} "
        f"tinggal {hours} jam lagi"
    )
    return Severity.WARNING, message, detail


def item_findings(
    waiting: Waiting, item: Item, ids: tuple[str, ...], now: datetime, horizon: timedelta
) -> list[Finding]:
    """The deadline findings of one item waiting on a leg at ``now``."""
    what = _what(item.item_type, item.race)
    found = []
    for code in deadline_codes(waiting, now, horizon):
        severity, message, detail = describe(code, waiting, now, what)
        found.append(
            _finding(
                code, severity, message, item=item, node=waiting.to_node, event_ids=ids, **detail
            )
        )
    return found


# --- counted: per leg, without the items -------------------------------------------------


def parse(metric: str, destination: str) -> Waiting | None:
    """The leg a counter (``metric``, counted for items bound for ``destination``) stands
    for, or None when it is not one."""
    shape = _shape(metric) if metric.startswith(PREFIX) else None
    if shape is None:
        return None
    try:
        by_kind = {node_kind(node): node for node in derive_route(destination)}
        leg = metric[len(PREFIX) :].split(":", 1)[0]
        from_kind, to_kind = (NodeKind(k) for k in leg.split("-"))
    except (ValueError, UnknownNode):
        return None
    if from_kind not in by_kind or to_kind not in by_kind:
        return None
    return Waiting(
        by_kind[from_kind], by_kind[to_kind], shape.deadline, shape.mode, shape.returning
    )


def counts_at(
    metrics: Mapping[str, int],
    now: datetime,
    horizon: timedelta = DEFAULT_POLICY.at_risk_horizon,
) -> Counter[tuple[Code, Severity]]:
    """Deadline findings per code and severity at ``now`` from an area's counters (the
    area's rows of :attr:`Waiting.metric`, summed over every leg below it)."""
    found: Counter[tuple[Code, Severity]] = Counter()
    for metric, n in metrics.items():
        if n <= 0 or not metric.startswith(PREFIX):
            continue
        waiting = _shape(metric)
        if waiting is None:
            continue
        for code in deadline_codes(waiting, now, horizon):
            found[(code, _severity(code))] += n
    return found


def late_metrics(
    metrics: Mapping[str, int],
    now: datetime,
    horizon: timedelta = DEFAULT_POLICY.at_risk_horizon,
    keep: Callable[[Code, Severity], bool] | None = None,
) -> list[str]:
    """Of an area's counters, those with findings at ``now`` (only those ``keep`` keeps),
    the critical ones first: the rows worth listing destination by destination."""
    critical, at_risk = [], []
    for metric, n in sorted(metrics.items()):
        waiting = _shape(metric) if n > 0 and metric.startswith(PREFIX) else None
        if waiting is None:
            continue
        found = [
            c
            for c in deadline_codes(waiting, now, horizon)
            if keep is None or keep(c, _severity(c))
        ]
        if any(_severity(c) is Severity.CRITICAL for c in found):
            critical.append(metric)
        elif found:
            at_risk.append(metric)
    return critical + at_risk


def group_findings(
    waiting: Waiting,
    destination: str,
    n: int,
    now: datetime,
    horizon: timedelta = DEFAULT_POLICY.at_risk_horizon,
    keep: Callable[[Code, Severity], bool] | None = None,
) -> list[Finding]:
    """The deadline findings of the ``n`` items bound for ``destination`` that wait on one
    leg at ``now``: one per code, saying how many items it stands for (``items``)."""
    tps = destination if _kind(destination) is NodeKind.KPPS else None
    found = []
    for code in deadline_codes(waiting, now, horizon):
        if keep is not None and not keep(code, _severity(code)):
            continue
        severity, message, detail = describe(code, waiting, now)
        found.append(
            replace(
                _finding(code, severity, message, tps=tps, node=waiting.to_node),
                detail=tuple(sorted({**detail, "items": n}.items())),
            )
        )
    return found


def _shape(metric: str) -> Waiting | None:
    """What decides a metric's findings (mode, direction, deadline), without its place."""
    try:
        leg, mode, stamp = metric[len(PREFIX) :].split(":", 2)
        deadline = datetime.strptime(stamp, _STAMP).replace(tzinfo=UTC)
        from_kind, to_kind = (NodeKind(k) for k in leg.split("-"))
    except ValueError:
        return None
    if mode not in MODES:
        return None
    order = list(NodeKind)
    returning = order.index(from_kind) > order.index(to_kind)
    return Waiting("", "", deadline, mode, returning=returning)


def _severity(code: Code) -> Severity:
    return Severity.WARNING if code == Code.AT_RISK else Severity.CRITICAL
