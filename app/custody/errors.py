"""Errors raised by the pure custody rules and the Merkle log.

Every error carries a stable machine ``code`` that the API returns as is; the
mapping to HTTP status codes lives in one module of ``app``, not here.

::

    CustodyError                 custody_error
    ├── MalformedEvent           malformed         an event that cannot be read as a scan
    ├── MalformedPlan            malformed_plan    a plan that cannot be checked against
    ├── UnknownNode              unknown_node      a node code that is not a Kemendagri custody code
    ├── UnknownItem              unknown_item      a serial with no issued label
    ├── VoidedLabel              voided_label      a scan of a label voided before the scan
    ├── NotAllowedInState        not_allowed       an event the item's state cannot take
    ├── EventConflict            conflict          same event_id, different content
    ├── ProofError               bad_proof         a malformed or failed Merkle proof
    ├── CheckpointError          bad_checkpoint    a checkpoint note that cannot be parsed
    │   └── BadSignature         bad_signature     no valid signature from the trusted key
    └── LedgerMismatch           ledger_mismatch   a recomputed chain differs from the stored one

Scans are never rejected for what they say about custody (a cloned label, a
wrong destination): those become findings. Errors are for input that cannot be
recorded meaningfully at all.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

__all__ = [
    "BadSignature",
    "CheckpointError",
    "CustodyError",
    "EventConflict",
    "LedgerMismatch",
    "MalformedEvent",
    "MalformedPlan",
    "NotAllowedInState",
    "ProofError",
    "UnknownItem",
    "UnknownNode",
    "VoidedLabel",
]


class CustodyError(Exception):
    """Base class: every custody error has a stable ``code`` and a message."""

    code: ClassVar[str] = "custody_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedEvent(CustodyError):
    """An event field is missing or invalid (``field`` names it)."""

    code = "malformed"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MalformedPlan(CustodyError):
    """The plan is inconsistent (e.g. a naive deadline)."""

    code = "malformed_plan"


class UnknownNode(CustodyError):
    """A node code is not a gudang, PPK, PPS or KPPS code."""

    code = "unknown_node"

    def __init__(self, node: str) -> None:
        super().__init__(f"unknown custody node code {node!r}")
        self.node = node


class UnknownItem(CustodyError):
    """No label was issued for this serial (or it was not loaded)."""

    code = "unknown_item"

    def __init__(self, serial: str) -> None:
        super().__init__(f"unknown item serial {serial!r}")
        self.serial = serial


class VoidedLabel(CustodyError):
    """The label was voided before this scan reached the server."""

    code = "voided_label"

    def __init__(self, serial: str, voided_at: datetime) -> None:
        super().__init__(f"label {serial!r} was voided at {voided_at.isoformat()}")
        self.serial = serial
        self.voided_at = voided_at


class NotAllowedInState(CustodyError):
    """The event cannot be applied to the item's current state."""

    code = "not_allowed"

    def __init__(self, serial: str, action: str, reason: str) -> None:
        super().__init__(f"{action} not allowed for {serial!r}: {reason}")
        self.serial = serial
        self.action = action
        self.reason = reason


class EventConflict(CustodyError):
    """An event_id was seen before with different content."""

    code = "conflict"

    def __init__(self, event_id: str) -> None:
        super().__init__(f"event {event_id!r} was already recorded with different content")
        self.event_id = event_id


class ProofError(CustodyError):
    """A Merkle inclusion or consistency proof is malformed or does not verify."""

    code = "bad_proof"


class CheckpointError(CustodyError):
    """A checkpoint note is not well formed."""

    code = "bad_checkpoint"


class BadSignature(CheckpointError):
    """No signature from the trusted key verifies (or one from it fails)."""

    code = "bad_signature"


class LedgerMismatch(CustodyError):
    """A recomputed hash chain or log entry differs from the stored one."""

    code = "ledger_mismatch"

    def __init__(
        self,
        message: str,
        *,
        index: int,
        entry_id: str | None = None,
        expected: bytes | None = None,
        actual: bytes | None = None,
    ) -> None:
        super().__init__(message)
        self.index = index
        self.entry_id = entry_id
        self.expected = expected
        self.actual = actual
