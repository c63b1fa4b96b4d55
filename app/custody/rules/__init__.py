"""The enam-tepat custody rules. Pure: frozen dataclasses in, findings out.

No Flask, no SQLAlchemy, no IO and no clock: ``now`` is always a parameter.
The ingest service maps DB rows onto ``Plan``, ``Item``, ``ItemState``,
``TpsTally`` and ``Event``, calls ``Book.apply`` for each scan, stores what it
returns, and can check the result at any time against ``recompute``.

Custody model
    An item is issued at the gudang of its region; until its first scan it is
    there, inside ``Item.container`` if it was issued in a kit. ``kirim`` and
    ``kembali`` (the return dispatch) leave the sender as holder and mark the
    item in transit; custody passes to the receiver only when it accepts
    (``terima``). ``kemas`` packs an item into a container; moving a container
    (``kirim``, ``kembali``, ``terima``) moves everything inside it, and
    ``buka`` at the TPS releases its direct contents. ``batal`` undoes the
    item's latest scan (one level); ``koreksi`` amends the quantity, condition
    or seal numbers of an earlier scan without moving anything.

Event order
    Events are folded in server receipt order: ``server_time``, then the
    per-item sequence ``seq``, then ``event_id`` as a last, arbitrary tie-break.
    Device clocks are not trusted for order (offline scanners upload late), but
    the time an event happened, used against deadlines, is the device time
    capped at the server time (``occurred_at``). The ingest service should give
    every event a distinct ``server_time`` so that incremental application and
    ``recompute`` agree on the order across items.

Findings never reject a scan. Errors (``app.custody.errors``) are raised only
for input that cannot be recorded: malformed events, unknown serials or nodes,
voided labels, impossible undo, and conflicting replays.

Split by concern, one module per principle: ``model`` (vocabulary and value objects),
``wording`` (Indonesian texts), ``chain`` (validation and the hash chain), ``custody``,
``jenis``, ``jumlah``, ``kualitas``, ``waktu``, ``sasaran``, ``biaya`` (the principles),
``fold`` (one event on one item), ``book`` (many items, and ``recompute``) and
``status`` (the ``ItemStatus`` the desk counts).

Receipts
    Goods carried to their destination inside a container are *delivered*, not
    *confirmed*: a ``terima`` or ``buka`` of the container confirms what its
    ``counts`` cover, and an item's own scan at its destination confirms it. What is
    delivered but unconfirmed after the last leg's deadline is missing (and counts
    short); ``hilang`` reports an item lost; ``keluarkan`` takes an item out of its
    container again (packed by mistake).

Clocks
    ``Event.clock_offset`` (estimated by the ingest service from the clock each
    batch carries) corrects the device time; ``occurred_at`` is the corrected time
    capped at the server's receipt.
"""

from __future__ import annotations

from app.custody.rules.biaya import check_costs
from app.custody.rules.book import Book, group_carried, recompute, resolved_codes, resolves
from app.custody.rules.chain import (
    GENESIS_HASH,
    canonical_event_bytes,
    check_chain,
    check_replay,
    event_digest,
    event_order,
    occurred_at,
    validate_event,
)
from app.custody.rules.custody import initial_state
from app.custody.rules.fold import apply
from app.custody.rules.jumlah import (
    area_of,
    check_all_quantities,
    check_destination,
    check_tps_quantities,
    not_issued_finding,
    tally_items,
)
from app.custody.rules.kembali import (
    CLOSING_MISSING,
    RETURN_SKIPPED_NODE,
    check_closings_missing,
    check_return_deadlines,
    check_return_receipt,
    is_return_dispatch,
    is_return_receipt,
    return_received_without_dispatch,
)
from app.custody.rules.model import (
    CODES,
    DEFAULT_POLICY,
    Action,
    Code,
    Condition,
    Event,
    Finding,
    Item,
    ItemState,
    ItemStatus,
    ItemType,
    Leg,
    NodeKind,
    Plan,
    Policy,
    Principle,
    Race,
    Recomputation,
    Severity,
    TpsTally,
    Transition,
    Update,
    derive_route,
    node_kind,
    parent_node,
    region_of,
    tps_legs,
)
from app.custody.rules.rekonsiliasi import (
    RECON_CODES,
    Handover,
    ReconCode,
    Sheet,
    TpsBallots,
    check_return,
    check_sheet,
    recon_status,
    reconcile,
)
from app.custody.rules.status import count_statuses, item_status
from app.custody.rules.tenggat import (
    RETURNING_TYPES,
    Waiting,
    counts_at,
    deadline_codes,
    describe,
    group_findings,
    item_findings,
    late_metrics,
    parse,
    waiting_on,
)
from app.custody.rules.waktu import check_deadlines

__all__ = [
    "CLOSING_MISSING",
    "CODES",
    "DEFAULT_POLICY",
    "GENESIS_HASH",
    "RECON_CODES",
    "RETURNING_TYPES",
    "Waiting",
    "counts_at",
    "deadline_codes",
    "describe",
    "group_findings",
    "item_findings",
    "late_metrics",
    "parse",
    "waiting_on",
    "RETURN_SKIPPED_NODE",
    "Action",
    "Book",
    "Code",
    "Condition",
    "Event",
    "Finding",
    "Handover",
    "Item",
    "ItemState",
    "ItemStatus",
    "ItemType",
    "Leg",
    "NodeKind",
    "Plan",
    "Policy",
    "Principle",
    "Race",
    "Recomputation",
    "ReconCode",
    "Severity",
    "Sheet",
    "TpsBallots",
    "TpsTally",
    "Transition",
    "Update",
    "apply",
    "area_of",
    "canonical_event_bytes",
    "check_all_quantities",
    "check_chain",
    "check_closings_missing",
    "check_costs",
    "check_destination",
    "check_deadlines",
    "check_replay",
    "check_return",
    "check_return_deadlines",
    "check_return_receipt",
    "check_sheet",
    "check_tps_quantities",
    "count_statuses",
    "derive_route",
    "event_digest",
    "event_order",
    "group_carried",
    "initial_state",
    "is_return_dispatch",
    "is_return_receipt",
    "item_status",
    "node_kind",
    "not_issued_finding",
    "occurred_at",
    "parent_node",
    "recompute",
    "recon_status",
    "reconcile",
    "region_of",
    "resolved_codes",
    "resolves",
    "return_received_without_dispatch",
    "tally_items",
    "tps_legs",
    "validate_event",
]
