"""Event validation, canonical bytes and the per-item hash chain."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from app.custody.errors import (
    EventConflict,
    LedgerMismatch,
    MalformedEvent,
)
from app.custody.rules.model import Action, Condition, Event, _aware, node_kind

# --- events -------------------------------------------------------------------------

_MOVES = frozenset({Action.KIRIM, Action.KEMBALI})
_CARRIED = frozenset({Action.KIRIM, Action.KEMBALI, Action.TERIMA, Action.BUKA})


def validate_event(event: Event) -> None:
    """Raise MalformedEvent (or UnknownNode) unless the event can be recorded."""
    try:
        uuid.UUID(event.event_id)
    except (ValueError, AttributeError, TypeError) as exc:
        raise MalformedEvent("event_id must be a UUID", field="event_id") from exc
    if not event.serial:
        raise MalformedEvent("serial is empty", field="serial")
    if not isinstance(event.action, Action):
        raise MalformedEvent(f"unknown action {event.action!r}", field="action")
    node_kind(event.node)
    for name in ("device_time", "server_time"):
        value = getattr(event, name)
        if not isinstance(value, datetime) or not _aware(value):
            raise MalformedEvent(f"{name} must be a timezone-aware datetime", field=name)
    if not event.user_id or not event.device_id:
        raise MalformedEvent("user_id and device_id are required", field="user_id")
    if event.seq < 0:
        raise MalformedEvent("seq must not be negative", field="seq")
    if event.quantity is not None and event.quantity < 0:
        raise MalformedEvent("quantity must not be negative", field="quantity")
    if event.condition is not None and not isinstance(event.condition, Condition):
        raise MalformedEvent(f"unknown condition {event.condition!r}", field="condition")
    if any(not seal for seal in event.seals):
        raise MalformedEvent("seal numbers must not be empty", field="seals")
    if event.target is not None:
        node_kind(event.target)
        if event.target == event.node:
            raise MalformedEvent("an item cannot be dispatched to where it is", field="target")
    if event.action is Action.KEMAS and (not event.container or event.container == event.serial):
        raise MalformedEvent("kemas needs another item as container", field="container")
    if event.action is Action.SEGEL and not event.seals:
        raise MalformedEvent("segel needs the seal numbers", field="seals")
    if event.action is Action.RUSAK and event.condition in (None, Condition.BAIK):
        raise MalformedEvent("rusak needs a damaged condition", field="condition")
    if any(not key or count < 0 for key, count in event.counts):
        raise MalformedEvent("counts are (type key, quantity >= 0)", field="counts")
    if event.counts and event.action not in (Action.TERIMA, Action.BUKA):
        raise MalformedEvent("only terima and buka confirm counted contents", field="counts")
    if event.action in (Action.VOID, Action.CORRECT) and not event.ref_event_id:
        raise MalformedEvent(f"{event.action} needs ref_event_id", field="ref_event_id")


def occurred_at(event: Event) -> datetime:
    """Return when the event happened: device time corrected by the device's clock offset
    (when known), never later than the server's receipt."""
    device = event.device_time
    if event.clock_offset is not None:
        device -= event.clock_offset
    return min(device, event.server_time)


def event_order(event: Event) -> tuple[datetime, int, str]:
    """Sort key for folding: server receipt time, then per-item sequence, then id."""
    return (event.server_time, event.seq, event.event_id)


def _utc(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _content(event: Event) -> dict[str, object]:
    return {
        "v": 1,
        "event_id": event.event_id,
        "serial": event.serial,
        "action": str(event.action),
        "node": event.node,
        "device_time": _utc(event.device_time),
        "user_id": event.user_id,
        "device_id": event.device_id,
        "quantity": event.quantity,
        "condition": None if event.condition is None else str(event.condition),
        "seals": list(event.seals),
        "counterpart": event.counterpart,
        "container": event.container,
        "target": event.target,
        "ref_event_id": event.ref_event_id,
        # Only when present, so the digests of events without counts stay as they were.
        **({"counts": [list(kn) for kn in sorted(event.counts)]} if event.counts else {}),
    }


def _json(value: Mapping[str, object]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def canonical_event_bytes(event: Event) -> bytes:
    """Return the event's content and server time as sorted-keys compact UTF-8 JSON.

    Datetimes are UTC with microseconds (``2024-11-26T03:00:00.000000Z``); every
    field is present (null when absent); ``seq`` is not included because
    ``event_digest`` binds it separately.
    """
    return _json({**_content(event), "server_time": _utc(event.server_time)})


def check_replay(stored: Event, incoming: Event) -> None:
    """Raise EventConflict unless a re-sent event repeats the stored one's device content."""
    if stored.event_id != incoming.event_id:
        raise ValueError("check_replay compares two events with the same event_id")
    if _json(_content(stored)) != _json(_content(incoming)):
        raise EventConflict(incoming.event_id)


GENESIS_HASH = bytes(32)
_CHAIN_DOMAIN = b"tepat/custody-event/v1\x00"


def event_digest(prev_hash: bytes, item_seq: int, canonical: bytes) -> bytes:
    """Return SHA-256(domain || prev_hash || item_seq as u64 BE || canonical)."""
    if len(prev_hash) != 32 or not 0 < item_seq < 2**64:
        raise ValueError("prev_hash is 32 bytes and item_seq a positive u64")
    return hashlib.sha256(
        _CHAIN_DOMAIN + prev_hash + item_seq.to_bytes(8, "big") + canonical
    ).digest()


def check_chain(
    events: Sequence[Event], digests: Sequence[bytes], prev_hash: bytes = GENESIS_HASH
) -> bytes:
    """Recompute one item's chain (events in seq order 1..n); return its head.

    Raises LedgerMismatch at the first entry whose sequence or stored digest
    differs from the recomputation.
    """
    if len(events) != len(digests):
        raise LedgerMismatch(
            "the chain and its digests differ in length", index=min(len(events), len(digests))
        )
    head = prev_hash
    for index, (event, stored) in enumerate(zip(events, digests, strict=True)):
        if event.seq != index + 1 or (index and event.serial != events[0].serial):
            raise LedgerMismatch(
                f"entry {index} is out of sequence", index=index, entry_id=event.event_id
            )
        head = event_digest(head, event.seq, canonical_event_bytes(event))
        if head != stored:
            raise LedgerMismatch(
                f"entry {index} does not match its stored digest",
                index=index,
                entry_id=event.event_id,
                expected=head,
                actual=stored,
            )
    return head
