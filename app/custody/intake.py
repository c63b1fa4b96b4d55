"""The edge of ingestion: check each event's shape and verify its label, before any SQL."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import labels
from app.custody import rules
from app.custody.errors import CustodyError
from app.guard import MAX_INT32, bounded_instant, int_in_range

#: Label events (voided, replaced) are written by the server, never sent by a device.
LABEL_ACTIONS = frozenset({rules.Action.LABEL_VOID.value, rules.Action.LABEL_REPLACE.value})
ACTIONS = {a.value for a in rules.Action} - LABEL_ACTIONS
CONDITIONS = {c.value for c in rules.Condition}
MAX_BATCH = 500

_LABEL_CODES = {
    labels.BadSignature: "bad_signature",
    labels.UnknownKey: "unknown_key",
    labels.UnsupportedVersion: "unsupported_version",
}


class Rejected(CustodyError):
    """One event cannot be recorded; ``code`` and ``message`` go back to the device."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code  # type: ignore[misc]  # per instance, unlike the rules' errors


@dataclass
class ScanInput:
    """One event as the device sent it, checked for shape."""

    event_id: str
    device_seq: int
    device_time: datetime
    action: str
    node: str
    label: str | None
    serial: str | None
    quantity: int | None
    condition: str | None
    seals: tuple[str, ...]
    counterpart: str | None
    container_label: str | None
    target: str | None
    ref_event_id: str | None
    note: str
    digest: str
    counts: tuple[tuple[str, int], ...] = ()
    identified_by: str = "typed"


@dataclass
class ScanResult:
    """What happened to one event."""

    event_id: str
    status: str
    code: str = ""
    message: str = ""
    findings: list[dict[str, Any]] = field(default_factory=list)
    serial: str | None = None
    item: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of the scan API."""
        body: dict[str, Any] = {
            "event_id": self.event_id,
            "status": self.status,
            "code": self.code,
            "message": self.message,
            "findings": self.findings,
        }
        if self.serial:
            body["serial"] = self.serial
        if self.item:
            body["item"] = self.item  # what it is and where it goes, in words
        return body


def content_digest(raw: Mapping[str, Any]) -> str:
    """SHA-256 of the event as sent (sorted keys), to tell a resend from a clash."""
    return hashlib.sha256(
        json.dumps(raw, sort_keys=True, separators=(",", ":"), default=str).encode()
    ).hexdigest()


def _text(raw: Mapping[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    value = raw.get(name)
    if value is None or value == "":
        if required:
            raise Rejected("malformed", f"kolom '{name}' wajib diisi")
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise Rejected("malformed", f"kolom '{name}' harus teks (maks. {limit} karakter)")
    if "\x00" in value:
        raise Rejected("malformed", f"kolom '{name}' berisi karakter NUL")
    return value.strip()


def parse_event(raw: Any, actions: Collection[str] = ACTIONS) -> ScanInput:
    """Check one event's shape; raise Rejected("malformed", ...) naming the field."""
    if not isinstance(raw, dict):
        raise Rejected("malformed", "setiap event harus berupa objek JSON")
    event_id = _text(raw, "event_id", 36, required=True)
    try:
        event_id = str(uuid.UUID(str(event_id)))
    except ValueError:
        raise Rejected("malformed", "event_id harus UUID") from None
    seq = raw.get("device_seq")
    if not int_in_range(seq, 0, MAX_INT32):
        raise Rejected("malformed", f"device_seq harus bilangan bulat 0..{MAX_INT32}")
    device_time_text = raw.get("device_time")
    try:
        if not isinstance(device_time_text, str) or len(device_time_text) > 40:
            raise ValueError("not a short string")
        device_time = bounded_instant(device_time_text)
    except ValueError:
        raise Rejected(
            "malformed", "device_time harus waktu ISO-8601 antara tahun 2000 dan 2099"
        ) from None
    action = _text(raw, "action", 10, required=True)
    if action not in actions:
        raise Rejected("malformed", f"action tidak dikenal: {action!r}")
    node = _text(raw, "node", 16, required=True)
    assert node is not None
    label = _text(raw, "label", 2000)
    serial = _text(raw, "serial", 24)
    if not label and not serial:
        raise Rejected("malformed", "isi 'label' (teks QR) atau 'serial'")
    quantity = raw.get("quantity")
    if quantity is not None and (
        not isinstance(quantity, int) or isinstance(quantity, bool) or not 0 <= quantity <= 100_000
    ):
        raise Rejected("malformed", "quantity harus bilangan bulat 0..100000")
    condition = _text(raw, "condition", 16)
    if condition is not None and condition not in CONDITIONS:
        raise Rejected("malformed", f"condition harus salah satu dari {sorted(CONDITIONS)}")
    seals = raw.get("seals") or []
    if (
        not isinstance(seals, list)
        or len(seals) > 20
        or not all(isinstance(s, str) and 0 < len(s) <= 40 and "\x00" not in s for s in seals)
    ):
        raise Rejected("malformed", "seals harus daftar nomor segel (teks)")
    note = _text(raw, "note", 1000) or ""
    return ScanInput(
        event_id=event_id,
        device_seq=seq,
        device_time=device_time,
        action=action,
        node=node,
        label=label,
        serial=serial,
        quantity=quantity,
        condition=condition,
        seals=tuple(s.strip() for s in seals),
        counterpart=_text(raw, "counterpart", 120),
        container_label=_text(raw, "container", 2000),
        target=_text(raw, "target", 16),
        ref_event_id=_text(raw, "ref_event_id", 36),
        note=note,
        digest=content_digest(raw),
        counts=_counts(raw.get("counts")),
        identified_by=_identified_by(raw, label),
    )


