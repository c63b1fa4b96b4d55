"""Labelled physical items (one serial per unit) and the log of label actions."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import UTCDateTime, db
from app.timeutil import utcnow


class LabelAction(enum.StrEnum):
    """What was done to a label."""

    ISSUE = "issue"
    REPRINT = "reprint"
    VOID = "void"


class Item(db.Model):
    """One physical unit with a signed label: a box, a ballot bundle, a kit ..."""

    __tablename__ = "item"

    serial: Mapped[str] = mapped_column(String(16), primary_key=True)
    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"), index=True)
    item_type_code: Mapped[str] = mapped_column(ForeignKey("item_type.code"))
    race_kind: Mapped[str] = mapped_column(String(3), default="")
    destination: Mapped[str] = mapped_column(ForeignKey("custody_node.code"), index=True)
    kabkota_code: Mapped[str] = mapped_column(String(13), index=True)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    key_id: Mapped[str] = mapped_column(String(16))
    issued_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reprint_count: Mapped[int] = mapped_column(Integer, default=0)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    void_reason: Mapped[str | None] = mapped_column(Text)
    #: The voided serial this label replaces; one replacement per voided label.
    replaces: Mapped[str | None] = mapped_column(String(16), unique=True, index=True)


class LabelLog(db.Model):
    """Append-only record of issuing, reprinting and voiding labels."""

    __tablename__ = "label_log"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    serial: Mapped[str] = mapped_column(ForeignKey("item.serial"), index=True)
    action: Mapped[LabelAction] = mapped_column(Enum(LabelAction, native_enum=False, length=8))
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(Text, default="")
