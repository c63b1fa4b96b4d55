"""Closing records: check what the KPPS sent, store it once (append-only), read the latest.

A device sends a batch of records, each with its own ``client_id`` (a UUID it chose):
a resend of the same content is acknowledged as a duplicate, the same id with other
content is a conflict and is never stored. A correction is a new record that names
the one it corrects in ``corrects``; the latest record per TPS and race counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.auth.models import User
from app.closing.models import ClosingRecord
from app.guard import bounded_instant
from app.items.models import Item
from app.plan import codes
from app.plan.models import Election, Tps
from app.plan.service import races_at

MAX_BATCH = 100
#: A photo of the C.Hasil form, shrunk on the phone: a few hundred KB is plenty.
PHOTO_MAX_BYTES = 3 * 2**20
COUNTS = ("received", "used", "invalid", "spoiled", "unused", "voters_signed", "reserve_drawn")
COUNT_NAMES = {
    "received": "surat suara diterima",
    "used": "surat suara digunakan",
    "invalid": "suara tidak sah",
    "spoiled": "surat suara rusak/keliru coblos",
    "unused": "surat suara tidak digunakan",
    "voters_signed": "pemilih yang hadir (daftar hadir)",
    "reserve_drawn": "surat suara cadangan yang dipakai",
}


class ClosingRejected(Exception):
    """One record cannot be stored; ``code`` and ``message`` go back to the device."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class ClosingResult:
    """What happened to one record."""

    client_id: str
    status: str
    code: str = "ok"
    message: str = ""
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the closing API."""
        body: dict[str, Any] = {
            "client_id": self.client_id,
            "status": self.status,
            "code": self.code,
            "message": self.message,
        }
        if self.id:
            body["id"] = self.id
        return body


@dataclass
class ClosingInput:
    """One record as the device sent it, checked for shape."""

    client_id: str
    tps: str
    race: str
    counts: dict[str, int]
    seals: tuple[str, ...]
    box_label: str | None
    corrects: str | None
    note: str
    reserve_note: str
    device_time: datetime
    photo: bytes | None
    photo_type: str | None
    digest: str


def _digest(raw: dict[str, Any]) -> str:
    return hashlib.sha256(
        json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _text(raw: dict[str, Any], name: str, limit: int) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit or "\x00" in value:
        raise ClosingRejected("malformed", f"kolom '{name}' harus teks (maks. {limit} karakter)")
    return value.strip()


def _photo(raw: Any) -> tuple[bytes | None, str | None]:
    """A data URL or plain base64 of a JPEG/PNG/WebP; anything else is refused."""
    if raw in (None, ""):
        return None, None
    if not isinstance(raw, str) or len(raw) > PHOTO_MAX_BYTES * 4 // 3 + 100:
        raise ClosingRejected("malformed", "foto formulir terlalu besar (maks. 3 MB)")
    text = raw.split(",", 1)[1] if raw.startswith("data:") and "," in raw else raw
    try:
        data = base64.b64decode(text, validate=True)
        with Image.open(io.BytesIO(data)) as image:
            kind = (image.format or "").lower()
    except (binascii.Error, ValueError, UnidentifiedImageError, OSError):
        raise ClosingRejected("malformed", "foto formulir bukan gambar JPEG/PNG yang sah") from None
    if kind not in ("jpeg", "png", "webp"):
        raise ClosingRejected("malformed", "foto formulir harus JPEG, PNG atau WebP")
    return data, f"image/{kind}"


def parse_closing(raw: Any) -> ClosingInput:
    """Check one record's shape; raise ClosingRejected("malformed", ...) naming the field."""
    if not isinstance(raw, dict):
        raise ClosingRejected("malformed", "setiap catatan penutupan harus berupa objek JSON")
    try:
        client_id = str(uuid.UUID(str(raw.get("client_id") or "")))
    except ValueError:
        raise ClosingRejected("malformed", "client_id harus UUID") from None
    tps = _text(raw, "tps", 13)
    if not codes.TPS_ID.match(tps):
        raise ClosingRejected("malformed", "tps harus nomor TPS 13 digit")
    race = _text(raw, "race", 3).upper()
    if race not in ("GUB", "BUP", "WAL"):
        raise ClosingRejected("malformed", "race harus GUB, BUP atau WAL")
    counts: dict[str, int] = {}
    for name in COUNTS:
        value = raw.get(name, 0 if name == "reserve_drawn" else None)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100_000:
            raise ClosingRejected(
                "malformed", f"{COUNT_NAMES[name]} ('{name}') harus bilangan bulat 0..100000"
            )
        counts[name] = value
    seals = raw.get("seals") or []
    if (
        not isinstance(seals, list)
        or len(seals) > 20
        or not all(
            isinstance(s, str) and 0 < len(s.strip()) <= 40 and "\x00" not in s for s in seals
        )
    ):
        raise ClosingRejected("malformed", "seals harus daftar nomor segel (teks)")
    corrects = _text(raw, "corrects", 36) or None
    if corrects is not None:
        try:
            corrects = str(uuid.UUID(corrects))
        except ValueError:
            raise ClosingRejected("malformed", "corrects harus client_id catatan lama") from None
        if corrects == client_id:
            raise ClosingRejected("malformed", "catatan tidak dapat mengoreksi dirinya sendiri")
    try:
        device_time = bounded_instant(str(raw.get("device_time") or ""))
    except ValueError:
        raise ClosingRejected("malformed", "device_time harus waktu ISO-8601") from None
    photo, photo_type = _photo(raw.get("photo"))
    return ClosingInput(
        client_id=client_id,
        tps=tps,
        race=race,
        counts=counts,
        seals=tuple(s.strip() for s in seals),
        box_label=_text(raw, "box", 2000) or None,
        corrects=corrects,
        note=_text(raw, "note", 1000),
        reserve_note=_text(raw, "reserve_note", 300),
        device_time=device_time,
        photo=photo,
        photo_type=photo_type,
        digest=_digest(raw),
    )


