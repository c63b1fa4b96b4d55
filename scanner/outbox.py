"""The local outbox: every scan is stored here, durably, before anything else happens.

SQLite in WAL mode with synchronous=FULL, so a scan that ``add`` returned survives a
kill or power loss. ``device_seq`` is an AUTOINCREMENT key: SQLite never hands out the
same value twice, even after rows are deleted, so the per-device sequence is monotonic
for the life of the database. A scan leaves the outbox only when the server has
acknowledged it (accepted/duplicate), or moves to ``problems`` when the server gave a
final refusal (rejected/conflict); both happen in one transaction.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.durable import DurableStore

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    device_seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT
);
CREATE TABLE IF NOT EXISTS problems (
    event_id TEXT PRIMARY KEY,
    device_seq INTEGER NOT NULL,
    event TEXT NOT NULL,
    status TEXT NOT NULL,
    code TEXT NOT NULL,
    message TEXT NOT NULL,
    findings TEXT NOT NULL,
    settled_at TEXT NOT NULL
);
"""

ACKNOWLEDGED = frozenset({"accepted", "duplicate"})
FINAL_REFUSALS = frozenset({"rejected", "conflict"})


def utc_now() -> datetime:
    """Timezone-aware current UTC time."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class NewScan:
    """What the courier scanned and said about it, before it gets an id and a sequence."""

    label: str
    action: str
    node: str
    quantity: int | None = None
    condition: str | None = None
    seals: tuple[str, ...] = ()
    counterpart: str | None = None
    container: str | None = None
    note: str = ""
    #: "qr_signed", "qr_link" or "typed"; None: from the label's form when it is stored.
    identified_by: str | None = None


def identified_by(label: str) -> str:
    """How a label's text identifies its item: the https form or the signed TP1 text."""
    return "qr_link" if label[:8].upper() == "HTTPS://" else "qr_signed"


@dataclass(frozen=True, slots=True)
class ScanEvent:
    """A stored scan, shaped like one element of ``events`` in POST /api/v1/scans."""

    event_id: str
    device_seq: int
    device_time: str
    label: str
    action: str
    node: str
    quantity: int | None = None
    condition: str | None = None
    seals: tuple[str, ...] = ()
    counterpart: str | None = None
    container: str | None = None
    note: str = ""
    identified_by: str | None = None  # None in scans stored before it was sent

    def to_json(self) -> dict[str, Any]:
        """The wire form of this event (a resend of an older scan sends the same bytes)."""
        wire = {
            "event_id": self.event_id,
            "device_seq": self.device_seq,
            "device_time": self.device_time,
            "label": self.label,
            "action": self.action,
            "node": self.node,
            "quantity": self.quantity,
            "condition": self.condition,
            "seals": list(self.seals),
            "counterpart": self.counterpart,
            "container": self.container,
            "note": self.note,
        }
        if self.identified_by is not None:
            wire["identified_by"] = self.identified_by
        return wire

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScanEvent:
        """Inverse of :meth:`to_json`."""
        return cls(**{**data, "seals": tuple(data.get("seals", ()))})


@dataclass(frozen=True, slots=True)
class Settlement:
    """The server's final word on one event (one element of ``results``)."""

    event_id: str
    status: str
    code: str = ""
    message: str = ""
    findings: tuple[dict[str, Any], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Problem:
    """A scan the server refused for good; kept locally so the courier can act on it."""

    event: ScanEvent
    status: str
    code: str
    message: str
    findings: tuple[dict[str, Any], ...]
    settled_at: str


class Outbox(DurableStore):
    """Durable queue of scans waiting for the server, plus the refused ones."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def add(self, scan: NewScan, now: datetime | None = None) -> ScanEvent:
        """Store a scan durably and return it with its event_id, device_seq and time."""
        moment = (now or utc_now()).astimezone(UTC).isoformat(timespec="seconds")
        event_id = str(uuid.uuid4())
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO outbox (event_id, event) VALUES (?, '{}')", (event_id,)
            )
            seq = cursor.lastrowid
            assert seq is not None
            event = ScanEvent(
                event_id=event_id,
                device_seq=seq,
                device_time=moment,
                label=scan.label,
                action=scan.action,
                node=scan.node,
                quantity=scan.quantity,
                condition=scan.condition,
                seals=tuple(scan.seals),
                counterpart=scan.counterpart,
                container=scan.container,
                note=scan.note,
                identified_by=scan.identified_by or identified_by(scan.label),
            )
            db.execute(
                "UPDATE outbox SET event = ? WHERE device_seq = ?",
                (json.dumps(event.to_json()), seq),
            )
        return event

    def pending(self, limit: int = 500, after_seq: int = 0) -> list[ScanEvent]:
        """Queued scans in device_seq order, at most ``limit``, after ``after_seq``."""
        rows = self._db.execute(
            "SELECT event FROM outbox WHERE device_seq > ? ORDER BY device_seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [ScanEvent.from_json(json.loads(row[0])) for row in rows]

    def count(self) -> int:
        """How many scans wait for the server."""
        return int(self._db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def oldest_time(self) -> str | None:
        """device_time of the oldest queued scan."""
        row = self._db.execute("SELECT event FROM outbox ORDER BY device_seq LIMIT 1").fetchone()
        return None if row is None else str(json.loads(row[0])["device_time"])

    def last_seq(self) -> int:
        """The highest device_seq ever issued (0 before the first scan)."""
        row = self._db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'outbox'").fetchone()
        return 0 if row is None else int(row[0])

    def note_failure(self, event_ids: Iterable[str], error: str) -> None:
        """Record a failed attempt on these scans (for ``status``); they stay queued."""
        ids = list(event_ids)
        with self._transaction() as db:
            db.executemany(
                "UPDATE outbox SET attempts = attempts + 1, last_error = ? WHERE event_id = ?",
                [(error, event_id) for event_id in ids],
            )

    def settle(self, results: Sequence[Settlement], now: datetime | None = None) -> tuple[int, int]:
        """Apply the server's answers in one transaction: delete acknowledged scans, move
        final refusals to problems. Unknown statuses and unknown ids are left alone.
        Returns (acknowledged, refused)."""
        moment = (now or utc_now()).astimezone(UTC).isoformat(timespec="seconds")
        acknowledged = refused = 0
        with self._transaction() as db:
            for result in results:
                if result.status in ACKNOWLEDGED:
                    cursor = db.execute("DELETE FROM outbox WHERE event_id = ?", (result.event_id,))
                    acknowledged += cursor.rowcount
                elif result.status in FINAL_REFUSALS:
                    row = db.execute(
                        "SELECT device_seq, event FROM outbox WHERE event_id = ?",
                        (result.event_id,),
                    ).fetchone()
                    if row is None:
                        continue
                    db.execute(
                        "INSERT OR REPLACE INTO problems VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        (
                            result.event_id,
                            row[0],
                            row[1],
                            result.status,
                            result.code,
                            result.message,
                            json.dumps(list(result.findings)),
                            moment,
                        ),
                    )
                    db.execute("DELETE FROM outbox WHERE event_id = ?", (result.event_id,))
                    refused += 1
        return acknowledged, refused

    def problems(self) -> list[Problem]:
        """Scans the server refused for good, oldest first."""
        rows = self._db.execute(
            "SELECT event, status, code, message, findings, settled_at FROM problems "
            "ORDER BY device_seq"
        ).fetchall()
        return [
            Problem(
                ScanEvent.from_json(json.loads(r[0])),
                r[1],
                r[2],
                r[3],
                tuple(json.loads(r[4])),
                r[5],
            )
            for r in rows
        ]
