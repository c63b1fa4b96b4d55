"""What the Ingestor locks and reads for a batch: its items' rows, containers, states."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.custody import codec, rules
from app.custody.chunks import chunked, scalars_in
from app.custody.models import ItemStateRow


class BatchLoad:
    """Mixin of :class:`app.custody.service.Ingestor`: row locks and the reads they guard."""

    session: Session
    _before: dict[str, rules.ItemState]

    def _parsed(self, state_rows: Mapping[str, Any]) -> dict[str, rules.ItemState]:
        """The stored states, parsed once; the first seen in a batch is what it counts from."""
        parsed = {s: codec.state_from_dict(r.state) for s, r in state_rows.items()}
        for serial, state in parsed.items():
            self._before.setdefault(serial, state)
        return parsed

    def _lock(self, column: Any, keys: Iterable[str]) -> None:
        """PostgreSQL: lock these rows until commit, in key order (no deadlock between
        batches that lock in one round; a crossing of two rounds is retried)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        for chunk in chunked(keys):
            self.session.execute(
                select(column)
                .where(column.in_(chunk))
                .order_by(column)
                .with_for_update(key_share=True)  # FOR NO KEY UPDATE: inserts may reference
            )

    def _containers(self, serials: set[str]) -> set[str]:
        """The containers the given items are packed in (PostgreSQL only: for the locks)."""
        if self.session.get_bind().dialect.name != "postgresql":
            return set()
        return {
            c
            for c in scalars_in(
                self.session,
                select(ItemStateRow.container).where(ItemStateRow.container.is_not(None)),
                ItemStateRow.serial,
                serials,
            )
        }

    def _closure(self, serials: set[str]) -> set[str]:
        """Everything inside the given containers (transitively) and their containers."""
        found = set(serials)
        frontier = set(serials)
        while frontier:
            inner = set(
                scalars_in(
                    self.session,
                    select(ItemStateRow.serial),
                    ItemStateRow.container,
                    frontier,
                )
            )
            outer = {
                c
                for c in scalars_in(
                    self.session,
                    select(ItemStateRow.container),
                    ItemStateRow.serial,
                    frontier,
                )
                if c
            }
            frontier = (inner | outer) - found
            found |= frontier
        return found