def record_closings(
    session: Session,
    *,
    user: User,
    election: Election,
    device_id: str,
    raw_records: Sequence[Any],
    now: datetime,
    box_serial: Callable[[str], str],
) -> list[ClosingResult]:
    """Store a batch of closing records; one result per record, in order. Commits once.

    ``box_serial(text)`` turns a scanned box label (or typed serial) into its serial,
    raising ClosingRejected when the label is not genuine.
    """
    parsed: list[tuple[int, ClosingInput]] = []
    results: list[ClosingResult | None] = [None] * len(raw_records)
    for index, raw in enumerate(raw_records):
        try:
            parsed.append((index, parse_closing(raw)))
        except ClosingRejected as exc:
            client_id = str(raw.get("client_id", "")) if isinstance(raw, dict) else ""
            results[index] = ClosingResult(client_id, "rejected", exc.code, exc.message)
    for attempt in (1, 2):
        answers = list(results)
        _store(session, user, election, device_id, parsed, now, box_serial, answers)
        try:
            # The reconciliation findings of what was stored, in the same transaction.
            from app.closing.findings import file_sheet_findings

            file_sheet_findings(
                session,
                election,
                {
                    (record.tps, record.race)
                    for index, record in parsed
                    if (answer := answers[index]) is not None and answer.status == "accepted"
                },
                now,
            )
            session.commit()
        except IntegrityError:
            # Another request stored the same client id meanwhile: the second pass sees it
            # and answers duplicate or conflict.
            session.rollback()
            if attempt == 2:
                raise
            continue
        return [r for r in answers if r is not None]
    raise AssertionError("unreachable")


def _store(
    session: Session,
    user: User,
    election: Election,
    device_id: str,
    parsed: list[tuple[int, ClosingInput]],
    now: datetime,
    box_serial: Callable[[str], str],
    results: list[ClosingResult | None],
) -> None:
    ids = {p.client_id for _, p in parsed} | {p.corrects for _, p in parsed if p.corrects}
    stored = {
        r.client_id: r
        for r in session.scalars(select(ClosingRecord).where(ClosingRecord.client_id.in_(ids)))
    }
    tps_rows = {
        t.id: t for t in session.scalars(select(Tps).where(Tps.id.in_({p.tps for _, p in parsed})))
    }
    in_batch: dict[str, ClosingRecord] = {}
    for index, record in parsed:
        try:
            results[index] = _one(
                session,
                user,
                election,
                device_id,
                record,
                now,
                box_serial,
                stored,
                tps_rows,
                in_batch,
            )
        except ClosingRejected as exc:
            results[index] = ClosingResult(record.client_id, "rejected", exc.code, exc.message)


