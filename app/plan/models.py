"""Regions, elections, TPS, custody nodes, item types and the distribution plan."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Integer,
    Numeric,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.extensions import UTCDateTime, db
from app.timeutil import utcnow


class RegionLevel(enum.StrEnum):
    """Administrative level of a Kemendagri region code."""

    PROVINSI = "provinsi"
    KABKOTA = "kabkota"
    KECAMATAN = "kecamatan"
    DESA = "desa"


class RaceKind(enum.StrEnum):
    """The race an item belongs to; values are the codes printed on labels."""

    GUB = "GUB"
    BUP = "BUP"
    WAL = "WAL"


class NodeKind(enum.StrEnum):
    """Where custody can sit: KPU warehouse, PPK, PPS or KPPS."""

    GUDANG = "gudang"
    PPK = "ppk"
    PPS = "pps"
    KPPS = "kpps"


class Unit(enum.StrEnum):
    """How an item type is counted."""

    UNIT = "unit"
    LEMBAR = "lembar"
    BOTOL = "botol"
    SET = "set"


class Region(db.Model):
    """A province, kabupaten/kota, kecamatan or desa/kelurahan by its Kemendagri code."""

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(13), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    level: Mapped[RegionLevel] = mapped_column(Enum(RegionLevel, native_enum=False, length=12))
    parent_code: Mapped[str | None] = mapped_column(String(13), index=True)


class Election(db.Model):
    """An election event such as Pilkada 2024, with its election day (H)."""

    __tablename__ = "election"

    code: Mapped[str] = mapped_column(String(40), primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    election_day: Mapped[date] = mapped_column(Date)
    max_voters_per_tps: Mapped[int] = mapped_column(Integer, default=600)

    races: Mapped[list[Race]] = relationship(back_populates="election", order_by="Race.kind")


class Race(db.Model):
    """One race of an election (gubernur, bupati, wali kota) and the region it covers."""

    __tablename__ = "race"
    __table_args__ = (UniqueConstraint("election_code", "kind", "region_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"))
    kind: Mapped[RaceKind] = mapped_column(Enum(RaceKind, native_enum=False, length=3))
    region_code: Mapped[str] = mapped_column(ForeignKey("region.code"))
    name: Mapped[str] = mapped_column(String(160))

    election: Mapped[Election] = relationship(back_populates="races")


class Tps(db.Model):
    """A polling station: 13-digit id = desa code without dots + 3-digit number."""

    __tablename__ = "tps"

    id: Mapped[str] = mapped_column(String(13), primary_key=True)
    desa_code: Mapped[str] = mapped_column(ForeignKey("region.code"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    dpt: Mapped[int] = mapped_column(Integer)
    dptb: Mapped[int] = mapped_column(Integer, default=0)


class CustodyNode(db.Model):
    """A place custody can sit; each knows its parent, so every TPS has a route."""

    __tablename__ = "custody_node"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind: Mapped[NodeKind] = mapped_column(Enum(NodeKind, native_enum=False, length=8))
    name: Mapped[str] = mapped_column(String(160))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("custody_node.code"), index=True)
    region_code: Mapped[str] = mapped_column(String(13), index=True)


class ItemType(db.Model):
    """A kind of logistics item and its quantity rule (the rules are data, editable)."""

    __tablename__ = "item_type"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name_id: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(80))
    unit: Mapped[Unit] = mapped_column(Enum(Unit, native_enum=False, length=8))
    per_race: Mapped[bool] = mapped_column(Boolean, default=False)
    per_tps: Mapped[int] = mapped_column(Integer, default=0)
    per_voter: Mapped[bool] = mapped_column(Boolean, default=False)
    reserve_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2), default=Decimal("0"))
    spare_per_kecamatan: Mapped[int] = mapped_column(Integer, default=0)
    fixed_reserve_per_race: Mapped[int] = mapped_column(Integer, default=0)
    bundle_size: Mapped[int] = mapped_column(Integer, default=1)
    labelled: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(Integer, default=0)


class PlanLine(db.Model):
    """Planned quantity of one item type (and race) for one destination."""

    __tablename__ = "plan_line"
    __table_args__ = (
        UniqueConstraint("election_code", "destination", "item_type_code", "race_kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"), index=True)
    destination: Mapped[str] = mapped_column(ForeignKey("custody_node.code"), index=True)
    item_type_code: Mapped[str] = mapped_column(ForeignKey("item_type.code"))
    # "" when the item type is not per race: keeps the unique key free of NULLs.
    race_kind: Mapped[str] = mapped_column(String(3), default="")
    quantity: Mapped[int] = mapped_column(Integer)
    kabkota_code: Mapped[str] = mapped_column(String(13), index=True)


class RouteLeg(db.Model):
    """One leg between two custody nodes with its deadline (H-n at a local time)."""

    __tablename__ = "route_leg"
    __table_args__ = (UniqueConstraint("election_code", "from_node", "to_node"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"), index=True)
    from_node: Mapped[str] = mapped_column(ForeignKey("custody_node.code"), index=True)
    to_node: Mapped[str] = mapped_column(ForeignKey("custody_node.code"), index=True)
    day_offset: Mapped[int] = mapped_column(Integer)
    local_time: Mapped[time] = mapped_column(Time)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime)
    is_return: Mapped[bool] = mapped_column(Boolean, default=False)
    budget_idr: Mapped[int | None] = mapped_column(Integer)


class ReturnSchedule(db.Model):
    """The return deadline of one level of a kabupaten: ``from_kind`` sends back at H+n, hh:mm.

    Without a row the defaults apply (H+0 KPPS -> PPS, H+1 PPS -> PPK, PPK -> gudang
    after the kecamatan recapitulation); ``flask plan return`` edits them.
    """

    __tablename__ = "return_schedule"

    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"), primary_key=True)
    kabkota_code: Mapped[str] = mapped_column(String(13), primary_key=True)
    from_kind: Mapped[NodeKind] = mapped_column(
        Enum(NodeKind, native_enum=False, length=8), primary_key=True
    )
    day_offset: Mapped[int] = mapped_column(Integer)
    local_time: Mapped[time] = mapped_column(Time)


class LegCost(db.Model):
    """What one leg actually cost (boat hire, fuel, escort), recorded by the KPU. Append-only."""

    __tablename__ = "leg_cost"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    election_code: Mapped[str] = mapped_column(ForeignKey("election.code"), index=True)
    from_node: Mapped[str] = mapped_column(ForeignKey("custody_node.code"))
    to_node: Mapped[str] = mapped_column(ForeignKey("custody_node.code"), index=True)
    amount_idr: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(String(200), default="")
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