#: How a scan identified its item: a verified TP1 label, its https form, a typed serial.
IDENTIFIED_BY = ("qr_signed", "qr_link", "typed")


def _identified_by(raw: Mapping[str, Any], label: str | None) -> str:
    """The client's word for it when given; else the label's form, or typed without one."""
    value = raw.get("identified_by")
    if value is None or value == "":
        if label is None:
            return "typed"  # old clients: no QR text, so a typed serial
        return "qr_link" if label[:8].upper() == "HTTPS://" else "qr_signed"
    if value not in IDENTIFIED_BY:
        raise Rejected("malformed", f"identified_by harus salah satu dari {list(IDENTIFIED_BY)}")
    if value != "typed" and label is None:
        raise Rejected("malformed", f"identified_by {value} perlu teks QR di kolom 'label'")
    return str(value)


def _counts(value: Any) -> tuple[tuple[str, int], ...]:
    """What a receipt confirmed inside a container: {"SURAT|GUB": 380, "KOTAK": 2}."""
    if value is None or value == {}:
        return ()
    if not isinstance(value, dict) or len(value) > 40:
        raise Rejected("malformed", "counts harus objek {jenis|pemilihan: jumlah} (maks. 40)")
    found = []
    for key, count in value.items():
        item_type, _, race = str(key).partition("|")
        if (
            not item_type.isalnum()
            or len(item_type) > 12
            or race not in ("", *(r.value for r in rules.Race))
            or not isinstance(count, int)
            or isinstance(count, bool)
            or not 0 <= count <= 100_000
        ):
            raise Rejected(
                "malformed", f"counts: {str(key)[:20]!r} harus JENIS|PEMILIHAN: 0..100000"
            )
        found.append((f"{item_type.upper()}|{race}", count))
    return tuple(sorted(found))


def serial_from_label(text_or_serial: str, keyring: labels.Keyring, *, verified: bool) -> str:
    """Verify a scanned label and return its serial (or canonicalise a typed serial)."""
    if not verified:
        try:
            return labels.parse_serial(text_or_serial)
        except labels.LabelError:
            raise Rejected("malformed", "nomor seri tidak sah") from None
    try:
        return labels.decode(text_or_serial, keyring).serial
    except labels.LabelError as exc:
        code = next((c for cls, c in _LABEL_CODES.items() if isinstance(exc, cls)), "malformed")
        message = {
            "bad_signature": "Tanda tangan label tidak sah: label palsu atau rusak.",
            "unknown_key": "Label ditandatangani kunci yang tidak dikenal.",
            "unsupported_version": "Versi label tidak didukung.",
        }.get(code, "Label tidak dapat dibaca sebagai label Tepat.")
        raise Rejected(code, message) from None