def _one(
    session: Session,
    user: User,
    election: Election,
    device_id: str,
    record: ClosingInput,
    now: datetime,
    box_serial: Callable[[str], str],
    stored: dict[str, ClosingRecord],
    tps_rows: dict[str, Tps],
    in_batch: dict[str, ClosingRecord],
) -> ClosingResult:
    previous = stored.get(record.client_id) or in_batch.get(record.client_id)
    if previous is not None:
        if previous.content_digest == record.digest:
            return ClosingResult(
                record.client_id,
                "duplicate",
                "duplicate",
                "Sudah diterima sebelumnya.",
                str(previous.id),
            )
        return ClosingResult(
            record.client_id,
            "conflict",
            "conflict",
            "ID catatan sudah dipakai untuk isi yang berbeda; tidak disimpan.",
        )
    tps = tps_rows.get(record.tps)
    if tps is None:
        raise ClosingRejected("unknown_tps", f"TPS {record.tps} tidak ada dalam rencana.")
    if not codes.within(record.tps, user.scope_code):
        raise ClosingRejected("out_of_scope", f"TPS {record.tps} di luar wilayah tugas Anda.")
    if record.race not in {r.kind.value for r in races_at(election, tps.desa_code)}:
        raise ClosingRejected(
            "race_not_held", f"Pemilihan {record.race} tidak diadakan di TPS {record.tps}."
        )
    if record.corrects is not None:
        earlier = stored.get(record.corrects) or in_batch.get(record.corrects)
        if earlier is None or (earlier.tps, earlier.race_kind) != (record.tps, record.race):
            raise ClosingRejected(
                "unknown_record",
                "Catatan yang dikoreksi tidak ada untuk TPS dan pemilihan ini.",
            )
    serial = None
    if record.box_label:
        serial = box_serial(record.box_label)
        box = session.get(Item, serial)
        if (
            box is None
            or box.item_type_code != "KOTAK"
            or box.destination != record.tps
            or (box.race_kind or record.race) != record.race
        ):
            raise ClosingRejected(
                "wrong_box",
                f"Kotak {serial} bukan kotak suara {record.race} untuk TPS {record.tps}.",
            )
    row = ClosingRecord(
        id=uuid.uuid4(),
        client_id=record.client_id,
        election_code=election.code,
        tps=record.tps,
        race_kind=record.race,
        kabkota_code=codes.kabkota_of(record.tps),
        box_serial=serial,
        seals=list(record.seals),
        corrects=record.corrects,
        note=record.note,
        reserve_note=record.reserve_note,
        photo=record.photo,
        photo_type=record.photo_type,
        device_id=device_id,
        device_time=record.device_time,
        recorded_at=now,
        recorded_by=user.id,
        content_digest=record.digest,
        **record.counts,
    )
    session.add(row)
    in_batch[record.client_id] = row
    return ClosingResult(record.client_id, "accepted", "ok", "Diterima.", str(row.id))


def latest_closings(
    session: Session, election_code: str, tps_ids: Iterable[str]
) -> dict[tuple[str, str], ClosingRecord]:
    """The record that counts per (TPS, race): the latest one no other record corrects.

    A record and its correction sent in one batch share ``recorded_at``, so time alone
    cannot order them: a record named in another's ``corrects`` never counts while the
    correction exists (if every record is corrected, a cycle, the latest recorded counts).
    """
    wanted = sorted(set(tps_ids))
    records: dict[tuple[str, str], list[ClosingRecord]] = {}
    for start in range(0, len(wanted), 900):  # SQLite allows ~999 bound parameters
        for row in session.scalars(
            select(ClosingRecord)
            .where(
                ClosingRecord.election_code == election_code,
                ClosingRecord.tps.in_(wanted[start : start + 900]),
            )
            .order_by(ClosingRecord.recorded_at, ClosingRecord.id)
        ):
            records.setdefault((row.tps, row.race_kind), []).append(row)
    latest: dict[tuple[str, str], ClosingRecord] = {}
    for key, rows in records.items():
        corrected = {row.corrects for row in rows if row.corrects}
        standing = [row for row in rows if row.client_id not in corrected]
        latest[key] = (standing or rows)[-1]
    return latest


def history(session: Session, election_code: str, tps: str) -> list[dict[str, Any]]:
    """Every record of a TPS, oldest first, with what each corrects (for the TPS page)."""
    return [
        record_dict(row)
        for row in session.scalars(
            select(ClosingRecord)
            .where(ClosingRecord.election_code == election_code, ClosingRecord.tps == tps)
            .order_by(ClosingRecord.recorded_at, ClosingRecord.id)
        )
    ]


def record_dict(row: ClosingRecord) -> dict[str, Any]:
    """The JSON form of a stored record (the photo only as a flag)."""
    return {
        "id": str(row.id),
        "client_id": row.client_id,
        "tps": row.tps,
        "race": row.race_kind,
        **{name: getattr(row, name) for name in COUNTS},
        "reserve_note": row.reserve_note,
        "box": row.box_serial,
        "seals": list(row.seals or []),
        "corrects": row.corrects,
        "note": row.note,
        "has_photo": row.photo_type is not None,
        "device_time": row.device_time.isoformat(),
        "recorded_at": row.recorded_at.isoformat(),
    }
