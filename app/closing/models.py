"""The closing record a KPPS files after counting. Append-only: a correction is a new record."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, deferred, mapped_column

from app.extensions import UTCDateTime, db
from app.timeutil import utcnow


class ClosingRecord(db.Model):
    """Per TPS and race: the sheets from the C.Hasil form, the seals on the box, a photo.

    ``client_id`` is the device's id for the record (a resend is recognised by it);
    ``corrects`` names the record this one replaces. The latest record per TPS and
    race is the one that counts; none is ever updated or deleted.
    """

    __tablename__ = "closing_record"
    __table_args__ = (Index("ix_closing_record_tps_race", "tps", "race_kind"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"))
    tps: Mapped[str] = mapped_column(ForeignKey("tps.id"))
    race_kind: Mapped[str] = mapped_column(String(3))
    kabkota_code: Mapped[str] = mapped_column(String(13), index=True)
    received: Mapped[int] = mapped_column(Integer)
    used: Mapped[int] = mapped_column(Integer)
    invalid: Mapped[int] = mapped_column(Integer)
    spoiled: Mapped[int] = mapped_column(Integer)
    unused: Mapped[int] = mapped_column(Integer)
    voters_signed: Mapped[int] = mapped_column(Integer)
    reserve_drawn: Mapped[int] = mapped_column(Integer, default=0)
    reserve_note: Mapped[str] = mapped_column(String(300), default="")
    box_serial: Mapped[str | None] = mapped_column(String(16))
    seals: Mapped[list[str]] = mapped_column(JSON, default=list)
    corrects: Mapped[str | None] = mapped_column(String(36))
    note: Mapped[str] = mapped_column(Text, default="")
    photo: Mapped[bytes | None] = deferred(mapped_column(LargeBinary))
    photo_type: Mapped[str | None] = mapped_column(String(20))
    device_id: Mapped[str] = mapped_column(String(64))
    device_time: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("user_account.id"))
    # SHA-256 of what the device sent: tells a resend (duplicate) from a clash (conflict).
    content_digest: Mapped[str] = mapped_column(String(64))
