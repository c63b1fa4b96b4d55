"""Needs and plan lines: compute a kabupaten's plan from its TPS and the stored rules."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.errors import NotFound, ValidationFailed
from app.plan.models import Election, ItemType, PlanLine, Tps
from app.plan.needs import NeedLine, TpsFacts, compute_needs
from app.plan.service.elections import get_election, races_at
from app.plan.service.item_types import load_rules


def tps_facts(session: Session, election: Election, kabkota: str) -> list[TpsFacts]:
    """Return every TPS of a kabupaten with the races held there."""
    result = []
    for tps in session.scalars(
        select(Tps).where(Tps.id.like(kabkota.replace(".", "") + "%")).order_by(Tps.id)
    ):
        races = tuple(sorted(r.kind.value for r in races_at(election, tps.desa_code)))
        kec = tps.desa_code.rsplit(".", 1)[0]
        result.append(TpsFacts(tps.id, kec, tps.dpt, tps.dptb, races))
    return result


def rebuild_plan(session: Session, election: Election, kabkota: str) -> int:
    """Recompute every plan line of a kabupaten from its TPS and the stored rules."""
    # Batches that hold the kabupaten's plan finish first; later ones build it anew.
    from app.custody import counts  # the plan does not import custody at module level

    counts.bump_plan(session, kabkota)
    lines = compute_needs(load_rules(session), tps_facts(session, election, kabkota), kabkota)
    session.execute(
        delete(PlanLine).where(
            PlanLine.election_code == election.code, PlanLine.kabkota_code == kabkota
        )
    )
    if lines:
        session.execute(
            PlanLine.__table__.insert(),
            [
                {
                    "id": uuid.uuid4(),
                    "election_code": election.code,
                    "destination": line.destination,
                    "item_type_code": line.item_type,
                    "race_kind": line.race,
                    "quantity": line.quantity,
                    "kabkota_code": kabkota,
                }
                for line in lines
            ],
        )
    session.flush()
    return len(lines)


def plan_lines(session: Session, election_code: str, kabkota: str) -> list[NeedLine]:
    """Return the stored plan of a kabupaten as pure need lines."""
    stmt = select(PlanLine).where(
        PlanLine.election_code == election_code, PlanLine.kabkota_code == kabkota
    )
    return [
        NeedLine(p.destination, p.item_type_code, p.race_kind, p.quantity)
        for p in session.scalars(stmt)
    ]


def edit_rule(
    session: Session, election_code: str, code: str, changes: dict[str, object]
) -> dict[str, int]:
    """Change an item type's rule and rebuild the plan of every kabupaten that has TPS."""
    item_type = session.get(ItemType, code)
    if item_type is None:
        raise NotFound(f"Jenis barang {code!r} tidak dikenal.")
    if not changes:
        raise ValidationFailed("Tidak ada yang diubah.")
    for name, value in changes.items():
        setattr(item_type, name, Decimal(str(value)) if name == "reserve_percent" else value)
    election = get_election(session, election_code)
    kabupatens = sorted(
        {tps_id[:2] + "." + tps_id[2:4] for tps_id in session.scalars(select(Tps.id))}
    )
    counts = {kab: rebuild_plan(session, election, kab) for kab in kabupatens}
    from app.custody import quantities  # quantity findings against the rebuilt plans

    for kab in kabupatens:
        quantities.rebuild(session, election, kab)
    session.commit()
    return counts
