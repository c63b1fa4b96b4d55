"""The app's exception tree and its one mapping to HTTP status codes.

TepatError                 500-free base; every subclass has ``status`` and ``code``
├── BadRequest             400 malformed input
│   └── ValidationFailed   422 input understood but wrong (``details`` per row/field)
│       └── PlanImportError
├── Unauthorized           401 no or bad credentials
├── Forbidden              403 role may not do this
├── NotFound               404 missing, or outside the user's region scope
├── Conflict               409 clashes with what is stored
├── PayloadTooLarge        413 more than one request may carry
├── NotConfigured          503 the server lacks a setup step (e.g. no signing key yet)
└── Busy                   503 every worker is taken; try again in a moment
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class TepatError(Exception):
    """Base of every error the app raises on purpose."""

    status: int = 500
    code: str = "error"

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON body for this error."""
        body: dict[str, Any] = {"error": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(TepatError):
    """The request cannot be read."""

    status = 400
    code = "bad_request"


class ValidationFailed(BadRequest):
    """The request was read but its content is wrong."""

    status = 422
    code = "validation_failed"


@dataclass(frozen=True, slots=True)
class RowError:
    """One problem in an imported file: row number (1 = header), column, what is wrong."""

    row: int
    column: str
    message: str
    value: str = field(default="")

    def __str__(self) -> str:
        return f"baris {self.row}, kolom {self.column}: {self.message}"


class PlanImportError(ValidationFailed):
    """A plan file had errors; nothing was imported."""

    code = "plan_import_failed"

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(
            f"Berkas berisi {len(errors)} kesalahan; tidak ada data yang diimpor.",
            details=[
                {"row": e.row, "column": e.column, "message": e.message, "value": e.value}
                for e in errors
            ],
        )
        self.errors = errors


class Unauthorized(TepatError):
    """No valid credentials."""

    status = 401
    code = "unauthorized"


class Forbidden(TepatError):
    """The user's role may not do this."""

    status = 403
    code = "forbidden"


class NotFound(TepatError):
    """Not there, or not inside the user's scope (we never tell which)."""

    status = 404
    code = "not_found"


class Conflict(TepatError):
    """The request clashes with stored data."""

    status = 409
    code = "conflict"


class PayloadTooLarge(TepatError):
    """More than one request may carry (e.g. over 500 scan events)."""

    status = 413
    code = "payload_too_large"


class NotConfigured(TepatError):
    """A set-up step is missing on the server, such as the label signing keys."""

    status = 503
    code = "not_configured"


class Busy(TepatError):
    """Every worker for this kind of job is taken (e.g. photo decoding); retry shortly."""

    status = 503
    code = "busy"
