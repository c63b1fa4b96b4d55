"""Per-TPS tallies, derived from the items destined there and their states."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.custody import codec, rules
from app.custody.chunks import chunked, rows_in, scalars_in
from app.custody.models import ItemStateRow, TpsTallyRow
from app.custody.planview import to_rules_item
from app.items.models import Item
from app.plan import codes


def ensure_tallies(
    session: Session, destinations: Iterable[str], tally_rows: dict[str, TpsTallyRow]
) -> None:
    """Create missing tally rows from every item destined there and its state."""
    missing = set(destinations) - set(tally_rows)
    if not missing:
        return
    items = scalars_in(session, select(Item), Item.destination, missing)
    states = {
        r.serial: codec.state_from_dict(r.state)
        for r in scalars_in(
            session, select(ItemStateRow), ItemStateRow.serial, [i.serial for i in items]
        )
    }
    computed = rules.tally_items([to_rules_item(i) for i in items], states)
    for destination in sorted(missing):
        tally = computed.get(destination) or rules.TpsTally(destination)
        kab = codes.kabkota_of(destination)
        row = TpsTallyRow(tps=destination, kabkota_code=kab, tally=codec.tally_to_dict(tally))
        session.add(row)
        tally_rows[destination] = row
    session.flush()


def forget_tallies(session: Session, destinations: Iterable[str]) -> None:
    """Rebuild derived tallies after items were issued or voided there: the desk reads
    every TPS's tally and never rebuilds one from the items (that grows with the region)."""
    wanted = set(destinations)
    for chunk in chunked(wanted):
        session.execute(TpsTallyRow.__table__.delete().where(TpsTallyRow.tps.in_(chunk)))
    for chunk in chunked(wanted, 500):  # a few hundred TPS of items at a time
        ensure_tallies(session, chunk, {})
    # Their quantity findings follow the new tallies (app.custody.quantities).
    from app.custody import quantities
    from app.plan.models import Election

    by_kab: dict[tuple[str, str], set[str]] = {}
    for election_code, destination in rows_in(
        session, select(Item.election_code, Item.destination).distinct(), Item.destination, wanted
    ):
        by_kab.setdefault((election_code, codes.kabkota_of(destination)), set()).add(destination)
    for (election_code, kab), destinations in sorted(by_kab.items()):
        election = session.get(Election, election_code)
        if election is not None:
            for chunk in chunked(destinations, 500):
                quantities.refresh(session, election, kab, chunk)
