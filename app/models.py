"""Import every model module so the metadata (and Alembic) sees all tables."""

from __future__ import annotations

from app.auth.models import DeviceToken, User
from app.closing.models import ClosingRecord
from app.custody.models import (
    Checkpoint,
    CustodyEvent,
    Device,
    FindingRow,
    ItemStateRow,
    LedgerEntry,
    TpsTallyRow,
)
from app.items.models import Item, LabelLog
from app.plan.models import (
    CustodyNode,
    Election,
    ItemType,
    LegCost,
    PlanLine,
    Race,
    Region,
    ReturnSchedule,
    RouteLeg,
    Tps,
)
from app.public.models import MerkleNode

__all__ = [
    "Checkpoint",
    "ClosingRecord",
    "CustodyEvent",
    "Device",
    "FindingRow",
    "ItemStateRow",
    "LedgerEntry",
    "LegCost",
    "MerkleNode",
    "TpsTallyRow",
    "CustodyNode",
    "DeviceToken",
    "Election",
    "Item",
    "ItemType",
    "LabelLog",
    "PlanLine",
    "ReturnSchedule",
    "Race",
    "Region",
    "RouteLeg",
    "Tps",
    "User",
]
