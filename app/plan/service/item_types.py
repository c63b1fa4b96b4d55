"""Item types: the quantity rules stored as data, seeded from the defaults."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.plan.models import ItemType, Unit
from app.plan.needs import DEFAULT_RULES, QuantityRule


def ensure_item_types(session: Session, rules: Iterable[QuantityRule] = DEFAULT_RULES) -> None:
    """Seed the default item types and rules where they are missing; never overwrite edits."""
    have = set(session.scalars(select(ItemType.code)))
    for rule in rules:
        if rule.code in have:
            continue
        session.add(
            ItemType(
                code=rule.code,
                name_id=rule.name_id,
                name_en=rule.name_en,
                unit=Unit(rule.unit),
                per_race=rule.per_race,
                per_tps=rule.per_tps,
                per_voter=rule.per_voter,
                reserve_percent=rule.reserve_percent,
                spare_per_kecamatan=rule.spare_per_kecamatan,
                fixed_reserve_per_race=rule.fixed_reserve_per_race,
                bundle_size=rule.bundle_size,
                labelled=rule.labelled,
                sort_order=rule.sort_order,
            )
        )
    session.commit()


def load_rules(session: Session) -> list[QuantityRule]:
    """Return the quantity rules as stored (the admin may have edited them)."""
    types = session.scalars(select(ItemType).order_by(ItemType.sort_order, ItemType.code))
    return [
        QuantityRule(
            code=t.code,
            name_id=t.name_id,
            name_en=t.name_en,
            unit=t.unit.value,
            per_race=t.per_race,
            per_tps=t.per_tps,
            per_voter=t.per_voter,
            reserve_percent=t.reserve_percent,
            spare_per_kecamatan=t.spare_per_kecamatan,
            fixed_reserve_per_race=t.fixed_reserve_per_race,
            bundle_size=t.bundle_size,
            labelled=t.labelled,
            sort_order=t.sort_order,
        )
        for t in types
    ]


def item_type_names(session: Session) -> dict[str, str]:
    """Indonesian names of the item types by code."""
    return {t.code: t.name_id for t in session.scalars(select(ItemType))}
