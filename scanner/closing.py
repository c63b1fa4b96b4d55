"""Closing records of a KPPS, queued offline like scans and sent to ``POST /api/v1/closings``.

A record is stored in the same SQLite file as the scan outbox, with the client id the
server deduplicates on, before anything is sent; it leaves the queue only when the
server has answered for it (accepted, duplicate, rejected or conflict). Refused
records are kept with the server's reason for ``tepat-scan status``.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scanner.durable import DurableStore
from scanner.errors import ScanError, SyncError
from scanner.outbox import utc_now
from scanner.sync import ScanApi

COUNTS = ("received", "used", "invalid", "spoiled", "unused", "voters_signed", "reserve_drawn")
MAX_BATCH = 20
_SCHEMA = """
CREATE TABLE IF NOT EXISTS closing_outbox (
    client_id TEXT PRIMARY KEY, record TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS closing_done (
    client_id TEXT PRIMARY KEY, tps TEXT NOT NULL, race TEXT NOT NULL, status TEXT NOT NULL,
    code TEXT NOT NULL, message TEXT NOT NULL, settled_at TEXT NOT NULL)
"""
_DONE = frozenset({"accepted", "duplicate", "rejected", "conflict"})


@dataclass(frozen=True)
class ClosingSheet:
    """What the KPPS copies from the C.Hasil form for one race, and the box's seals."""

    tps: str
    race: str
    counts: dict[str, int]
    seals: tuple[str, ...]
    box: str | None = None
    photo: bytes | None = None
    note: str = ""
    reserve_note: str = ""
    corrects: str | None = None

    def record(self, client_id: str, now: datetime) -> dict[str, Any]:
        """The JSON record the API takes."""
        missing = [name for name in COUNTS[:-1] if name not in self.counts]
        if missing:
            raise ScanError("angka C.Hasil belum lengkap: " + ", ".join(missing))
        body: dict[str, Any] = {
            "client_id": client_id,
            "tps": self.tps,
            "race": self.race.upper(),
            "seals": list(self.seals),
            "device_time": now.astimezone(UTC).isoformat(timespec="seconds"),
            **{name: self.counts.get(name, 0) for name in COUNTS},
        }
        for name in ("box", "note", "reserve_note", "corrects"):
            value = getattr(self, name)
            if value:
                body[name] = value
        if self.photo:
            body["photo"] = base64.b64encode(self.photo).decode()
        return body


@dataclass(frozen=True)
class ClosingAnswer:
    """The server's answer for one record."""

    client_id: str
    status: str
    code: str
    message: str


class ClosingOutbox(DurableStore):
    """Durable queue of closing records, beside the scan outbox."""

    def __init__(self, path: str | Path) -> None:
        super().__init__(path, _SCHEMA)

    def add(self, sheet: ClosingSheet, now: datetime | None = None) -> dict[str, Any]:
        """Store a record durably (with a fresh client id) and return it."""
        moment = now or utc_now()
        record = sheet.record(str(uuid.uuid4()), moment)
        with self._transaction() as db:
            db.execute(
                "INSERT INTO closing_outbox (client_id, record, created_at) VALUES (?, ?, ?)",
                (record["client_id"], json.dumps(record), moment.isoformat()),
            )
        return record

    def pending(self, limit: int = MAX_BATCH) -> list[dict[str, Any]]:
        """Queued records, oldest first."""
        rows = self._db.execute(
            "SELECT record FROM closing_outbox ORDER BY created_at, client_id LIMIT ?", (limit,)
        )
        return [json.loads(row[0]) for row in rows]

    def count(self) -> int:
        """How many records wait for the server."""
        return int(self._db.execute("SELECT count(*) FROM closing_outbox").fetchone()[0])

    def settle(self, answers: Sequence[ClosingAnswer]) -> None:
        """Drop answered records from the queue; keep what happened to each."""
        now = utc_now().isoformat()
        with self._transaction() as db:
            for answer in answers:
                if answer.status not in _DONE:
                    continue
                row = db.execute(
                    "SELECT record FROM closing_outbox WHERE client_id = ?", (answer.client_id,)
                ).fetchone()
                if row is None:
                    continue
                record = json.loads(row[0])
                db.execute("DELETE FROM closing_outbox WHERE client_id = ?", (answer.client_id,))
                db.execute(
                    "INSERT OR REPLACE INTO closing_done VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        answer.client_id,
                        record["tps"],
                        record["race"],
                        answer.status,
                        answer.code,
                        answer.message,
                        now,
                    ),
                )

    def refused(self) -> list[ClosingAnswer]:
        """Records the server refused, with its reasons."""
        rows = self._db.execute(
            "SELECT client_id, status, code, message FROM closing_done "
            "WHERE status IN ('rejected', 'conflict') ORDER BY settled_at"
        )
        return [ClosingAnswer(*row) for row in rows]


def parse_answers(document: Any) -> list[ClosingAnswer]:
    """The per-record results of ``POST /api/v1/closings``."""
    try:
        return [
            ClosingAnswer(
                str(item["client_id"]),
                str(item["status"]),
                str(item.get("code") or ""),
                str(item.get("message") or ""),
            )
            for item in document["results"]
        ]
    except (KeyError, TypeError) as error:
        raise ScanError(f"jawaban /api/v1/closings tidak sesuai kontrak: {error!r}") from error


def push_closings(outbox: ClosingOutbox, api: ScanApi) -> tuple[int, int]:
    """Send every queued record; return (answered, refused). Network trouble keeps them."""
    answered = refused = 0
    while batch := outbox.pending():
        try:
            document = api.post_closings(batch)
        except SyncError as error:
            if getattr(error, "status", None) in (400, 422):  # never acceptable: set aside
                message = str(getattr(error, "message", error))
                answers = [
                    ClosingAnswer(r["client_id"], "rejected", "malformed", message) for r in batch
                ]
            else:
                raise
        else:
            answers = parse_answers(document)
        outbox.settle(answers)
        answered += len(answers)
        refused += sum(a.status in ("rejected", "conflict") for a in answers)
        if not answers:
            break
    return answered, refused
